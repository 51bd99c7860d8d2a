/** The git side of the local GitHub: plumbing on the bare repositories, and `git http-backend` for smart HTTP. */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { join } from 'node:path'

export interface GitResult {
  code: number
  stdout: Buffer
  stderr: string
}

/** A git command failed; the message holds its stderr. */
export class GitCommandError extends Error {
  override name = 'GitCommandError'
  constructor(
    message: string,
    readonly result: GitResult
  ) {
    super(message)
  }
}

/** Everything git needs to run here without reading the machine's or the user's configuration. */
export const QUIET_GIT_ENV: Record<string, string> = {
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_TERMINAL_PROMPT: '0',
  LC_ALL: 'C'
}

export function gitEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    ...QUIET_GIT_ENV,
    ...extra
  }
}

/** Run git in `dir`; never throws for a non-zero exit. */
export function runGit(
  dir: string,
  args: string[],
  options: { input?: Buffer | string; env?: Record<string, string> } = {}
): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd: dir, env: gitEnv(options.env), stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk))
    child.on('error', reject)
    child.on('close', code =>
      resolve({ code: code ?? 1, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') })
    )
    child.stdin.on('error', () => undefined)
    child.stdin.end(options.input)
  })
}

export interface Person {
  name: string
  email: string
  /** ISO 8601. */
  date: string
}

export interface CommitObject {
  sha: string
  tree: string
  parents: string[]
  author: Person
  committer: Person
  message: string
}

export interface TreeEntry {
  mode: string
  type: 'blob' | 'tree' | 'commit'
  sha: string
  path: string
  /** Blobs only. */
  size?: number
}

/** One change to a tree: content or an existing object at `path`, or `sha: null` to delete it. */
export type TreeChange =
  { path: string; mode: string; type: 'blob' | 'tree' | 'commit'; sha: string } | { path: string; sha: null }

const SHA = /^[0-9a-f]{40}$/

/** A bare repository on disk and the plumbing the server needs from it. */
export class BareRepo {
  constructor(readonly dir: string) {}

  async run(
    args: string[],
    options: { input?: Buffer | string; env?: Record<string, string> } = {}
  ): Promise<string> {
    const result = await runGit(this.dir, args, options)
    if (result.code !== 0) {
      throw new GitCommandError(
        `git ${args.join(' ')} failed (${result.code}): ${result.stderr.trim()}`,
        result
      )
    }
    return result.stdout.toString('utf8')
  }

  /** The commit a branch, tag or sha names, or undefined. */
  async resolveCommit(revision: string): Promise<string | undefined> {
    if (revision.startsWith('-')) return undefined
    const result = await runGit(this.dir, [
      'rev-parse',
      '--verify',
      '--quiet',
      '--end-of-options',
      `${revision}^{commit}`
    ])
    return result.code === 0 ? result.stdout.toString().trim() : undefined
  }

  /** What a ref points at, or undefined. */
  async readRef(ref: string): Promise<string | undefined> {
    const result = await runGit(this.dir, ['rev-parse', '--verify', '--quiet', '--end-of-options', ref])
    return result.code === 0 ? result.stdout.toString().trim() : undefined
  }

  /** Full ref names under a prefix ('refs/heads/'), with their targets and types. */
  async listRefs(prefix: string): Promise<Array<{ ref: string; sha: string; type: string }>> {
    const out = await this.run(['for-each-ref', '--format=%(refname) %(objectname) %(objecttype)', prefix])
    return out
      .split('\n')
      .filter(Boolean)
      .map(line => {
        const [ref = '', sha = '', type = ''] = line.split(' ')
        return { ref, sha, type }
      })
      .filter(entry => entry.ref === prefix || entry.ref.startsWith(prefix))
  }

  async objectType(sha: string): Promise<string | undefined> {
    if (!SHA.test(sha)) return undefined
    const result = await runGit(this.dir, ['cat-file', '-t', sha])
    return result.code === 0 ? result.stdout.toString().trim() : undefined
  }

  /** Compare-and-swap a ref: `old` undefined means "must not exist", null means "any value". */
  async updateRef(ref: string, sha: string, old: string | undefined | null): Promise<boolean> {
    const args = ['update-ref', ref, sha]
    if (old !== null) args.push(old ?? '0'.repeat(40))
    return (await runGit(this.dir, args)).code === 0
  }

  /**
   * Update, create and delete refs in one git ref transaction: all or none. Each `old` is checked inside the
   * transaction (a commit, or null for "must not exist"); `sha` null deletes.
   */
  async updateRefsAtomically(
    updates: Array<{ ref: string; sha: string | null; old: string | null }>
  ): Promise<boolean> {
    const zero = '0'.repeat(40)
    const lines = updates.map(
      update =>
        `${update.sha === null ? `delete ${update.ref}` : `update ${update.ref} ${update.sha}`} ${update.old ?? zero}\n`
    )
    return (await runGit(this.dir, ['update-ref', '--stdin'], { input: lines.join('') })).code === 0
  }

  async deleteRef(ref: string, old: string): Promise<boolean> {
    return (await runGit(this.dir, ['update-ref', '-d', ref, old])).code === 0
  }

  async readCommit(sha: string): Promise<CommitObject | undefined> {
    if ((await this.objectType(sha)) !== 'commit') return undefined
    const raw = await this.run(['cat-file', 'commit', sha])
    return parseCommit(sha, raw)
  }

  async readBlob(sha: string): Promise<Buffer | undefined> {
    if ((await this.objectType(sha)) !== 'blob') return undefined
    return (await runGit(this.dir, ['cat-file', 'blob', sha])).stdout
  }

  async writeBlob(content: Buffer): Promise<string> {
    return (await this.run(['hash-object', '-w', '--stdin'], { input: content })).trim()
  }

  /** Entries of a tree (recursively with `recursive`, directories included as they are on GitHub). */
  async listTree(
    treeish: string,
    options: { recursive?: boolean; path?: string } = {}
  ): Promise<TreeEntry[]> {
    const args = ['ls-tree', '-z', '--long', '--full-tree']
    if (options.recursive) args.push('-r', '-t')
    args.push(treeish)
    if (options.path) args.push('--', options.path)
    const out = await this.run(args)
    return out
      .split('\0')
      .filter(Boolean)
      .map(line => {
        const tab = line.indexOf('\t')
        const [mode = '', type = '', sha = '', size = '-'] = line.slice(0, tab).split(/\s+/)
        const entry: TreeEntry = { mode, type: type as TreeEntry['type'], sha, path: line.slice(tab + 1) }
        if (type === 'blob') entry.size = Number(size)
        return entry
      })
  }

  /** The entry at `path` in a commit's tree, or undefined. */
  async entryAt(commit: string, path: string): Promise<TreeEntry | undefined> {
    if (path === '') return { mode: '040000', type: 'tree', sha: await this.treeOf(commit), path: '' }
    const entries = await this.listTree(commit, { path })
    return entries.find(entry => entry.path === path)
  }

  async treeOf(commit: string): Promise<string> {
    return (await this.run(['rev-parse', `${commit}^{tree}`])).trim()
  }

  /** A new tree: `base` (or empty) with `changes` applied, written through a private index file. */
  async writeTree(base: string | undefined, changes: TreeChange[]): Promise<string> {
    const index = join(this.dir, `index-${randomBytes(6).toString('hex')}`)
    const env = { GIT_INDEX_FILE: index }
    try {
      await this.run(base ? ['read-tree', base] : ['read-tree', '--empty'], { env })
      for (const change of changes) {
        const existing = (await this.run(['ls-files', '-z', '--', change.path], { env }))
          .split('\0')
          .filter(path => path === change.path || path.startsWith(`${change.path}/`))
        if (existing.length > 0) {
          // Mode 0 removes an entry; --force-remove would want a work tree.
          await this.run(['update-index', '-z', '--index-info'], {
            env,
            input: existing.map(path => `0 ${'0'.repeat(40)}\t${path}\0`).join('')
          })
        }
        if (change.sha === null) continue
        if (change.type === 'tree') {
          await this.run(['read-tree', `--prefix=${change.path}/`, change.sha], { env })
        } else {
          await this.run(['update-index', '--add', '--replace', '-z', '--index-info'], {
            env,
            input: `${change.mode} ${change.sha}\t${change.path}\0`
          })
        }
      }
      return (await this.run(['write-tree'], { env })).trim()
    } finally {
      await rm(index, { force: true })
    }
  }

  async commitTree(options: {
    tree: string
    parents: string[]
    message: string
    author: Person
    committer: Person
  }): Promise<string> {
    const args = ['commit-tree', options.tree]
    for (const parent of options.parents) args.push('-p', parent)
    const env = {
      GIT_AUTHOR_NAME: options.author.name,
      GIT_AUTHOR_EMAIL: options.author.email,
      GIT_AUTHOR_DATE: options.author.date,
      GIT_COMMITTER_NAME: options.committer.name,
      GIT_COMMITTER_EMAIL: options.committer.email,
      GIT_COMMITTER_DATE: options.committer.date
    }
    return (await this.run(args, { input: options.message, env })).trim()
  }

  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    return (await runGit(this.dir, ['merge-base', '--is-ancestor', ancestor, descendant])).code === 0
  }

  async mergeBase(a: string, b: string): Promise<string | undefined> {
    const result = await runGit(this.dir, ['merge-base', a, b])
    return result.code === 0 ? result.stdout.toString().trim() : undefined
  }

  /** Commits reachable from `head` and not from `exclude`, newest first, optionally touching `path`. */
  async revList(
    head: string,
    options: { exclude?: string; path?: string; since?: string; until?: string } = {}
  ) {
    const args = ['rev-list', head]
    if (options.exclude) args.push(`^${options.exclude}`)
    if (options.since) args.push(`--since=${options.since}`)
    if (options.until) args.push(`--until=${options.until}`)
    if (options.path) args.push('--', options.path)
    return (await this.run(args)).split('\n').filter(Boolean)
  }

  /** Changed files between two commits with line counts, as GitHub's diff entries need them. */
  async diffFiles(
    from: string,
    to: string
  ): Promise<
    Array<{
      status: string
      path: string
      previous?: string
      additions: number
      deletions: number
      sha: string | null
    }>
  > {
    const names = (await this.run(['diff', '-z', '--name-status', '--no-renames', from, to])).split('\0')
    const stats = (await this.run(['diff', '-z', '--numstat', '--no-renames', from, to])).split('\0')
    const counts = new Map<string, { additions: number; deletions: number }>()
    for (const line of stats.filter(Boolean)) {
      const [additions = '0', deletions = '0', path = ''] = line.split('\t')
      counts.set(path, { additions: Number(additions) || 0, deletions: Number(deletions) || 0 })
    }
    const files = []
    for (let i = 0; i + 1 < names.length; i += 2) {
      const status = names[i] ?? ''
      const path = names[i + 1] ?? ''
      if (!status) continue
      const entry = status === 'D' ? undefined : await this.entryAt(to, path)
      files.push({
        status,
        path,
        ...(counts.get(path) ?? { additions: 0, deletions: 0 }),
        sha: entry?.sha ?? null
      })
    }
    return files
  }

  /** The unified diff of one file between two commits (hunks only, as GitHub's `patch`). */
  async patch(from: string, to: string, path: string): Promise<string> {
    const out = await this.run(['diff', '--no-color', '--no-renames', from, to, '--', path])
    const start = out.indexOf('\n@@')
    return start < 0 ? '' : out.slice(start + 1).replace(/\n$/, '')
  }

  /** True when `head` merges into `base` without conflicts. */
  async mergesCleanly(base: string, head: string): Promise<boolean> {
    const result = await runGit(this.dir, ['merge-tree', '--write-tree', '--no-messages', base, head])
    return result.code === 0
  }
}

function parseCommit(sha: string, raw: string): CommitObject {
  const split = raw.indexOf('\n\n')
  const header = split < 0 ? raw : raw.slice(0, split)
  const message = split < 0 ? '' : raw.slice(split + 2)
  const parents: string[] = []
  let tree = ''
  let author: Person = { name: '', email: '', date: '' }
  let committer: Person = author
  for (const line of header.split('\n')) {
    const space = line.indexOf(' ')
    const key = line.slice(0, space)
    const value = line.slice(space + 1)
    if (key === 'tree') tree = value
    else if (key === 'parent') parents.push(value)
    else if (key === 'author') author = parsePerson(value)
    else if (key === 'committer') committer = parsePerson(value)
  }
  return { sha, tree, parents, author, committer, message }
}

function parsePerson(value: string): Person {
  const match = /^(.*) <(.*)> (\d+) ([+-])(\d\d)(\d\d)$/.exec(value)
  if (!match) return { name: value, email: '', date: new Date(0).toISOString() }
  const [, name = '', email = '', seconds = '0', sign, hours = '0', minutes = '0'] = match
  const offset = (sign === '-' ? -1 : 1) * (Number(hours) * 60 + Number(minutes))
  const local = new Date(Number(seconds) * 1000 + offset * 60_000).toISOString().slice(0, 19)
  const zone = offset === 0 ? 'Z' : `${sign}${hours}:${minutes}`
  return { name, email, date: `${local}${zone}` }
}

/** GitHub's answer to a push that touches a protected branch, from a pre-receive hook like theirs. */
const PRE_RECEIVE_HOOK = `#!/bin/sh
# Written by the local GitHub: refuse updates of protected branches as GitHub does (GH006).
status=0
while read -r old new ref; do
  if [ -f gh-protected-refs ] && grep -qxF "$ref" gh-protected-refs; then
    echo "error: GH006: Protected branch update failed for $ref." >&2
    echo "error: Changes must be made through a pull request." >&2
    status=1
  fi
done
exit $status
`

/** Create a bare repository with the hook that enforces branch protection. */
export async function initBareRepo(dir: string, defaultBranch: string): Promise<BareRepo> {
  await mkdir(dir, { recursive: true })
  const repo = new BareRepo(dir)
  await repo.run(['init', '--quiet', '--bare', `--initial-branch=${defaultBranch}`])
  // Packs as GitHub keeps them do not matter; a quiet repository does.
  await repo.run(['config', 'gc.auto', '0'])
  await repo.run(['config', 'receive.denyNonFastForwards', 'false'])
  const hook = join(dir, 'hooks', 'pre-receive')
  await writeFile(hook, PRE_RECEIVE_HOOK)
  await chmod(hook, 0o755)
  return repo
}

/** Keep the hook's list of protected refs in step with the server's. */
export async function writeProtectedRefs(repo: BareRepo, refs: string[]): Promise<void> {
  await writeFile(join(repo.dir, 'gh-protected-refs'), refs.map(ref => `${ref}\n`).join(''))
}

const HTTP_BACKEND_TIMEOUT_MS = 60_000

/**
 * Serve one smart-HTTP request with `git http-backend` (CGI). `pathInfo` is '/owner/name.git/info/refs' or
 * similar, relative to `projectRoot`. A pre-receive rejection is reported the way GitHub words it.
 */
export function serveGit(
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
  options: {
    projectRoot: string
    pathInfo: string
    query: string
    remoteUser?: string
    env?: Record<string, string>
  }
): Promise<number> {
  return new Promise((resolve, reject) => {
    const env = gitEnv({
      GIT_PROJECT_ROOT: options.projectRoot,
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: options.pathInfo,
      REQUEST_METHOD: req.method ?? 'GET',
      QUERY_STRING: options.query,
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      REMOTE_ADDR: '127.0.0.1',
      ...(options.remoteUser ? { REMOTE_USER: options.remoteUser } : {}),
      ...(req.headers['content-encoding']
        ? { HTTP_CONTENT_ENCODING: String(req.headers['content-encoding']) }
        : {}),
      ...(req.headers['git-protocol'] ? { GIT_PROTOCOL: String(req.headers['git-protocol']) } : {}),
      ...options.env
    })
    const child = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'pipe'] })
    const timer = setTimeout(() => child.kill('SIGKILL'), HTTP_BACKEND_TIMEOUT_MS)
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk))
    child.on('error', error => {
      clearTimeout(timer)
      reject(error)
    })
    child.on('close', () => {
      clearTimeout(timer)
      const output = Buffer.concat(out)
      const end = output.indexOf('\r\n\r\n')
      if (end < 0) {
        res.writeHead(500, { 'content-type': 'text/plain' })
        res.end(`git http-backend gave no response: ${Buffer.concat(err).toString()}`)
        resolve(500)
        return
      }
      let status = 200
      const headers: Record<string, string> = {}
      for (const line of output.subarray(0, end).toString('latin1').split('\r\n')) {
        const colon = line.indexOf(':')
        const name = line.slice(0, colon).trim().toLowerCase()
        const value = line.slice(colon + 1).trim()
        if (name === 'status') status = Number.parseInt(value, 10) || 500
        else if (name) headers[name] = value
      }
      let payload: Buffer = output.subarray(end + 4)
      if (options.pathInfo.endsWith('/git-receive-pack')) payload = asGitHubWordsIt(payload)
      res.writeHead(status, headers)
      res.end(payload)
      resolve(status)
    })
    child.stdin.on('error', () => undefined)
    child.stdin.end(body)
  })
}

/**
 * receive-pack reports a hook's refusal as "pre-receive hook declined"; GitHub's reads "protected branch hook
 * declined". The report is pkt-lines, inside side-band channel 1 when the client asked for side-band.
 */
export function asGitHubWordsIt(payload: Buffer): Buffer {
  const from = 'pre-receive hook declined'
  if (!payload.includes(from)) return payload
  const packets = readPackets(payload)
  if (!packets) return payload
  const sideBand = packets.some(p => p !== null && p.length > 0 && (p[0] === 1 || p[0] === 2 || p[0] === 3))
  const rewrite = (data: Buffer): Buffer =>
    Buffer.from(data.toString('latin1').replaceAll(from, 'protected branch hook declined'), 'latin1')
  if (!sideBand) return writePackets(packets.map(p => (p === null ? null : rewrite(p))))
  // Reassemble channel 1, rewrite the inner report, and send it back as one channel-1 packet per inner line.
  const inner = Buffer.concat(
    packets.filter((p): p is Buffer => p !== null && p[0] === 1).map(p => p.subarray(1))
  )
  const report = readPackets(inner)
  if (!report) return payload
  const rewritten = writePackets(report.map(p => (p === null ? null : rewrite(p))))
  const out: Array<Buffer | null> = []
  let reportWritten = false
  for (const packet of packets) {
    if (packet !== null && packet[0] === 1) {
      if (!reportWritten) {
        for (let i = 0; i < rewritten.length; i += 65515) {
          out.push(Buffer.concat([Buffer.from([1]), rewritten.subarray(i, i + 65515)]))
        }
        reportWritten = true
      }
      continue
    }
    out.push(packet)
  }
  return writePackets(out)
}

/** Packets of a pkt-line stream (null for a flush), or undefined when it is not one. */
function readPackets(data: Buffer): Array<Buffer | null> | undefined {
  const packets: Array<Buffer | null> = []
  let offset = 0
  while (offset < data.length) {
    const length = Number.parseInt(data.subarray(offset, offset + 4).toString('latin1'), 16)
    if (Number.isNaN(length) || (length > 0 && length < 4) || offset + Math.max(length, 4) > data.length)
      return undefined
    packets.push(length === 0 ? null : data.subarray(offset + 4, offset + length))
    offset += Math.max(length, 4)
  }
  return packets
}

function writePackets(packets: Array<Buffer | null>): Buffer {
  return Buffer.concat(
    packets.map(packet =>
      packet === null
        ? Buffer.from('0000')
        : Buffer.concat([Buffer.from((packet.length + 4).toString(16).padStart(4, '0')), packet])
    )
  )
}
