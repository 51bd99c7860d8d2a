import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { runAction, shownText, type ActionResult } from '../support/action-runner.js'
import { startGitHub, type LocalGitHub } from '../../tools/local-github/index.js'

// Hostile input through the committed bundle, run as the runner runs it. Each case must end in exit code 1, one
// `::error::` saying what is wrong, no stack trace, nothing written anywhere, and no token in anything written.

const execFileAsync = promisify(execFile)
const IMAGE = 'ghcr.io/octo/app'
const DIGEST = `sha256:${'d'.repeat(64)}`
const TOKEN = 'ghs_hostileCaseToken0123456789abcdefABCD'
const pod = (image = `${IMAGE}:1.0.0`) =>
  `apiVersion: v1\nkind: Pod\nmetadata:\n  name: app\nspec:\n  containers:\n    - name: app\n      image: ${image}\n`

type Setup = (workspace: string, outside: string) => Promise<void>

async function files(dir: string, entries: Record<string, string | Buffer>): Promise<void> {
  for (const [name, content] of Object.entries(entries)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true })
    await writeFile(path.join(dir, name), content)
  }
}

/** Every entry under `dir` with its bytes (a symlink as its target), to prove nothing was written. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {}
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const full = path.join(entry.parentPath, entry.name)
    const rel = path.relative(dir, full)
    if (entry.isSymbolicLink()) result[rel] = `-> ${await readlink(full)}`
    else if (entry.isFile()) result[rel] = (await readFile(full)).toString('base64')
    else if (entry.isFIFO()) result[rel] = 'fifo'
  }
  return result
}

/** Files under `dir` whose bytes hold any of `secrets`. */
async function filesHolding(dir: string, secrets: string[]): Promise<string[]> {
  const found: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue
    const full = path.join(entry.parentPath, entry.name)
    const bytes = await readFile(full)
    if (secrets.some(secret => bytes.includes(secret))) found.push(full)
  }
  return found
}

const SECRETS = [TOKEN, Buffer.from(`x-access-token:${TOKEN}`).toString('base64')]

const results: ActionResult[] = []
const dirs: string[] = []
afterAll(async () => {
  for (const result of results) await result.cleanup()
  for (const dir of dirs) await rm(dir, { recursive: true, force: true })
})

async function runIn(
  setup: Setup,
  inputs: Record<string, string>
): Promise<{ result: ActionResult; before: Record<string, string>; workspace: string; outside: string }> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'hostile-'))
  dirs.push(root)
  const workspace = path.join(root, 'workspace')
  const outside = path.join(root, 'outside')
  await mkdir(path.join(workspace, 'gitops'), { recursive: true })
  await files(outside, { 'secret.yaml': pod(), credentials: `token=${TOKEN}\n` })
  await setup(workspace, outside)
  const before = await snapshot(root)
  const result = await runAction({
    actionDir: 'actions/bump-manifest',
    workspace,
    inputs: { image: IMAGE, digest: DIGEST, path: 'gitops', paths: 'apps', push: 'none', ...inputs },
    context: { repository: 'octo/app', token: TOKEN },
    timeoutMs: 60_000
  })
  results.push(result)
  return { result, before, workspace, outside }
}

const cases: Array<[string, Setup, Record<string, string>, RegExp]> = [
  [
    'a file that mentions the image but is not UTF-8',
    ws =>
      files(ws, {
        'gitops/apps/good.yaml': pod(),
        'gitops/apps/latin1.yaml': Buffer.concat([Buffer.from(pod()), Buffer.from('# caf\xe9\n', 'latin1')])
      }),
    {},
    /apps\/latin1\.yaml is not UTF-8 text/
  ],
  [
    'path naming a file outside the workspace (/etc/passwd)',
    async () => undefined,
    { path: '/etc/passwd' },
    /input 'path': '\/etc\/passwd' resolves outside the workspace/
  ],
  [
    'path naming a file inside the workspace',
    ws => files(ws, { 'gitops/apps/app.yaml': pod() }),
    { path: 'gitops/apps/app.yaml' },
    /input 'path': 'gitops\/apps\/app\.yaml' is not a directory/
  ],
  [
    'path as a symlink that leads out of the workspace',
    (ws, outside) => symlink(outside, path.join(ws, 'elsewhere')),
    { path: 'elsewhere', paths: '.' },
    /input 'path': 'elsewhere' resolves outside the workspace/
  ],
  [
    'an author with a line break',
    ws => files(ws, { 'gitops/apps/app.yaml': pod() }),
    { author: 'Bot <bot@example.com>\nSigned-off-by: Someone Else <x@example.com>' },
    /input 'author' must be one line/
  ],
  [
    'a Kustomize images entry Kustomize refuses (a numeric newTag)',
    ws =>
      files(ws, {
        'gitops/apps/app.yaml': pod(),
        'gitops/apps/kustomization.yaml': `resources:\n  - app.yaml\nimages:\n  - name: ${IMAGE}\n    newTag: 1.5\n`
      }),
    {},
    /apps\/kustomization\.yaml:5 images entry field newTag is a number/
  ],
  [
    'an images list that is a map',
    ws => files(ws, { 'gitops/apps/kustomization.yaml': `images:\n  name: ${IMAGE}\n  newTag: v1\n` }),
    {},
    /images: Kustomize reads a list of maps/
  ],
  [
    "a paths entry under git's own directory",
    ws =>
      files(ws, {
        'gitops/.git/config': `[remote "origin"]\n# ${IMAGE}:1.0.0\n`,
        'gitops/.git/x.yaml': pod()
      }),
    { paths: '.git/x.yaml' },
    /names git's own directory \(\.git\), which is never edited/
  ],
  [
    "a symlink in the tree into git's own directory",
    async ws => {
      await files(ws, { 'gitops/.git/x.yaml': pod(), 'gitops/apps/app.yaml': pod() })
      await symlink('../.git', path.join(ws, 'gitops/apps/meta'))
    },
    {},
    /'apps\/meta' is a symlink into git's own directory/
  ],
  [
    'a symlink in the tree that leads outside the repository',
    async (ws, outside) => {
      await files(ws, { 'gitops/apps/app.yaml': pod() })
      await symlink(path.join(outside, 'secret.yaml'), path.join(ws, 'gitops/apps/secret.yaml'))
    },
    {},
    /'apps\/secret\.yaml' is a symlink that leads outside the repository/
  ],
  [
    'a paths entry that climbs out of the repository',
    ws => files(ws, { 'gitops/apps/app.yaml': pod() }),
    { paths: '../../outside' },
    /paths entry '\.\.\/\.\.\/outside' leads outside the repository/
  ],
  [
    'a FIFO named in paths',
    async ws => {
      await mkdir(path.join(ws, 'gitops/apps'), { recursive: true })
      await execFileAsync('mkfifo', [path.join(ws, 'gitops/apps/pipe.yaml')])
    },
    { paths: 'apps/pipe.yaml' },
    /paths entry 'apps\/pipe\.yaml' is neither a regular file nor a directory/
  ],
  [
    'a file over max-file-size that mentions the image',
    ws => files(ws, { 'gitops/apps/big.yaml': `${pod()}${'# padding\n'.repeat(200)}` }),
    { 'max-file-size': '1KiB' },
    /apps\/big\.yaml mentions the image but is \d+ bytes, over the limit of 1024 bytes per file.*max-file-size/
  ],
  [
    'a branch that would rewrite the push refspec',
    ws => files(ws, { 'gitops/apps/app.yaml': pod() }),
    { branch: 'main:refs/heads/other', push: 'direct' },
    /input 'branch': "main:refs\/heads\/other" is not a valid branch name/
  ],
  [
    'a max-file-size that is not a size',
    ws => files(ws, { 'gitops/apps/app.yaml': pod() }),
    { 'max-file-size': '1e9' },
    /input 'max-file-size' must be a size/
  ]
]

describe('bump-manifest bundle: hostile input ends in one clear error, with nothing written', () => {
  it.each(cases)('%s', async (_, setup, inputs, message) => {
    const { result, before, workspace } = await runIn(setup, inputs)
    const errors = result.annotations.filter(a => a.level === 'error').map(a => a.message)
    expect(result.exitCode).toBe(1)
    expect(errors).toEqual(expect.arrayContaining([expect.stringMatching(message)]))
    expect(result.stderr).not.toMatch(/^\s+at /m)
    expect(await snapshot(path.dirname(workspace))).toEqual(before)
    expect(await filesHolding(result.dirs.runnerTemp, SECRETS)).toEqual([])
    for (const text of shownText(result)) for (const secret of SECRETS) expect(text).not.toContain(secret)
  })
})

describe('bump-manifest bundle: input that looks hostile but is not', () => {
  it('reads paths one per line: braces with commas, and a file name with a comma', async () => {
    const { result, workspace } = await runIn(
      ws =>
        files(ws, {
          'gitops/apps/web/app.yaml': pod(),
          'gitops/apps/api/app.yaml': pod(),
          'gitops/apps/db/app.yaml': pod(),
          'gitops/a,b.yaml': pod()
        }),
      { paths: 'apps/{web,api}/*.yaml\na,b.yaml' }
    )
    expect([result.exitCode, result.annotations.filter(a => a.level === 'error')]).toEqual([0, []])
    const pinned = pod(`${IMAGE}@${DIGEST}`)
    for (const file of ['apps/web/app.yaml', 'apps/api/app.yaml', 'a,b.yaml'])
      expect([file, await readFile(path.join(workspace, 'gitops', file), 'utf8')]).toEqual([file, pinned])
    expect(await readFile(path.join(workspace, 'gitops/apps/db/app.yaml'), 'utf8')).toBe(pod())
  })

  it('keeps every output under 1 MiB for a large file, and writes the full lists to changes-file', async () => {
    const count = 8000
    let text = ''
    for (let i = 0; i < count; i++) text += `---\n${pod().replace('name: app\n', `name: app-${i}\n`)}`
    const started = Date.now()
    const { result } = await runIn(ws => files(ws, { 'gitops/apps/many.yaml': text }), {})
    const seconds = (Date.now() - started) / 1000
    expect([result.exitCode, result.annotations.filter(a => a.level === 'error')]).toEqual([0, []])
    for (const [name, value] of Object.entries(result.outputs))
      expect([name, Buffer.byteLength(value) < 1024 * 1024]).toEqual([name, true])
    const changes = JSON.parse(result.outputs.changes!) as unknown[]
    expect(changes.length).toBeGreaterThan(1000)
    expect(changes.length).toBeLessThan(count)
    expect(result.outputs['changes-truncated']).toBe('true')
    const file = result.outputs['changes-file']!
    expect(path.dirname(file)).toBe(result.dirs.runnerTemp)
    const full = JSON.parse(await readFile(file, 'utf8')) as { changes: unknown[]; previous: unknown[] }
    expect([full.changes.length, full.previous.length]).toEqual([count, count])
    expect(full.changes.slice(0, changes.length)).toEqual(changes)
    expect(result.annotations.find(a => a.level === 'warning')?.message).toMatch(
      new RegExp(`hold the first ${changes.length} of ${count} change\\(s\\)`)
    )
    expect(Buffer.byteLength(result.summary)).toBeLessThan(100 * 1024)
    expect(result.summary).toContain(`and ${count - 200} more change(s)`)
    process.stderr.write(`bump-manifest: ${count} references in one ${text.length}-byte file: ${seconds} s\n`)
  })
})

describe('bump-manifest bundle: no token in anything it writes (a clone over HTTP, a commit, a failed run)', () => {
  let gh: LocalGitHub
  beforeAll(async () => {
    gh = await startGitHub()
  })
  afterAll(() => gh?.stop())
  afterEach(() => gh.assertNoViolations())

  it.each([
    ['a run that commits', { 'gitops/apps/app.yaml': pod() }, 0],
    [
      'a run that fails on a file that is not UTF-8',
      {
        'gitops/apps/app.yaml': pod(),
        'gitops/apps/latin1.yaml': Buffer.concat([Buffer.from(pod()), Buffer.from('# caf\xe9\n', 'latin1')])
      },
      1
    ]
  ] as Array<[string, Record<string, string | Buffer>, number]>)('%s', async (name, tree, exitCode) => {
    const repo = `octo/gitops-${exitCode}`
    await gh.createRepo(repo, { defaultBranch: 'main' })
    const token = gh.createToken({ repos: { [repo]: { contents: 'write' } }, kind: 'app' })
    // Non-UTF-8 bytes go in through git itself, byte for byte.
    const seed = await mkdtemp(path.join(os.tmpdir(), 'seed-'))
    dirs.push(seed)
    const url = `${gh.serverUrl}/${repo}.git`
    const header = `http.extraheader=AUTHORIZATION: basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`
    await execFileAsync('git', ['-c', header, 'clone', '--quiet', url, seed])
    await files(seed, Object.fromEntries(Object.entries(tree).map(([f, c]) => [f.replace('gitops/', ''), c])))
    await execFileAsync('git', ['add', '.'], { cwd: seed })
    await execFileAsync(
      'git',
      ['-c', 'user.name=s', '-c', 'user.email=s@e', 'commit', '--quiet', '-m', 'seed'],
      { cwd: seed }
    )
    await execFileAsync('git', ['-c', header, 'push', '--quiet', 'origin', 'HEAD:main'], { cwd: seed })
    const head = await gh.ref(repo, 'main')

    const result = await runAction({
      actionDir: 'actions/bump-manifest',
      inputs: { image: IMAGE, digest: DIGEST, repository: repo, paths: 'apps', token },
      context: { repository: 'octo/app', serverUrl: gh.serverUrl, apiUrl: gh.apiUrl },
      timeoutMs: 60_000
    })
    results.push(result)
    expect([name, result.exitCode]).toEqual([name, exitCode])
    const log = await gh.log(repo, 'main')
    if (exitCode === 0) expect(log[1]?.sha).toBe(head)
    else expect(log[0]?.sha).toBe(head)
    const secrets = [token, Buffer.from(`x-access-token:${token}`).toString('base64')]
    expect(result.secrets).toContain(token)
    for (const text of shownText(result)) for (const secret of secrets) expect(text).not.toContain(secret)
    // Every file the run left: the runner's temp (changes-file, file commands), the workspace, the commit.
    expect(await filesHolding(result.dirs.runnerTemp, secrets)).toEqual([])
    expect(await filesHolding(result.dirs.workspace, secrets)).toEqual([])
    const committed = await gh.git(repo, 'log', '-p', '--format=%H%n%B', 'main')
    for (const secret of secrets) expect(committed).not.toContain(secret)
    if (exitCode === 1) {
      expect(
        result.annotations
          .filter(a => a.level === 'error')
          .map(a => a.message)
          .join('\n')
      ).toMatch(/apps\/latin1\.yaml is not UTF-8 text/)
    }
  })
})
