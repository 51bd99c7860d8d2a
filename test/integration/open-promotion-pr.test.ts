import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { OutputName } from '../../src/actions/open-promotion-pr/inputs.js'
import { openPromotionPr, type Collaborators } from '../../src/actions/open-promotion-pr/main.js'
import { readStateBlock } from '../../src/actions/open-promotion-pr/state-block.js'
import { errorMessage } from '../../src/lib/errors.js'
import { createCommandRunner } from '../../src/lib/exec.js'
import { createGitHubApi, createPullRequestApi, lazyOctokit } from '../../src/lib/github/index.js'
import { mapInputs } from '../../src/lib/inputs.js'
import { createRegistryClient } from '../../src/lib/registry/index.js'
import { startGitHub, type LocalGitHub } from '../support/github/index.js'
import { buildImage, createGitOps, overlay, pinDev, type BuiltImage } from '../support/github/promotion.js'
import { startRegistry, type TestRegistry } from '../support/registry.js'

let gh: LocalGitHub
let registry: TestRegistry
let IMAGE: string
const built: BuiltImage[] = []
let n = 0

beforeAll(async () => {
  ;[gh, registry] = await Promise.all([startGitHub(), startRegistry()])
  IMAGE = `${registry.host}/octo/web`
  await gh.createRepo('octo/app', { files: { 'main.go': 'package main\n' } })
  for (let i = 1; i <= 3; i++) {
    const revision = await gh.commit('octo/app', {
      files: { 'main.go': `package main // v${i}\n` },
      message: `Release 1.${i}.0\n`
    })
    built.push(await buildImage(registry, 'octo/web', `1.${i}.0`, `${gh.serverUrl}/octo/app`, revision))
  }
}, 120_000)
afterAll(async () => {
  await gh?.stop()
  await registry?.stop()
})
afterEach(() => {
  gh.clearFaults()
  gh.clearHooks()
  gh.assertNoViolations()
})

interface Outcome {
  outputs: Partial<Record<OutputName, string>>
  summary: string
  /** `::warning::…`, `::notice::…` lines the run wrote. */
  commands: string[]
  error?: string
}

/** Runs the action in-process against the local GitHub and the registry. */
async function promote(repo: string, token: string, inputs: Record<string, string>): Promise<Outcome> {
  const outputs: Outcome['outputs'] = {}
  let summary = ''
  const temp = await fs.mkdtemp(path.join(os.tmpdir(), 'promotion-'))
  const deps: Collaborators = {
    inputs: mapInputs({ repository: repo, token, environment: 'staging', ...inputs }),
    env: {
      GITHUB_SERVER_URL: gh.serverUrl,
      GITHUB_API_URL: gh.apiUrl,
      GITHUB_REPOSITORY: repo,
      GITHUB_RUN_ID: '4242',
      RUNNER_TEMP: temp
    },
    runner: createCommandRunner(),
    github: (t, apiUrl) => {
      const options = { token: t, apiUrl }
      return { pulls: createPullRequestApi(lazyOctokit(options)), commits: createGitHubApi(options) }
    },
    registry: () => createRegistryClient({ ca: registry.caPem, env: {}, retries: 0 }),
    setOutput: (name, value) => (outputs[name] = value),
    writeSummary: async markdown => {
      summary += markdown
    },
    now: () => new Date(),
    sleep: async () => undefined
  }
  const commands: string[] = []
  const write = process.stdout.write.bind(process.stdout)
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (typeof chunk === 'string' && /^::(warning|notice|error)/.test(chunk)) commands.push(chunk.trim())
    return (write as (...args: unknown[]) => boolean)(chunk, ...rest)
  }) as typeof process.stdout.write
  try {
    await openPromotionPr(deps)
    return { outputs, summary, commands }
  } catch (error) {
    return { outputs, summary, commands, error: errorMessage(error) }
  } finally {
    process.stdout.write = write
    await fs.rm(temp, { recursive: true, force: true })
  }
}

/** A GitOps repository whose dev runs built[devAt] and staging built[0], with a token for it. */
async function gitops(
  devAt = 1,
  options: Parameters<LocalGitHub['createRepo']>[1] = {},
  tokenKind: 'app' | 'workflow' = 'app'
): Promise<{ repo: string; token: string }> {
  const repo = `octo/gitops-${++n}`
  await createGitOps(gh, repo, IMAGE, { dev: built[0]!, staging: built[0]! }, options)
  if (devAt > 0) await pinDev(gh, repo, IMAGE, built[devAt]!)
  const token = gh.createToken({
    repos: {
      [repo]: { contents: 'write', pullRequests: 'write', statuses: 'read', checks: 'read' },
      ...(tokenKind === 'app' ? { 'octo/app': { contents: 'read' } } : {})
    },
    kind: tokenKind
  })
  return { repo, token }
}

/** The head branch bump-manifest (push: branch) would have committed for `image`. */
async function bumpBranch(
  repo: string,
  image: BuiltImage,
  branch = 'promote/staging/octo-web'
): Promise<string> {
  return gh.commit(repo, {
    branch,
    files: { 'apps/web/overlays/staging/kustomization.yaml': overlay(IMAGE, image.digest, image.tag) },
    message: `Pin ${IMAGE} to ${image.tag}\n\nImage: ${IMAGE}@${image.digest}\n`,
    author: { name: 'github-actions[bot]', email: '41898282+github-actions[bot]@users.noreply.github.com' }
  })
}

const apiCalls = (from: number, repo: string) =>
  gh.calls.slice(from).filter(call => call.repo === repo && !call.route.includes('.git/'))
const graphqlCalls = (from: number) => gh.calls.slice(from).filter(call => call.route === 'POST /graphql')

describe('open for a branch (mode 1)', () => {
  it('creates one pull request with labels, reviewers and auto-merge, then a re-run writes nothing', async () => {
    const { repo, token } = await gitops(1, { allowAutoMerge: true })
    await gh.protectBranch(repo, 'main', { requiredApprovals: 1 })
    const head = await bumpBranch(repo, built[1]!)
    const before = gh.calls.length
    const first = await promote(repo, token, {
      'image-ref': `${IMAGE}:1.2.0@${built[1]!.digest}`,
      labels: 'promotion, env/staging',
      reviewers: 'alice',
      'auto-merge': 'squash'
    })
    expect(first.error).toBeUndefined()
    expect(first.outputs).toMatchObject({
      operation: 'created',
      'pull-request-number': '1',
      'head-branch': 'promote/staging/octo-web',
      'head-sha': head,
      verified: 'true',
      'auto-merge': 'true'
    })
    const [pull] = gh.pulls(repo)
    expect(pull).toMatchObject({
      title: `Promote ${IMAGE}:1.2.0 to staging`,
      labels: ['promotion', 'env/staging'],
      requestedReviewers: ['alice'],
      autoMerge: { mergeMethod: 'SQUASH' },
      draft: false
    })
    const state = readStateBlock(pull!.body!)
    expect(state).toMatchObject({
      v: 1,
      environment: 'staging',
      image: IMAGE,
      to: { digest: built[1]!.digest, tag: '1.2.0', revision: built[1]!.revision },
      verdict: null,
      proposedBy: `${gh.serverUrl}/${repo}/actions/runs/4242`
    })
    expect(pull!.body).toContain('No scan-gate verdict is attached')
    expect(pull!.body!.trimEnd().endsWith('-->')).toBe(true)
    const created = apiCalls(before, repo)
    process.stderr.write(`mode 1 create: ${created.length + graphqlCalls(before).length} API calls\n`)
    expect(created.length + graphqlCalls(before).length).toBeLessThanOrEqual(8)

    const again = gh.calls.length
    const second = await promote(repo, token, { 'image-ref': `${IMAGE}:1.2.0@${built[1]!.digest}` })
    expect(second.outputs).toMatchObject({
      operation: 'unchanged',
      'pull-request-number': '1',
      'head-sha': head
    })
    const rerun = [...apiCalls(again, repo), ...graphqlCalls(again)]
    expect(rerun.filter(call => call.write)).toEqual([])
    expect(rerun.length).toBeLessThanOrEqual(4)
    expect(gh.pulls(repo)[0]!.body).toBe(pull!.body)
  })

  it('updates the same pull request for a newer digest, with a comment reviewers notice', async () => {
    const { repo, token } = await gitops()
    await bumpBranch(repo, built[1]!)
    await promote(repo, token, { 'image-ref': `${IMAGE}:1.2.0@${built[1]!.digest}` })
    const newer = await bumpBranch(repo, built[2]!)
    const result = await promote(repo, token, { 'image-ref': `${IMAGE}:1.3.0@${built[2]!.digest}` })
    expect(result.outputs).toMatchObject({
      operation: 'updated',
      'pull-request-number': '1',
      'head-sha': newer
    })
    expect(gh.pulls(repo)).toHaveLength(1)
    expect(gh.pulls(repo)[0]!.title).toBe(`Promote ${IMAGE}:1.3.0 to staging`)
    expect(readStateBlock(gh.pulls(repo)[0]!.body!)?.to.digest).toBe(built[2]!.digest)
    const comments = gh.comments(repo).map(c => c.body)
    expect(comments).toHaveLength(1)
    expect(comments[0]).toContain('`1.3.0@')
    expect(comments[0]).toContain('(was `1.2.0@')
    expect(comments[0]).toContain('review again')
  })

  it('ends two concurrent runs with exactly one pull request (the loser finds and keeps it)', async () => {
    const { repo, token } = await gitops()
    await bumpBranch(repo, built[1]!)
    // A barrier: both runs list (and find nothing) before either creates.
    let arrived = 0
    let open: () => void = () => undefined
    const bothListed = new Promise<void>(resolve => (open = resolve))
    gh.hook({
      route: 'GET /repos/{owner}/{repo}/pulls',
      times: 2,
      run: async () => {
        if (++arrived === 2) open()
        await bothListed
      }
    })
    const before = gh.calls.length
    const inputs = { 'image-ref': `${IMAGE}:1.2.0@${built[1]!.digest}` }
    const results = await Promise.all([promote(repo, token, inputs), promote(repo, token, inputs)])
    expect(results.map(r => r.error)).toEqual([undefined, undefined])
    expect(results.map(r => r.outputs.operation).sort()).toEqual(['created', 'unchanged'])
    expect(results.map(r => r.outputs['pull-request-number'])).toEqual(['1', '1'])
    expect(gh.pulls(repo).filter(p => p.state === 'open')).toHaveLength(1)
    const creates = gh.calls.slice(before).filter(c => c.operation === 'pulls/create')
    expect(creates.map(c => c.status).sort()).toEqual([201, 422])
  })

  it('names the setting and the alternatives when Actions may not create pull requests', async () => {
    const { repo, token } = await gitops(1, {}, 'workflow')
    gh.setActionsCanCreatePullRequests(false, repo)
    await bumpBranch(repo, built[1]!)
    const refused = await promote(repo, token, { 'image-ref': `${IMAGE}:1.2.0@${built[1]!.digest}` })
    expect(refused.error).toContain('GitHub Actions is not permitted to create or approve pull requests.')
    expect(refused.error).toContain('Allow GitHub Actions to create and approve pull requests')
    expect(refused.error).toContain('actions/create-github-app-token')
    expect(refused.error).toContain('fine-grained personal access token')
    expect(refused.error).not.toContain(token)
    gh.setActionsCanCreatePullRequests(true, repo)
    const retried = await promote(repo, token, { 'image-ref': `${IMAGE}:1.2.0@${built[1]!.digest}` })
    expect(retried.outputs.operation).toBe('created')
  })

  it('warns and keeps the pull request when auto-merge is refused or a reviewer is not a collaborator', async () => {
    const { repo, token } = await gitops()
    await bumpBranch(repo, built[1]!)
    const result = await promote(repo, token, {
      'image-ref': `${IMAGE}:1.2.0@${built[1]!.digest}`,
      reviewers: 'alice, mallory',
      'auto-merge': 'merge'
    })
    expect(result.error).toBeUndefined()
    expect(result.outputs).toMatchObject({ operation: 'created', 'auto-merge': 'false' })
    expect(gh.pulls(repo)[0]).toMatchObject({ state: 'open', autoMerge: null })
    const warnings = result.commands.filter(c => c.startsWith('::warning'))
    expect(warnings.find(w => w.includes('Auto-merge (merge) was refused'))).toContain(
      'Auto merge is not allowed for this repository'
    )
    expect(warnings.find(w => w.includes('Could not request reviews'))).toContain('mallory')
  })

  it('refuses a digest the registry does not have', async () => {
    const { repo, token } = await gitops()
    await bumpBranch(repo, built[1]!)
    const missing = `sha256:${'9'.repeat(64)}`
    const result = await promote(repo, token, { 'image-ref': `${IMAGE}@${missing}` })
    expect(result.error).toContain(`${IMAGE}@${missing} does not exist in the registry`)
    expect(gh.pulls(repo)).toHaveLength(0)
  })
})
