import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals'
import { execFile } from 'node:child_process'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { bumpManifest, type Collaborators } from '../../src/actions/bump-manifest/main.js'
import type { OutputName } from '../../src/actions/bump-manifest/inputs.js'
import { createCommandRunner } from '../../src/lib/exec.js'
import { createGitHubApi, type GitHubApi } from '../../src/lib/github/index.js'
import { mapInputs } from '../../src/lib/inputs.js'
import { startGitHub, type LocalGitHub } from '../../tools/local-github/index.js'

const run = promisify(execFile)
const D1 = `sha256:${'1'.repeat(64)}`
const D2 = `sha256:${'2'.repeat(64)}`
const SOURCE_SHA = 'abc'.repeat(13) + 'a'

const DEPLOYMENT = `# The web front end.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: web
          image: ghcr.io/octo/web:1.0.0 # bumped by CI
          ports:
            - containerPort: 8080
`
const FILES = {
  'apps/web/base/kustomization.yaml': 'resources:\n  - deployment.yaml\n',
  'apps/web/base/deployment.yaml': DEPLOYMENT,
  'apps/web/overlays/dev/kustomization.yaml': '# dev overlay\nresources:\n  - ../../base\n',
  'apps/web/overlays/prod/kustomization.yaml': 'resources:\n  - ../../base\n',
  'apps/web/prod.yaml': DEPLOYMENT.replace('name: web\n', 'name: web-prod\n'),
  'apps/api/values.yaml':
    '# Helm values\nimage:\n  repository: ghcr.io/octo/api\n  tag: "1.0.0"\nreplicas: 2\n'
}

let gh: LocalGitHub
let token: string
let n = 0
let repo: string

beforeAll(async () => {
  gh = await startGitHub()
})
afterAll(async () => gh?.stop())
beforeEach(async () => {
  repo = `octo/gitops-${++n}`
  await gh.createRepo(repo, { defaultBranch: 'main', files: FILES })
  token = gh.createToken({ repos: { [repo]: { contents: 'write' } }, kind: 'app' })
})
afterEach(() => gh.assertNoViolations())

interface Result {
  outputs: Partial<Record<OutputName, string>>
  summary: string
}

async function bump(
  inputs: Record<string, string>,
  wrapApi: (api: GitHubApi) => GitHubApi = api => api
): Promise<Result> {
  const outputs: Result['outputs'] = {}
  let summary = ''
  const temp = await fs.mkdtemp(path.join(os.tmpdir(), 'bump-'))
  const deps: Collaborators = {
    inputs: mapInputs({ repository: repo, token, ...inputs }),
    env: {
      GITHUB_SERVER_URL: gh.serverUrl,
      GITHUB_API_URL: gh.apiUrl,
      GITHUB_REPOSITORY: 'octo/web',
      GITHUB_SHA: SOURCE_SHA,
      GITHUB_RUN_ID: '77',
      // A checkout given as `path` lies in the workspace, as on the runner.
      GITHUB_WORKSPACE: inputs.path ? path.dirname(inputs.path) : temp,
      RUNNER_TEMP: temp
    },
    runner: createCommandRunner(),
    github: (t, apiUrl) => wrapApi(createGitHubApi({ token: t, apiUrl })),
    setOutput: (name, value) => (outputs[name] = value),
    writeSummary: async markdown => {
      summary += markdown
    },
    sleep: async () => undefined
  }
  try {
    await bumpManifest(deps)
  } finally {
    await fs.rm(temp, { recursive: true, force: true })
  }
  return { outputs, summary }
}

/** The lines that differ between two texts, as [before, after] pairs: the whole diff of an in-place edit. */
function changedLines(before: string, after: string): Array<[string, string]> {
  const a = before.split('\n')
  const b = after.split('\n')
  expect(b).toHaveLength(a.length)
  return a.flatMap((line, i) => (line === b[i] ? [] : [[line, b[i] as string] as [string, string]]))
}

describe('bump-manifest against a local GitHub (real git over HTTP with a token)', () => {
  it('pins the image with a one-line diff and a traceable commit', async () => {
    const { outputs, summary } = await bump({
      image: 'ghcr.io/octo/web',
      digest: D1,
      tag: 'v2.0.0',
      paths: 'apps/web/prod.yaml'
    })
    expect(outputs.changed).toBe('true')
    const [head] = await gh.log(repo, 'main')
    expect(outputs['commit-sha']).toBe(head?.sha)
    expect(outputs.branch).toBe('main')
    const after = (await gh.readFile(repo, 'main', 'apps/web/prod.yaml')) as string
    expect(changedLines(FILES['apps/web/prod.yaml'], after)).toEqual([
      [
        '          image: ghcr.io/octo/web:1.0.0 # bumped by CI',
        `          image: ghcr.io/octo/web:v2.0.0@${D1} # bumped by CI`
      ]
    ])
    expect(head?.subject).toBe(`Pin ghcr.io/octo/web to v2.0.0@${'1'.repeat(12)}`)
    expect(head?.body).toContain(`Image: ghcr.io/octo/web@${D1}`)
    expect(head?.body).toContain(`Source-Commit: ${SOURCE_SHA}`)
    expect(head?.body).toContain('Source-Repository: ' + `${gh.serverUrl}/octo/web`)
    expect(head?.body).toContain(`Workflow-Run: ${gh.serverUrl}/octo/web/actions/runs/77`)
    expect(head?.author.name).toBe('github-actions[bot]')
    expect(JSON.parse(outputs.changes as string)).toEqual([
      {
        file: 'apps/web/prod.yaml',
        line: 11,
        old: 'ghcr.io/octo/web:1.0.0',
        new: `ghcr.io/octo/web:v2.0.0@${D1}`
      }
    ])
    expect(JSON.parse(outputs.previous as string)).toEqual([
      { file: 'apps/web/prod.yaml', line: 11, old: 'ghcr.io/octo/web:1.0.0' }
    ])
    expect(summary).toContain(`/${repo}/commit/${head?.sha}`)
    // The token never reached the server in a URL, and only one push happened.
    expect(gh.calls.filter(c => c.path.includes(token))).toEqual([])
    expect(gh.calls.filter(c => c.route.includes('git-receive-pack') && c.method === 'POST')).toHaveLength(1)
  })

  it('is idempotent: a second run changes nothing and pushes nothing', async () => {
    await bump({ image: 'ghcr.io/octo/web', digest: D1, paths: 'apps/web/prod.yaml' })
    const pushes = gh.calls.filter(c => c.route.includes('git-receive-pack') && c.method === 'POST').length
    const before = await gh.ref(repo, 'main')
    const { outputs } = await bump({ image: 'ghcr.io/octo/web', digest: D1, paths: 'apps/web/prod.yaml' })
    expect(outputs).toMatchObject({ changed: 'false', 'commit-sha': '' })
    expect(await gh.ref(repo, 'main')).toBe(before)
    expect(gh.calls.filter(c => c.route.includes('git-receive-pack') && c.method === 'POST')).toHaveLength(
      pushes
    )
  })

  it('adds an images entry to a Kustomize overlay and never edits the shared base', async () => {
    const { outputs } = await bump({ image: 'ghcr.io/octo/web', digest: D2, paths: 'apps/web/overlays/dev' })
    expect(outputs.changed).toBe('true')
    expect(await gh.readFile(repo, 'main', 'apps/web/base/deployment.yaml')).toBe(DEPLOYMENT)
    expect(await gh.readFile(repo, 'main', 'apps/web/overlays/prod/kustomization.yaml')).toBe(
      FILES['apps/web/overlays/prod/kustomization.yaml']
    )
    const checkout = await fs.mkdtemp(path.join(os.tmpdir(), 'render-'))
    await gh.git(repo, 'worktree', 'add', '--detach', checkout, 'main')
    const { stdout } = await run('kubectl', ['kustomize', path.join(checkout, 'apps/web/overlays/dev')])
    expect(stdout).toContain(`image: ghcr.io/octo/web@${D2}`)
    const prod = await run('kubectl', ['kustomize', path.join(checkout, 'apps/web/overlays/prod')])
    expect(prod.stdout).toContain('image: ghcr.io/octo/web:1.0.0')
    await gh.git(repo, 'worktree', 'remove', '--force', checkout)
  })

  it('reports what it searched when nothing references the image, unless allowed', async () => {
    await expect(bump({ image: 'ghcr.io/octo/nothing', digest: D1, paths: 'apps' })).rejects.toThrow(
      /no reference to ghcr.io\/octo\/nothing found in apps \(\d+ file\(s\) searched/
    )
    const { outputs } = await bump({
      image: 'ghcr.io/octo/nothing',
      digest: D1,
      paths: 'apps',
      'allow-no-match': 'true'
    })
    expect(outputs.changed).toBe('false')
  })

  it('refuses a protected branch with a pointer to push: branch', async () => {
    await gh.protectBranch(repo, 'main')
    await expect(
      bump({ image: 'ghcr.io/octo/web', digest: D1, paths: 'apps/web/prod.yaml' })
    ).rejects.toThrow(/protected.*push: branch.*open-promotion-pr/)
  })

  it('commits to a head branch built on the base with push: branch', async () => {
    const base = await gh.ref(repo, 'main')
    const { outputs } = await bump({
      image: 'ghcr.io/octo/api',
      digest: D1,
      tag: '1.1.0',
      paths: 'apps/api',
      push: 'branch',
      'head-branch': 'promote/api'
    })
    expect(outputs.branch).toBe('promote/api')
    expect(await gh.ref(repo, 'main')).toBe(base)
    const values = await gh.readFile(repo, 'promote/api', 'apps/api/values.yaml')
    expect(values).toBe(FILES['apps/api/values.yaml'].replace('tag: "1.0.0"', `tag: "1.1.0@${D1}"`))
  })

  it('commits through createCommitOnBranch with commit-via: api, which GitHub marks verified', async () => {
    const { outputs } = await bump({
      image: 'ghcr.io/octo/web',
      digest: D1,
      paths: 'apps/web/prod.yaml',
      'commit-via': 'api'
    })
    const sha = outputs['commit-sha'] as string
    const commit = gh.calls.find(c => c.route === 'POST /graphql')
    expect(commit?.status).toBe(200)
    const octokit = (await import('@actions/github')).getOctokit(token, { baseUrl: gh.apiUrl })
    const { data } = await octokit.rest.repos.getCommit({
      owner: 'octo',
      repo: repo.split('/')[1] as string,
      ref: sha
    })
    expect(data.commit.verification?.verified).toBe(true)
    expect(await gh.readFile(repo, 'main', 'apps/web/prod.yaml')).toContain(
      `image: ghcr.io/octo/web@${D1} # bumped by CI`
    )
  })

  it('retries createCommitOnBranch when another commit moves the head meanwhile', async () => {
    // Between our fetch and our createCommitOnBranch, someone else commits: the first request's expectedHeadOid is
    // stale (STALE_DATA) by construction, not by a timer racing a server delay.
    let other: string | undefined
    const results: string[] = []
    const { outputs, summary } = await bump(
      { image: 'ghcr.io/octo/web', digest: D1, paths: 'apps/web/prod.yaml', 'commit-via': 'api' },
      api => ({
        ...api,
        createCommitOnBranch: async input => {
          other ??= await gh.commit(repo, { files: { 'README.md': 'someone else\n' }, message: 'other' })
          const result = await api.createCommitOnBranch(input)
          results.push(
            `${result.kind} on ${input.expectedHeadOid === other ? 'the new head' : 'the old head'}`
          )
          return result
        }
      })
    )
    expect(results).toEqual(['head-moved on the old head', 'committed on the new head'])
    const log = await gh.log(repo, 'main')
    expect(log[0]?.sha).toBe(outputs['commit-sha'])
    expect(log[1]?.sha).toBe(other)
    expect(log[0]?.parents).toEqual([other])
    expect(summary).toContain('after 2 attempts')
    expect(await gh.readFile(repo, 'main', 'README.md')).toBe('someone else\n')
    expect(await gh.readFile(repo, 'main', 'apps/web/prod.yaml')).toContain(`image: ghcr.io/octo/web@${D1}`)
  })

  it('works in an existing checkout with the credentials it persisted, its repository, its history and config kept', async () => {
    const checkout = await fs.mkdtemp(path.join(os.tmpdir(), 'checkout-'))
    const basic = Buffer.from(`x-access-token:${token}`).toString('base64')
    // As actions/checkout leaves it: a full clone, the token persisted as an extra header in the local config.
    await run('git', [
      'clone',
      '--quiet',
      '-c',
      `http.${gh.serverUrl}/.extraheader=AUTHORIZATION: basic ${basic}`,
      `${gh.serverUrl}/${repo}.git`,
      checkout
    ])
    await gh.commit(repo, { files: { 'notes.txt': 'second commit\n' } })
    await run('git', ['pull', '--quiet'], { cwd: checkout })
    const config = await fs.readFile(path.join(checkout, '.git', 'config'), 'utf8')
    // The action's own token input is the workflow's default (here: one that may only read): the checkout's is used.
    const noAccess = gh.createToken({ repos: { [repo]: { contents: 'read' } } })
    const { outputs } = await bump({
      image: 'ghcr.io/octo/web',
      digest: D2,
      paths: 'apps/web/prod.yaml',
      path: checkout,
      repository: '',
      token: noAccess
    })
    expect(outputs).toMatchObject({ changed: 'true', repository: repo })
    expect(await gh.ref(repo, 'main')).toBe(outputs['commit-sha'])
    expect(await fs.readFile(path.join(checkout, '.git', 'config'), 'utf8')).toBe(config)
    expect(await fs.readFile(path.join(checkout, 'apps/web/prod.yaml'), 'utf8')).toContain(
      `ghcr.io/octo/web@${D2}`
    )
    // A full-history checkout stays full: later steps may need its history.
    const { stdout: shallow } = await run('git', ['rev-parse', '--is-shallow-repository'], { cwd: checkout })
    expect(shallow.trim()).toBe('false')
    const { stdout: count } = await run('git', ['rev-list', '--count', 'HEAD'], { cwd: checkout })
    expect(Number(count)).toBe(3)
    await fs.rm(checkout, { recursive: true, force: true })
  })

  it('edits a plain directory (not a git checkout) with push: none', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'plain-'))
    await fs.mkdir(path.join(dir, 'apps'))
    await fs.writeFile(path.join(dir, 'apps', 'prod.yaml'), FILES['apps/web/prod.yaml'])
    const { outputs } = await bump({
      image: 'ghcr.io/octo/web',
      digest: D1,
      paths: 'apps',
      path: dir,
      push: 'none',
      repository: ''
    })
    expect(outputs).toMatchObject({ changed: 'true', 'commit-sha': '' })
    const after = await fs.readFile(path.join(dir, 'apps', 'prod.yaml'), 'utf8')
    expect(changedLines(FILES['apps/web/prod.yaml'], after)).toEqual([
      [
        '          image: ghcr.io/octo/web:1.0.0 # bumped by CI',
        `          image: ghcr.io/octo/web@${D1} # bumped by CI`
      ]
    ])
    await fs.rm(dir, { recursive: true, force: true })
  })

  it('leaves every file as it was when one file that mentions the image cannot be edited', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'plain-'))
    await fs.mkdir(path.join(dir, 'apps'))
    const broken = 'kind: Pod\nspec:\n  containers:\n    - image: ghcr.io/octo/web:1.0.0\n  bad: [unclosed\n'
    await fs.writeFile(path.join(dir, 'apps', 'prod.yaml'), FILES['apps/web/prod.yaml'])
    await fs.writeFile(path.join(dir, 'apps', 'staging.yaml'), broken)
    await expect(
      bump({ image: 'ghcr.io/octo/web', digest: D1, paths: 'apps', path: dir, push: 'none', repository: '' })
    ).rejects.toThrow(/1 file\(s\) mention the image but could not be updated, so nothing was changed/)
    expect(await fs.readFile(path.join(dir, 'apps', 'prod.yaml'), 'utf8')).toBe(FILES['apps/web/prod.yaml'])
    expect(await fs.readFile(path.join(dir, 'apps', 'staging.yaml'), 'utf8')).toBe(broken)
    await fs.rm(dir, { recursive: true, force: true })
  })

  it('refuses a checkout with uncommitted changes, or of another repository, and changes nothing', async () => {
    const checkout = await fs.mkdtemp(path.join(os.tmpdir(), 'dirty-'))
    const basic = Buffer.from(`x-access-token:${token}`).toString('base64')
    const header = `http.${gh.serverUrl}/.extraheader=AUTHORIZATION: basic ${basic}`
    await run('git', ['clone', '--quiet', '-c', header, `${gh.serverUrl}/${repo}.git`, checkout])
    await fs.appendFile(path.join(checkout, 'apps/api/values.yaml'), '# local edit\n')
    const before = await gh.ref(repo, 'main')
    await expect(
      bump({ image: 'ghcr.io/octo/web', digest: D1, paths: 'apps/web/prod.yaml', path: checkout })
    ).rejects.toThrow(/uncommitted changes to tracked files/)
    expect(await fs.readFile(path.join(checkout, 'apps/api/values.yaml'), 'utf8')).toContain('# local edit')
    await expect(
      bump({
        image: 'ghcr.io/octo/web',
        digest: D1,
        paths: 'apps/web/prod.yaml',
        path: checkout,
        repository: 'octo/elsewhere'
      })
    ).rejects.toThrow(/is a clone of octo\/gitops-\d+/)
    expect(await gh.ref(repo, 'main')).toBe(before)
    await fs.rm(checkout, { recursive: true, force: true })
  })

  it('accumulates several images on one head branch, and refuses a head branch equal to its base', async () => {
    const base = await gh.ref(repo, 'main')
    const first = await bump({
      image: 'ghcr.io/octo/api',
      digest: D1,
      tag: '1.1.0',
      paths: 'apps/api',
      push: 'branch',
      'head-branch': 'promote/staging'
    })
    const second = await bump({
      image: 'ghcr.io/octo/web',
      digest: D2,
      paths: 'apps/web/prod.yaml',
      push: 'branch',
      'head-branch': 'promote/staging'
    })
    expect([first.outputs.changed, second.outputs.changed]).toEqual(['true', 'true'])
    expect(await gh.readFile(repo, 'promote/staging', 'apps/api/values.yaml')).toContain(`tag: "1.1.0@${D1}"`)
    expect(await gh.readFile(repo, 'promote/staging', 'apps/web/prod.yaml')).toContain(
      `ghcr.io/octo/web@${D2}`
    )
    const log = await gh.log(repo, 'promote/staging')
    expect(log.slice(0, 3).map(entry => entry.sha)).toEqual([
      second.outputs['commit-sha'],
      first.outputs['commit-sha'],
      base
    ])
    // Again with the same digest: nothing to do, nothing pushed.
    const again = await bump({
      image: 'ghcr.io/octo/web',
      digest: D2,
      paths: 'apps/web/prod.yaml',
      push: 'branch',
      'head-branch': 'promote/staging'
    })
    expect(again.outputs).toMatchObject({ changed: 'false', 'commit-sha': '' })
    expect(await gh.ref(repo, 'main')).toBe(base)
    await expect(
      bump({
        image: 'ghcr.io/octo/web',
        digest: D1,
        paths: 'apps/web/prod.yaml',
        push: 'branch',
        'head-branch': 'main'
      })
    ).rejects.toThrow(/head-branch' is 'main', the branch it would be based on/)
  })

  it('accumulates on a head branch through the API too', async () => {
    await bump({
      image: 'ghcr.io/octo/api',
      digest: D1,
      tag: '1.1.0',
      paths: 'apps/api',
      push: 'branch',
      'head-branch': 'promote/api',
      'commit-via': 'api'
    })
    const second = await bump({
      image: 'ghcr.io/octo/web',
      digest: D2,
      paths: 'apps/web/prod.yaml',
      push: 'branch',
      'head-branch': 'promote/api',
      'commit-via': 'api'
    })
    expect(second.outputs.changed).toBe('true')
    expect(await gh.readFile(repo, 'promote/api', 'apps/api/values.yaml')).toContain(`tag: "1.1.0@${D1}"`)
    expect(await gh.readFile(repo, 'promote/api', 'apps/web/prod.yaml')).toContain(`ghcr.io/octo/web@${D2}`)
  })

  it('tells a stale expectedHeadOid (STALE_DATA) from other GraphQL failures', async () => {
    const api = createGitHubApi({ token, apiUrl: gh.apiUrl })
    const head = (await gh.ref(repo, 'main')) as string
    await gh.commit(repo, { files: { 'moved.txt': 'x\n' } })
    const [owner, name] = repo.split('/') as [string, string]
    const outcome = await api.createCommitOnBranch({
      repo: { owner, repo: name },
      branch: 'main',
      expectedHeadOid: head,
      message: 'stale\n\nbody',
      additions: [{ path: 'a.txt', contents: Buffer.from('a\n') }]
    })
    expect(outcome).toEqual({ kind: 'head-moved' })
    await gh.protectBranch(repo, 'main')
    const protectedOutcome = await api.createCommitOnBranch({
      repo: { owner, repo: name },
      branch: 'main',
      expectedHeadOid: (await gh.ref(repo, 'main')) as string,
      message: 'protected',
      additions: [{ path: 'a.txt', contents: Buffer.from('a\n') }]
    })
    expect(protectedOutcome.kind).toBe('protected')
  })

  it('edits nothing and commits nothing when a file that mentions the image does not parse', async () => {
    await gh.commit(repo, {
      files: { 'apps/web/broken.yaml': 'image: ghcr.io/octo/web:1.0.0\n  bad: [indent\n' }
    })
    const before = await gh.ref(repo, 'main')
    await expect(bump({ image: 'ghcr.io/octo/web', digest: D1, paths: 'apps/web' })).rejects.toThrow(
      /apps\/web\/broken\.yaml.*could not be updated|could not be updated.*apps\/web\/broken\.yaml/
    )
    expect(await gh.ref(repo, 'main')).toBe(before)
  })

  it('dry-runs with push: none on a temporary clone: the diff in the summary, nothing pushed', async () => {
    const before = await gh.ref(repo, 'main')
    const { outputs, summary } = await bump({
      image: 'ghcr.io/octo/web',
      digest: D1,
      paths: 'apps/web/prod.yaml',
      push: 'none'
    })
    expect(outputs).toMatchObject({ changed: 'true', 'commit-sha': '' })
    expect(summary).toContain(`+          image: ghcr.io/octo/web@${D1} # bumped by CI`)
    expect(await gh.ref(repo, 'main')).toBe(before)
  })

  it('fails clearly with a token that may only read', async () => {
    token = gh.createToken({ repos: { [repo]: { contents: 'read' } }, kind: 'app' })
    await expect(
      bump({ image: 'ghcr.io/octo/web', digest: D1, paths: 'apps/web/prod.yaml' })
    ).rejects.toThrow(/git push to main failed[\s\S]*403|denied/)
  })
})
