import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runGit } from '../../tools/local-github/git.js'
import { startGitHub, type LocalGitHub } from '../../tools/local-github/index.js'

let gh: LocalGitHub
let work: string
let counter = 0

/** Run git as our actions will: the token only in an extra header, never in the URL. */
async function git(cwd: string, args: string[], token?: string) {
  const auth = token
    ? [
        '-c',
        `http.extraheader=AUTHORIZATION: basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`
      ]
    : []
  const result = await runGit(cwd, [...auth, ...args], {
    env: {
      GIT_AUTHOR_NAME: 'Runner',
      GIT_AUTHOR_EMAIL: 'runner@example.com',
      GIT_COMMITTER_NAME: 'Runner',
      GIT_COMMITTER_EMAIL: 'runner@example.com'
    }
  })
  return { code: result.code, stdout: result.stdout.toString(), stderr: result.stderr }
}

async function newRepo(options: Parameters<LocalGitHub['createRepo']>[1] = {}): Promise<string> {
  counter += 1
  const full = `octo/gitops-${counter}`
  await gh.createRepo(full, { files: { 'apps/x.yaml': 'image: x:1\n' }, ...options })
  return full
}

/** Clone into a fresh directory; returns it. */
async function clone(full: string, token?: string): Promise<{ dir: string; code: number; stderr: string }> {
  const dir = await mkdtemp(join(work, 'clone-'))
  const result = await git(work, ['clone', '--quiet', `${gh.serverUrl}/${full}.git`, dir], token)
  return { dir, code: result.code, stderr: result.stderr }
}

async function commitIn(dir: string, file: string, content: string, message: string): Promise<string> {
  await writeFile(join(dir, file), content)
  await git(dir, ['add', file])
  await git(dir, ['commit', '--quiet', '-m', message])
  return (await git(dir, ['rev-parse', 'HEAD'])).stdout.trim()
}

beforeAll(async () => {
  gh = await startGitHub()
  work = await mkdtemp(join(tmpdir(), 'github-server-git-'))
})

afterEach(() => {
  gh.clearFaults()
  gh.assertNoViolations()
})

afterAll(async () => {
  await gh?.stop()
  if (work) await rm(work, { recursive: true, force: true })
})

describe('git over HTTPS with a token', () => {
  it('clones with a read token, refuses its push (403), and takes the push of a write token', async () => {
    const full = await newRepo()
    const reader = gh.createToken({ repos: { [full]: { contents: 'read' } } })
    const writer = gh.createToken({ name: 'writer', repos: { [full]: { contents: 'write' } } })

    const { dir, code } = await clone(full, reader)
    expect(code).toBe(0)
    expect(await readFile(join(dir, 'apps/x.yaml'), 'utf8')).toBe('image: x:1\n')
    expect((await git(dir, ['rev-parse', 'HEAD'])).stdout.trim()).toBe(await gh.ref(full, 'main'))

    const sha = await commitIn(dir, 'apps/x.yaml', 'image: x@sha256:ab\n', 'Pin x')
    const refused = await git(dir, ['push', 'origin', 'main'], reader)
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toContain(`remote: Permission to ${full}.git denied to digest-delivery[bot].`)
    expect(refused.stderr).toContain('The requested URL returned error: 403')
    expect(await gh.ref(full, 'main')).not.toBe(sha)

    const pushed = await git(dir, ['push', 'origin', 'main'], writer)
    expect(pushed.code).toBe(0)
    expect(await gh.ref(full, 'main')).toBe(sha)
    expect((await gh.log(full)).map(entry => [entry.subject, entry.author.email])).toEqual([
      ['Pin x', 'runner@example.com'],
      ['Initial commit', 'octocat@users.noreply.github.com']
    ])
    const push = gh.calls.filter(
      call => call.repo === full && call.route === 'POST /{owner}/{repo}.git/git-receive-pack'
    )
    expect(push.map(call => [call.status, call.token, call.write])).toEqual([[200, 'writer', true]])

    // Another clone fetches what was pushed; a force push to an unprotected branch is taken.
    const again = await clone(full, reader)
    expect(await readFile(join(again.dir, 'apps/x.yaml'), 'utf8')).toBe('image: x@sha256:ab\n')
    await git(again.dir, ['reset', '--quiet', '--hard', 'HEAD~1'])
    const rewritten = await commitIn(again.dir, 'other.txt', 'o\n', 'Other')
    expect((await git(again.dir, ['push', '--force', 'origin', 'main'], writer)).code).toBe(0)
    expect(await gh.ref(full, 'main')).toBe(rewritten)
  })

  it('asks for credentials with 401 and Basic realm="GitHub" when the token is missing or wrong', async () => {
    const full = await newRepo()
    const info = `${gh.serverUrl}/${full}.git/info/refs?service=git-upload-pack`
    for (const headers of [
      {},
      { authorization: `Basic ${Buffer.from('x-access-token:ghs_wrong').toString('base64')}` }
    ]) {
      const answer = await fetch(info, { headers })
      expect([answer.status, answer.headers.get('www-authenticate')]).toEqual([401, 'Basic realm="GitHub"'])
    }
    const anonymous = await clone(full)
    expect(anonymous.code).not.toBe(0)
    expect(anonymous.stderr).toMatch(/could not read Username|Authentication failed/)
    const wrong = await clone(full, 'ghs_0000000000000000000000000000000000')
    expect(wrong.code).not.toBe(0)
    expect(wrong.stderr).toMatch(/could not read Username|Authentication failed/)

    const elsewhere = gh.createToken({ repos: { [await newRepo()]: { contents: 'write' } } })
    const hidden = await clone(full, elsewhere)
    expect(hidden.code).not.toBe(0)
    expect(hidden.stderr).toContain('remote: Repository not found.')
    expect(gh.calls.filter(call => call.repo === full).map(call => call.status)).toEqual([
      401, 401, 401, 401, 404
    ])
  })

  it('lets anyone clone a public repository, and nobody push to it without a token', async () => {
    const full = await newRepo({ private: false })
    const { dir, code } = await clone(full)
    expect(code).toBe(0)
    await commitIn(dir, 'a.txt', 'a\n', 'A')
    const push = await git(dir, ['push', 'origin', 'main'])
    expect(push.code).not.toBe(0)
    expect(push.stderr).toMatch(/could not read Username|Authentication failed/)
    const stranger = gh.createToken({ repos: { [await newRepo()]: { contents: 'write' } } })
    expect((await git(dir, ['push', 'origin', 'main'], stranger)).stderr).toContain(
      'The requested URL returned error: 403'
    )
  })
})

describe('protected branches', () => {
  it('rejects a direct push with GH006 the way GitHub does, and takes other branches', async () => {
    const full = await newRepo()
    const writer = gh.createToken({ repos: { [full]: { contents: 'write' } } })
    await gh.protectBranch(full, 'main')
    const before = await gh.ref(full, 'main')
    const { dir } = await clone(full, writer)
    const sha = await commitIn(dir, 'apps/x.yaml', 'image: x:2\n', 'Bump')

    const refused = await git(dir, ['push', 'origin', 'main'], writer)
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toContain(
      'remote: error: GH006: Protected branch update failed for refs/heads/main.'
    )
    expect(refused.stderr).toContain('remote: error: Changes must be made through a pull request.')
    expect(refused.stderr).toContain('! [remote rejected] main -> main (protected branch hook declined)')
    expect(await gh.ref(full, 'main')).toBe(before)

    expect((await git(dir, ['push', 'origin', 'main:promote/prod'], writer)).code).toBe(0)
    expect(await gh.ref(full, 'promote/prod')).toBe(sha)

    await gh.unprotectBranch(full, 'main')
    expect((await git(dir, ['push', 'origin', 'main'], writer)).code).toBe(0)
    expect(await gh.ref(full, 'main')).toBe(sha)
  })
})

describe('faults on git routes', () => {
  it('fails a push with a scripted 502, then takes it', async () => {
    const full = await newRepo()
    const writer = gh.createToken({ repos: { [full]: { contents: 'write' } } })
    const { dir } = await clone(full, writer)
    const sha = await commitIn(dir, 'a.txt', 'a\n', 'A')
    gh.fault({ route: 'POST /{owner}/{repo}.git/git-receive-pack', status: 502 })
    const failed = await git(dir, ['push', 'origin', 'main'], writer)
    expect(failed.code).not.toBe(0)
    expect(failed.stderr).toContain('502')
    expect(await gh.ref(full, 'main')).not.toBe(sha)
    expect((await git(dir, ['push', 'origin', 'main'], writer)).code).toBe(0)
    expect(await gh.ref(full, 'main')).toBe(sha)
  })

  it('drops the connection of a fetch', async () => {
    const full = await newRepo()
    const reader = gh.createToken({ repos: { [full]: { contents: 'read' } } })
    gh.fault({ route: 'GET /{owner}/{repo}.git/info/refs?service=git-upload-pack', kind: 'drop' })
    const dropped = await clone(full, reader)
    expect(dropped.code).not.toBe(0)
    expect(gh.calls.filter(call => call.repo === full)[0]).toMatchObject({ fault: 'drop', status: 0 })
    expect((await clone(full, reader)).code).toBe(0)
  })
})
