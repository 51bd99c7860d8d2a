import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { bumpManifest, type Collaborators } from '../../src/actions/bump-manifest/main.js'
import { createCommandRunner } from '../../src/lib/exec.js'
import { createGit } from '../../src/lib/git/index.js'
import { createGitHubApi } from '../../src/lib/github/index.js'
import { mapInputs } from '../../src/lib/inputs.js'
import { startGitHub, type LocalGitHub } from '../../tools/local-github/index.js'

// How actions/checkout persists its token, by version (src/git-auth-helper.ts):
// v5 writes http.<origin>/.extraheader into .git/config; v6 writes it to $RUNNER_TEMP/git-credentials-<uuid>.config
// and includes that file from .git/config through includeIf.gitdir, for the host path and for the container paths
// (/github/workspace/…, /github/runner_temp/…), each also for worktrees.

const run = promisify(execFile)
const D1 = `sha256:${'1'.repeat(64)}`
const FILES = { 'apps/web.yaml': 'kind: Pod\nspec:\n  containers:\n    - image: ghcr.io/octo/web:1.0.0\n' }

let gh: LocalGitHub
let root: string
let n = 0
const runner = createCommandRunner()

beforeAll(async () => {
  gh = await startGitHub()
  root = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'checkout-credentials-')))
})
afterAll(async () => {
  await gh?.stop()
  await fs.rm(root, { recursive: true, force: true })
})
afterEach(() => gh.assertNoViolations())

interface Checkout {
  repo: string
  workspace: string
  runnerTemp: string
  dir: string
  /** The file v6 keeps the header in. */
  credentialsFile?: string
}

type Layout = 'v5' | 'v6' | 'none'

/** A repository, a token that may write to it, and a checkout of it left as actions/checkout `layout` leaves it. */
async function checkout(layout: Layout, relative = 'gitops'): Promise<Checkout> {
  const repo = `octo/gitops-${++n}`
  await gh.createRepo(repo, { defaultBranch: 'main', files: FILES })
  const token = gh.createToken({ repos: { [repo]: { contents: 'write' } }, kind: 'app' })
  const workspace = path.join(root, `ws-${n}`)
  const runnerTemp = path.join(root, `temp-${n}`)
  const dir = path.join(workspace, relative)
  await fs.mkdir(runnerTemp, { recursive: true })
  await fs.mkdir(workspace, { recursive: true })
  const key = `http.${gh.serverUrl}/.extraheader`
  const header = `AUTHORIZATION: basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`
  // `git -c` (not `clone -c`, which writes it into .git/config): the clone alone is authenticated.
  await run('git', ['-c', `${key}=${header}`, 'clone', '--quiet', `${gh.serverUrl}/${repo}.git`, dir])
  const git = (...args: string[]) => run('git', args, { cwd: dir })
  const result: Checkout = { repo, workspace, runnerTemp, dir }
  if (layout === 'v5') await git('config', '--local', key, header)
  if (layout === 'v6') {
    const file = path.join(runnerTemp, `git-credentials-${randomUUID()}.config`)
    await git('config', '--file', file, key, header)
    const gitDir = path.join(dir, '.git')
    const containerGitDir = path.posix.join('/github/workspace', relative, '.git')
    const containerFile = path.posix.join('/github/runner_temp', path.basename(file))
    await git('config', '--local', `includeIf.gitdir:${gitDir}.path`, file)
    await git('config', '--local', `includeIf.gitdir:${gitDir}/worktrees/*.path`, file)
    await git('config', '--local', `includeIf.gitdir:${containerGitDir}.path`, containerFile)
    await git('config', '--local', `includeIf.gitdir:${containerGitDir}/worktrees/*.path`, containerFile)
    result.credentialsFile = file
  }
  return result
}

/** bump-manifest in the checkout, with a `token` input that may only read (the workflow's default token). */
async function bumpIn(target: Checkout): Promise<Record<string, string>> {
  const outputs: Record<string, string> = {}
  const readOnly = gh.createToken({ repos: { [target.repo]: { contents: 'read' } } })
  const deps: Collaborators = {
    inputs: mapInputs({
      image: 'ghcr.io/octo/web',
      digest: D1,
      paths: 'apps/web.yaml',
      path: target.dir,
      token: readOnly
    }),
    env: {
      GITHUB_SERVER_URL: gh.serverUrl,
      GITHUB_API_URL: gh.apiUrl,
      GITHUB_REPOSITORY: 'octo/web',
      GITHUB_SHA: 'abc'.repeat(13) + 'a',
      GITHUB_RUN_ID: '77',
      GITHUB_WORKSPACE: target.workspace,
      RUNNER_TEMP: target.runnerTemp
    },
    runner,
    github: (t, apiUrl) => createGitHubApi({ token: t, apiUrl }),
    setOutput: (name, value) => (outputs[name] = value),
    writeSummary: async () => undefined,
    sleep: async () => undefined
  }
  await bumpManifest(deps)
  return outputs
}

describe('credentials an actions/checkout checkout persisted', () => {
  it.each([
    ['v6 (a file under RUNNER_TEMP, included through includeIf.gitdir)', 'v6' as const, true],
    ['v5 (the header in .git/config)', 'v5' as const, true],
    ['persist-credentials: false', 'none' as const, false]
  ])('are found for %s', async (_, layout, expected) => {
    const target = await checkout(layout)
    const git = createGit({ runner, cwd: target.dir, serverUrl: gh.serverUrl })
    expect(await git.hasPersistedCredentials(gh.serverUrl)).toBe(expected)
    expect(await git.hasPersistedCredentials('https://github.example.com')).toBe(false)
  })

  it('are not found once v6’s post step removed its credentials file', async () => {
    const target = await checkout('v6')
    await fs.rm(target.credentialsFile as string)
    const git = createGit({ runner, cwd: target.dir, serverUrl: gh.serverUrl })
    expect(await git.hasPersistedCredentials(gh.serverUrl)).toBe(false)
  })

  it('are not taken from an includeIf for another checkout', async () => {
    const target = await checkout('v6')
    const other = await checkout('none', 'other')
    const config = path.join(target.dir, '.git', 'config')
    const moved = (await fs.readFile(config, 'utf8')).split(`${target.dir}/.git`).join(`${other.dir}/.git`)
    await fs.writeFile(config, moved)
    const git = createGit({ runner, cwd: target.dir, serverUrl: gh.serverUrl })
    expect(await git.hasPersistedCredentials(gh.serverUrl)).toBe(false)
  })

  it.each([
    ['v6', 'v6' as const],
    ['v5', 'v5' as const]
  ])('push bump-manifest’s commit with a %s checkout, not the read-only token input', async (_, layout) => {
    const target = await checkout(layout)
    const configBefore = await fs.readFile(path.join(target.dir, '.git', 'config'), 'utf8')
    const outputs = await bumpIn(target)
    expect(outputs.changed).toBe('true')
    expect(await gh.ref(target.repo, 'main')).toBe(outputs['commit-sha'])
    expect(await gh.readFile(target.repo, 'main', 'apps/web.yaml')).toContain(`ghcr.io/octo/web@${D1}`)
    // The checkout's config and credentials file are as the checkout left them, for its post step to remove.
    expect(await fs.readFile(path.join(target.dir, '.git', 'config'), 'utf8')).toBe(configBefore)
    if (target.credentialsFile) await fs.access(target.credentialsFile)
  })
})
