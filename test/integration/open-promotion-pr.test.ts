import { escapeMarkdown } from '../../src/lib/summary.js'
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { getOctokit } from '@actions/github'
import { execFile } from 'node:child_process'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { OutputName } from '../../src/actions/open-promotion-pr/inputs.js'
import { temporaryBranch } from '../../src/actions/open-promotion-pr/head-branch.js'
import { openPromotionPr, type Collaborators } from '../../src/actions/open-promotion-pr/main.js'
import { readStateBlock } from '../../src/actions/open-promotion-pr/state-block.js'
import { errorMessage } from '../../src/lib/errors.js'
import { createCommandRunner } from '../../src/lib/exec.js'
import { createGitHubApi, createPullRequestApi, lazyOctokit } from '../../src/lib/github/index.js'
import { mapInputs } from '../../src/lib/inputs.js'
import { createRegistryClient } from '../../src/lib/registry/index.js'
import { SEVERITIES } from '../../src/lib/scanner/finding.js'
import { attachVerdict, type Verdict } from '../../src/lib/verdict/index.js'
import { startGitHub, type LocalGitHub } from '../../tools/local-github/index.js'
import {
  BASE_DEPLOYMENT,
  buildAppReleases,
  buildImage,
  createGitOps,
  createGitOpsOf,
  DEPLOYMENT_OF,
  manyCommits,
  overlay,
  overlayOf,
  pinDev,
  type BuiltImage
} from '../support/promotion.js'
import { startRegistry, type TestRegistry } from '../support/registry.js'
import { startRegistryProxy, type RegistryProxy } from '../support/registry-proxy.js'

let gh: LocalGitHub
let registry: TestRegistry
let IMAGE: string
const built: BuiltImage[] = []
let n = 0

beforeAll(async () => {
  ;[gh, registry] = await Promise.all([startGitHub(), startRegistry()])
  IMAGE = `${registry.host}/octo/web`
  built.push(...(await buildAppReleases(gh, registry)))
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
async function promote(
  repo: string,
  token: string,
  inputs: Record<string, string>,
  overrides: Partial<Collaborators> = {}
): Promise<Outcome> {
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
    sleep: async () => undefined,
    ...overrides
  }
  const commands: string[] = []
  const stop = captureCommands(commands)
  try {
    await openPromotionPr(deps)
    return { outputs, summary, commands }
  } catch (error) {
    return { outputs, summary, commands, error: errorMessage(error) }
  } finally {
    stop()
    await fs.rm(temp, { recursive: true, force: true })
  }
}

/**
 * Workflow commands written while a run is in progress go to every run in progress: one stdout wrapper for all, so
 * a run ending first does not take away the capture of one still going (concurrent runs).
 */
const capturing = new Set<string[]>()
let realWrite: typeof process.stdout.write | undefined
function captureCommands(into: string[]): () => void {
  if (capturing.size === 0) {
    const write = process.stdout.write.bind(process.stdout)
    realWrite = process.stdout.write
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      if (typeof chunk === 'string' && /^::(warning|notice|error)/.test(chunk)) {
        for (const commands of capturing) commands.push(chunk.trim())
      }
      return (write as (...args: unknown[]) => boolean)(chunk, ...rest)
    }) as typeof process.stdout.write
  }
  capturing.add(into)
  return () => {
    capturing.delete(into)
    if (capturing.size === 0 && realWrite) process.stdout.write = realWrite
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
      assignees: 'alice',
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
      assignees: ['alice'],
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

  it('shows the verdict scan-gate attached, and refuses to promote without a passing one when asked', async () => {
    const { repo, token } = await gitops()
    await bumpBranch(repo, built[1]!)
    const client = createRegistryClient({ ca: registry.caPem, env: {}, retries: 0 })
    const subject = { registry: registry.host, repository: 'octo/web', digest: built[1]!.digest }
    const zero = { total: 0, fixable: 0, blocking: 0, suppressed: 0 }
    const verdict = (decision: 'pass' | 'fail', time: string): Verdict => ({
      schemaVersion: 1,
      decision,
      subject: { name: IMAGE, digest: built[1]!.digest },
      blocking: decision === 'fail' ? 2 : 0,
      counts: {
        ...(Object.fromEntries(SEVERITIES.map(s => [s, zero])) as Verdict['counts']),
        high: { total: 2, fixable: 2, blocking: decision === 'fail' ? 2 : 0, suppressed: 0 }
      },
      policy: {
        digest: `sha256:${'0'.repeat(64)}`,
        severity: 'high',
        ignoreUnfixed: false,
        failOnExpiredIgnore: false,
        max: {}
      },
      scanner: { name: 'trivy', reportFormat: 'trivy', reportDigest: `sha256:${'1'.repeat(64)}` },
      expiredIgnores: 0,
      time
    })
    await attachVerdict(client, subject, verdict('fail', '2026-12-01T00:00:00Z'))
    const refused = await promote(repo, token, {
      'image-ref': `${IMAGE}:1.2.0@${built[1]!.digest}`,
      'require-verdict': 'pass'
    })
    expect(refused.error).toContain('has a failing scan-gate verdict attached, and require-verdict is pass')
    expect(gh.pulls(repo)).toHaveLength(0)

    await attachVerdict(client, subject, verdict('pass', '2026-12-02T00:00:00Z'))
    const passed = await promote(repo, token, {
      'image-ref': `${IMAGE}:1.2.0@${built[1]!.digest}`,
      'require-verdict': 'pass'
    })
    expect(passed.outputs.operation).toBe('created')
    const body = gh.pulls(repo)[0]!.body!
    expect(body).toContain(
      '**pass**: 0 blocking (findings: 2 high), policy `sha256:' +
        '0'.repeat(64) +
        '`, decided 2026\\-12\\-02T00\\:00\\:00Z'
    )
    expect(readStateBlock(body)?.verdict).toMatchObject({ decision: 'pass', time: '2026-12-02T00:00:00Z' })
  })

  it('says what is missing: a head branch never pushed, a token without pull-requests: write', async () => {
    const { repo, token } = await gitops()
    const noBranch = await promote(repo, token, { 'image-ref': `${IMAGE}:1.2.0@${built[1]!.digest}` })
    expect(noBranch.error).toContain("the branch must exist and hold commits 'main' lacks")
    expect(noBranch.error).toContain('Run bump-manifest with push: branch')
    await bumpBranch(repo, built[1]!)
    const readOnly = gh.createToken({ repos: { [repo]: { contents: 'write', pullRequests: 'read' } } })
    const refused = await promote(repo, readOnly, { 'image-ref': `${IMAGE}:1.2.0@${built[1]!.digest}` })
    expect(refused.error).toContain('Resource not accessible by integration')
    expect(refused.error).toContain('it needs contents: write and pull-requests: write')
    expect(gh.pulls(repo)).toHaveLength(0)
    const noBase = await promote(repo, token, {
      'image-ref': `${IMAGE}:1.2.0@${built[1]!.digest}`,
      base: 'nope'
    })
    expect(noBase.error).toContain("branch 'nope' does not exist in")
  })

  it('refuses a digest the registry does not have', async () => {
    const { repo, token } = await gitops()
    const missing = `sha256:${'9'.repeat(64)}`
    await bumpBranch(repo, { digest: missing, tag: '9.9.9', revision: '' })
    const result = await promote(repo, token, { 'image-ref': `${IMAGE}@${missing}` })
    expect(result.error).toContain(`${IMAGE}@${missing} does not exist in the registry`)
    expect(gh.pulls(repo)).toHaveLength(0)
    // The only image failed: promotions still has its object, as for any image that fails.
    expect(JSON.parse(result.outputs.promotions!)).toEqual([
      expect.objectContaining({
        image: IMAGE,
        operation: 'failed',
        error: result.error,
        'head-branch': 'promote/staging/octo-web',
        'pull-request-number': null
      })
    ])
    expect(result.outputs.operation).toBe('')
    expect(result.summary).toContain(`### Promotion of \`${IMAGE}\` to staging: failed`)
  })
})

describe('open for a branch: what base runs (mode 1)', () => {
  const STAGING = 'apps/web/overlays/staging/kustomization.yaml'
  const DEV = 'apps/web/overlays/dev/kustomization.yaml'

  it('lists the source commits from the digest base runs, names the one it replaces, and a re-run writes nothing', async () => {
    const { repo, token } = await gitops()
    await bumpBranch(repo, built[2]!)
    // base moves on after the branch left it: the shallow clone must deepen to find where.
    await manyCommits(gh, repo, 'main', 40)
    const first = await promote(repo, token, { 'image-ref': `${IMAGE}:1.3.0@${built[2]!.digest}` })
    expect(first.error).toBeUndefined()
    expect(first.outputs.operation).toBe('created')
    expect(JSON.parse(first.outputs.promoted!)).toEqual({
      image: IMAGE,
      from: built[0]!.digest,
      to: built[2]!.digest,
      files: [STAGING]
    })
    const body = gh.pulls(repo)[0]!.body!
    expect(readStateBlock(body)).toMatchObject({
      from: { digest: built[0]!.digest, tag: '1.1.0', revision: built[0]!.revision },
      to: { digest: built[2]!.digest, tag: '1.3.0', revision: built[2]!.revision },
      files: [STAGING]
    })
    expect(body).toContain(`| \`1.1.0@${built[0]!.digest.slice(7, 19)}\` | \`1.3.0@`)
    expect(body).toContain('2 commit(s) in [octo\\/app]')
    expect(body).toContain('Release 1\\.3\\.0')
    expect(body).toContain('Release 1\\.2\\.0')
    expect(body).toContain(`Until this is merged, staging runs \`${IMAGE}@${built[0]!.digest}\`.`)
    expect(body).toContain(`revert this pull request's merge commit, which pins \`1.1.0@`)

    const again = gh.calls.length
    const second = await promote(repo, token, { 'image-ref': `${IMAGE}:1.3.0@${built[2]!.digest}` })
    expect(second.outputs.operation).toBe('unchanged')
    expect(JSON.parse(second.outputs.promoted!).from).toBe(built[0]!.digest)
    expect(gh.calls.slice(again).filter(call => call.write)).toEqual([])
    expect(gh.pulls(repo)[0]!.body).toBe(body)
  })

  it('says plainly that base runs two digests in the files the branch changes, and paths narrows to one', async () => {
    const { repo, token } = await gitops()
    const both = {
      [DEV]: overlay(IMAGE, built[2]!.digest, '1.3.0'),
      [STAGING]: overlay(IMAGE, built[2]!.digest, '1.3.0')
    }
    for (const branch of ['promote/both', 'promote/staging-only']) {
      await gh.commit(repo, {
        branch,
        files: both,
        message: `Pin both\n\nImage: ${IMAGE}@${built[2]!.digest}\n`
      })
    }
    const inputs = { 'image-ref': `${IMAGE}:1.3.0@${built[2]!.digest}` }
    const several = await promote(repo, token, { ...inputs, 'head-branch': 'promote/both' })
    expect(several.error).toBeUndefined()
    const pulls = () => gh.pulls(repo).filter(pull => pull.state === 'open')
    const body = pulls()[0]!.body!
    expect(readStateBlock(body)?.from).toBeUndefined()
    expect(readStateBlock(body)?.files).toEqual([DEV, STAGING])
    expect(body).toContain('at more than one version in the files this branch changes')
    expect(body).toContain(built[0]!.digest.slice(7, 40))
    expect(body).toContain(built[1]!.digest.slice(7, 40))

    await gh.commit(repo, {
      branch: 'promote/qa',
      files: { ...both, 'apps/web/overlays/qa/kustomization.yaml': overlay(IMAGE, built[2]!.digest, '1.3.0') }
    })
    // paths names an overlay base does not have yet (and leaves out the two it has).
    const fresh = await promote(repo, token, {
      ...inputs,
      'head-branch': 'promote/qa',
      paths: 'apps/web/overlays/qa'
    })
    expect(fresh.error).toBeUndefined()
    expect(JSON.parse(fresh.outputs.promoted!).from).toBeNull()
    const qa = pulls().find(pull => pull.head === 'promote/qa')!.body!
    expect(qa).toContain(
      escapeMarkdown(`main pins no digest of ${IMAGE} in the files this branch changes (they are new there),`)
    )

    const narrowed = await promote(repo, token, {
      ...inputs,
      'head-branch': 'promote/staging-only',
      paths: 'apps/web/overlays/staging'
    })
    expect(narrowed.error).toBeUndefined()
    expect(JSON.parse(narrowed.outputs.promoted!)).toEqual({
      image: IMAGE,
      from: built[0]!.digest,
      to: built[2]!.digest,
      files: [STAGING]
    })
  })

  it('closes the pull request when base already pins what the branch proposes, naming the commit; our branch goes', async () => {
    const { repo, token } = await gitops()
    await bumpBranch(repo, built[2]!)
    const inputs = { 'image-ref': `${IMAGE}:1.3.0@${built[2]!.digest}` }
    expect((await promote(repo, token, inputs)).outputs.operation).toBe('created')
    const byHand = await gh.commit(repo, {
      files: { [STAGING]: overlay(IMAGE, built[2]!.digest, '1.3.0') },
      message: 'Promote web by hand\n'
    })
    // A later change to the same file that keeps the digest: the comment still names the commit that pinned it.
    const later = await gh.commit(repo, {
      files: {
        [STAGING]: overlay(IMAGE, built[2]!.digest, '1.3.0').replace('# overlay', '# staging, team web')
      },
      message: 'Name the owner of staging\n'
    })
    const result = await promote(repo, token, inputs)
    expect(result.error).toBeUndefined()
    expect(result.outputs).toMatchObject({ operation: 'closed', 'pull-request-number': '1' })
    expect(gh.pulls(repo)[0]!.state).toBe('closed')
    const comment = gh.comments(repo).at(-1)!.body
    expect(comment).toContain(byHand.slice(0, 12))
    expect(comment).not.toContain(later.slice(0, 12))
    expect(comment).toContain(`already pins \`${IMAGE}@${built[2]!.digest}\``)
    expect(await gh.ref(repo, 'promote/staging/octo-web')).toBeUndefined()
  })

  it('keeps the pull request while the branch holds a commit base lacks; once base has it, closes but keeps that branch', async () => {
    const { repo, token } = await gitops()
    await bumpBranch(repo, built[2]!)
    const scale = { 'apps/web/overlays/staging/patch.yaml': 'replicas: 3\n' }
    await gh.commit(repo, { branch: 'promote/staging/octo-web', files: scale, message: 'Scale staging\n' })
    const inputs = { 'image-ref': `${IMAGE}:1.3.0@${built[2]!.digest}` }
    expect((await promote(repo, token, inputs)).outputs.operation).toBe('created')
    await gh.commit(repo, { files: { [STAGING]: overlay(IMAGE, built[2]!.digest, '1.3.0') } })
    const head = await gh.ref(repo, 'promote/staging/octo-web')

    const before = gh.calls.length
    const kept = await promote(repo, token, inputs)
    expect(kept.error).toBeUndefined()
    expect(kept.outputs).toMatchObject({ operation: 'unchanged', 'pull-request-number': '1' })
    expect(kept.commands.find(c => c.startsWith('::notice'))).toContain(
      'but promote/staging/octo-web still changes other things main lacks: #1 stays open, untouched'
    )
    expect(gh.pulls(repo)[0]!.state).toBe('open')
    expect(gh.calls.slice(before).filter(call => call.write)).toEqual([])
    expect(await gh.ref(repo, 'promote/staging/octo-web')).toBe(head)

    await gh.commit(repo, { files: scale })
    const result = await promote(repo, token, inputs)
    expect(result.outputs.operation).toBe('closed')
    expect(gh.pulls(repo)[0]!.state).toBe('closed')
    expect(await gh.ref(repo, 'promote/staging/octo-web')).toBe(head)

    const again = gh.calls.length
    const rerun = await promote(repo, token, inputs)
    expect(rerun.error).toBeUndefined()
    expect(rerun.outputs).toMatchObject({ operation: 'unchanged', 'pull-request-number': '' })
    expect(gh.calls.slice(again).filter(call => call.write)).toEqual([])
  })

  it("keeps a head branch shared with another image whose pin base lacks; deletes only this image's commits", async () => {
    const { repo, token } = await gitops()
    const API = `${registry.host}/octo/api`
    const API_DIGEST = `sha256:${'b'.repeat(64)}`
    const apiPin = { 'apps/api/overlays/staging/kustomization.yaml': overlay(API, API_DIGEST, '2.0.0') }
    const branch = 'promote/staging/shared'
    await bumpBranch(repo, built[2]!, branch)
    await gh.commit(repo, {
      branch,
      files: apiPin,
      message: `Pin ${API} to 2.0.0\n\nImage: ${API}@${API_DIGEST}\n`,
      author: { name: 'github-actions[bot]', email: '41898282+github-actions[bot]@users.noreply.github.com' }
    })
    const inputs = { 'image-ref': `${IMAGE}:1.3.0@${built[2]!.digest}`, 'head-branch': branch }
    expect((await promote(repo, token, inputs)).outputs.operation).toBe('created')
    // Base gets this image's digest another way; the other image's pin is only on the branch.
    await gh.commit(repo, { files: { [STAGING]: overlay(IMAGE, built[2]!.digest, '1.3.0') } })
    const head = await gh.ref(repo, branch)

    const before = gh.calls.length
    const kept = await promote(repo, token, inputs)
    expect(kept.error).toBeUndefined()
    expect(kept.outputs).toMatchObject({ operation: 'unchanged', 'pull-request-number': '1' })
    expect(gh.pulls(repo)[0]!.state).toBe('open')
    expect(gh.calls.slice(before).filter(call => call.write)).toEqual([])
    expect(await gh.ref(repo, branch)).toBe(head)

    // Once base has both, the pull request goes; the branch holding the other image's commit stays.
    await gh.commit(repo, { files: apiPin })
    const closed = await promote(repo, token, inputs)
    expect(closed.outputs.operation).toBe('closed')
    expect(gh.pulls(repo)[0]!.state).toBe('closed')
    expect(await gh.ref(repo, branch)).toBe(head)
  })

  it('deletes its branch under a lease: a newer digest pushed after the compare keeps the branch', async () => {
    const { repo, token } = await gitops()
    const branch = 'promote/staging/octo-web'
    await bumpBranch(repo, built[2]!)
    const inputs = { 'image-ref': `${IMAGE}:1.3.0@${built[2]!.digest}` }
    expect((await promote(repo, token, inputs)).outputs.operation).toBe('created')
    await gh.commit(repo, { files: { [STAGING]: overlay(IMAGE, built[2]!.digest, '1.3.0') } })
    let newer = ''
    gh.hook({
      route: 'GET /repos/{owner}/{repo}/compare/{basehead}',
      run: async call => {
        if (call.repo === repo) newer = await bumpBranch(repo, built[1]!)
      }
    })
    const result = await promote(repo, token, inputs)
    expect(result.error).toBeUndefined()
    expect(newer).not.toBe('')
    expect(result.outputs.operation).toBe('closed')
    expect(result.commands.find(c => c.startsWith('::notice'))).toContain(`${branch} moved on from`)
    expect(await gh.ref(repo, branch)).toBe(newer)
  })

  it('proposes what the branch pins when image-ref names another digest, and warns', async () => {
    const { repo, token } = await gitops()
    await bumpBranch(repo, built[2]!)
    const result = await promote(repo, token, { 'image-ref': `${IMAGE}:1.2.0@${built[1]!.digest}` })
    expect(result.error).toBeUndefined()
    expect(result.outputs.operation).toBe('created')
    expect(readStateBlock(gh.pulls(repo)[0]!.body!)?.to).toMatchObject({
      digest: built[2]!.digest,
      tag: '1.3.0'
    })
    expect(result.commands.find(c => c.startsWith('::warning'))).toContain(
      `pins ${IMAGE} to ${built[2]!.digest} in ${STAGING}:5, not to the ${built[1]!.digest} of image-ref`
    )
  })

  it('finds where the branch left base up to 1,000 commits back (a shallow clone deepened), and says so beyond', async () => {
    const { repo, token } = await gitops()
    await bumpBranch(repo, built[2]!)
    await manyCommits(gh, repo, 'main', 1000)
    const inputs = { 'image-ref': `${IMAGE}:1.3.0@${built[2]!.digest}` }
    const within = await promote(repo, token, inputs)
    expect(within.error).toBeUndefined()
    expect(within.outputs.operation).toBe('created')
    await manyCommits(gh, repo, 'main', 1)
    const beyond = await promote(repo, token, inputs)
    expect(beyond.error).toContain(
      "branch 'promote/staging/octo-web' shares no commit with 'main' in the last 1000 commits"
    )
  })

  it('reads the names of changed files as git gives them: a leading space, a backslash', async () => {
    const { repo, token } = await gitops()
    await bumpBranch(repo, built[2]!, 'promote/odd')
    // A name with a leading space and a backslash: trimmed or turned into a path, it would be another file.
    const odd = 'apps/web/overlays/qa/ odd\\name.yaml'
    await gh.commit(repo, {
      branch: 'promote/odd',
      files: { [odd]: BASE_DEPLOYMENT(`${IMAGE}:1.3.0@${built[2]!.digest}`).replace(':0.0.1', '') }
    })
    const inputs = { 'image-ref': `${IMAGE}:1.3.0@${built[2]!.digest}` }
    const named = await promote(repo, token, { ...inputs, 'head-branch': 'promote/odd' })
    expect(named.error).toBeUndefined()
    expect(JSON.parse(named.outputs.promoted!).files).toEqual([odd, STAGING])
  })

  it('refuses a branch changing more than 10,000 files', async () => {
    const { repo, token } = await gitops()
    const inputs = { 'image-ref': `${IMAGE}:1.3.0@${built[2]!.digest}` }
    await bumpBranch(repo, built[2]!)
    const dir = (await gh.git(repo, 'rev-parse', '--absolute-git-dir')).trim()
    const parent = (await gh.ref(repo, 'promote/staging/octo-web'))!
    let stream = `commit refs/heads/promote/staging/octo-web\ncommitter Dev <dev@example.com> 1700000000 +0000\n`
    stream += `data 6\nMany\n\nfrom ${parent}\n`
    for (let i = 0; i <= 10_000; i++) stream += `M 100644 inline many/f${i}.txt\ndata 2\n${i % 10}\n\n`
    await new Promise<void>((resolve, reject) => {
      const child = execFile('git', ['fast-import', '--quiet', '--force'], { cwd: dir }, error =>
        error ? reject(error) : resolve()
      )
      child.stdin?.end(stream)
    })
    const many = await promote(repo, token, inputs)
    expect(many.error).toContain(
      "branch 'promote/staging/octo-web' changes 10002 files against 'main', more than the 10000 a promotion branch may change"
    )
    expect(gh.pulls(repo).filter(pull => pull.head === 'promote/staging/octo-web')).toHaveLength(0)
  }, 60_000)

  it('says what the branch lacks when it changes no pin of the image', async () => {
    const { repo, token } = await gitops()
    await gh.commit(repo, { branch: 'promote/staging/octo-web', files: { 'README.md': 'docs\n' } })
    const result = await promote(repo, token, { 'image-ref': `${IMAGE}:1.3.0@${built[2]!.digest}` })
    expect(result.error).toContain(
      `branch 'promote/staging/octo-web' changes no digest of ${IMAGE} against 'main'`
    )
    expect(result.error).toContain('(it changes README.md)')
    expect(gh.pulls(repo)).toHaveLength(0)
  })
})

describe('promote environment to environment (mode 2)', () => {
  const STAGING = 'apps/web/overlays/staging/kustomization.yaml'
  const promoteInputs = (extra: Record<string, string> = {}) => ({
    image: IMAGE,
    'from-environment': 'dev',
    'from-paths': 'apps/web/overlays/dev',
    paths: 'apps/web/overlays/staging',
    ...extra
  })
  const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000).toISOString().replace(/\.\d{3}Z$/, 'Z')

  it('promotes what dev pins once Flux reported it healthy on a later commit, byte-minimal on the head branch', async () => {
    const { repo, token } = await gitops()
    // Flux posts on the revision it synced: here a later, unrelated commit of main.
    const later = await gh.commit(repo, { files: { 'README.md': 'docs\n' }, message: 'Docs\n' })
    gh.addStatus(repo, {
      sha: later,
      context: 'kustomization/apps-dev/0c9c2e41',
      state: 'success',
      createdAt: hoursAgo(3)
    })
    const result = await promote(
      repo,
      token,
      promoteInputs({ 'require-status': 'kustomization/apps-dev/*', 'min-soak': '2h', labels: 'promotion' })
    )
    expect(result.error).toBeUndefined()
    expect(result.outputs).toMatchObject({ operation: 'created', verified: 'true' })
    expect(JSON.parse(result.outputs.promoted!)).toEqual({
      image: IMAGE,
      from: built[0]!.digest,
      to: built[1]!.digest,
      files: [STAGING]
    })
    expect(await gh.readFile(repo, 'promote/staging/octo-web', STAGING)).toBe(
      overlay(IMAGE, built[1]!.digest, '1.2.0')
    )
    const [commit] = await gh.log(repo, 'promote/staging/octo-web')
    expect(commit!.body).toContain(`Image: ${IMAGE}@${built[1]!.digest}`)
    expect(result.outputs['head-sha']).toBe(commit!.sha)
    const pull = gh.pulls(repo)[0]!
    expect(pull.draft).toBe(false)
    const state = readStateBlock(pull.body!)
    expect(state?.verification).toMatchObject({
      verified: true,
      commit: later,
      statuses: [{ context: 'kustomization/apps-dev/0c9c2e41', state: 'success', kind: 'status' }]
    })
    // The source commits between the two images, from their labels and the compare API.
    expect(pull.body).toContain('1 commit(s) in [octo\\/app]')
    expect(pull.body).toContain('Release 1\\.2\\.0')
    expect(pull.body).toContain(`revert this pull request's merge commit, which pins \`1.1.0@`)
  })

  it('accepts an Argo CD status or a check run, and skips with a notice when dev is red', async () => {
    const argo = await gitops()
    const pinned = (await gh.log(argo.repo))[0]!.sha
    gh.addStatus(argo.repo, {
      sha: pinned,
      context: 'continuous-delivery/web-dev',
      state: 'success',
      creator: 'argocd'
    })
    const viaStatus = await promote(
      argo.repo,
      argo.token,
      promoteInputs({ 'require-status': 'continuous-delivery/web-dev' })
    )
    expect(viaStatus.outputs).toMatchObject({ operation: 'created', verified: 'true' })

    const checks = await gitops()
    const sha = (await gh.log(checks.repo))[0]!.sha
    gh.addCheckRun(checks.repo, { headSha: sha, name: 'promoter/dev-healthy', conclusion: 'success' })
    const viaCheck = await promote(
      checks.repo,
      checks.token,
      promoteInputs({ 'require-status': 'promoter/*' })
    )
    expect(viaCheck.outputs).toMatchObject({ operation: 'created', verified: 'true' })
    expect(readStateBlock(gh.pulls(checks.repo)[0]!.body!)?.verification.statuses[0]?.kind).toBe('check-run')

    const red = await gitops()
    const redSha = (await gh.log(red.repo))[0]!.sha
    gh.addStatus(red.repo, { sha: redSha, context: 'kustomization/apps-dev/0c9c2e41', state: 'failure' })
    const skipped = await promote(
      red.repo,
      red.token,
      promoteInputs({ 'require-status': 'kustomization/apps-dev/*' })
    )
    expect(skipped.outputs).toMatchObject({
      operation: 'skipped',
      verified: 'false',
      'pull-request-number': ''
    })
    expect(gh.pulls(red.repo)).toHaveLength(0)
    expect(await gh.ref(red.repo, 'promote/staging/octo-web')).toBeUndefined()
    const notice = skipped.commands.find(c => c.startsWith('::notice'))
    expect(notice).toContain(redSha)
    expect(notice).toContain('kustomization/apps-dev/0c9c2e41 is failure')
  })

  it('opens a draft saying what it waits for when the success is too fresh for min-soak, or fails', async () => {
    const { repo, token } = await gitops()
    const sha = (await gh.log(repo))[0]!.sha
    gh.addStatus(repo, {
      sha,
      context: 'kustomization/apps-dev/0c9c2e41',
      state: 'success',
      createdAt: hoursAgo(0.25)
    })
    const inputs = promoteInputs({ 'require-status': 'kustomization/apps-dev/*', 'min-soak': '1h' })
    const failed = await promote(repo, token, { ...inputs, 'when-unverified': 'fail' })
    expect(failed.error).toMatch(
      /not verified upstream \(dev\): 'kustomization\/apps-dev\/\*': green for 1[45]m, less than min-soak 1h/
    )
    const draft = await promote(repo, token, { ...inputs, 'when-unverified': 'draft' })
    expect(draft.outputs).toMatchObject({ operation: 'created', verified: 'false' })
    const pull = gh.pulls(repo)[0]!
    expect(pull.draft).toBe(true)
    expect(pull.body).toContain(
      'Not verified in dev: waiting for `kustomization/apps-dev/*`, green for at least 1h'
    )

    // Green long enough now: the same pull request is updated and made ready for review.
    gh.addStatus(repo, {
      sha,
      context: 'kustomization/apps-dev/0c9c2e41',
      state: 'success',
      createdAt: hoursAgo(2)
    })
    const ready = await promote(repo, token, { ...inputs, 'when-unverified': 'draft' })
    expect(ready.outputs).toMatchObject({
      operation: 'updated',
      verified: 'true',
      'pull-request-number': '1'
    })
    expect(gh.pulls(repo)).toHaveLength(1)
    expect(gh.pulls(repo)[0]!.draft).toBe(false)
    expect(gh.pulls(repo)[0]!.body).toContain('Verified in dev')
    expect(gh.comments(repo).at(-1)!.body).toContain('is now verified upstream')
  })

  it('closes the pull request when base already pins the digest, naming the commit, and deletes our branch', async () => {
    const { repo, token } = await gitops()
    await promote(repo, token, promoteInputs())
    const byHand = await gh.commit(repo, {
      files: { [STAGING]: overlay(IMAGE, built[1]!.digest, '1.2.0') },
      message: 'Promote web by hand\n'
    })
    // Later changes under paths that keep the digest: the comment still names the commit that pinned it.
    const later = await gh.commit(repo, {
      files: {
        [STAGING]: overlay(IMAGE, built[1]!.digest, '1.2.0').replace('# overlay', '# staging, team web'),
        'apps/web/overlays/staging/patch.yaml': 'replicas: 3\n'
      },
      message: 'Scale staging\n'
    })
    const result = await promote(repo, token, promoteInputs())
    expect(result.outputs).toMatchObject({ operation: 'closed', 'pull-request-number': '1' })
    expect(gh.pulls(repo)[0]!.state).toBe('closed')
    expect(gh.comments(repo).at(-1)!.body).toContain(byHand.slice(0, 12))
    expect(gh.comments(repo).at(-1)!.body).not.toContain(later.slice(0, 12))
    expect(await gh.ref(repo, 'promote/staging/octo-web')).toBeUndefined()
  })

  it('leaves a verified promotion someone made a draft as it is, with a notice, and writes nothing', async () => {
    const { repo, token } = await gitops()
    const [owner, name] = repo.split('/') as [string, string]
    expect((await promote(repo, token, promoteInputs())).outputs).toMatchObject({
      operation: 'created',
      verified: 'true'
    })
    const api = createPullRequestApi(lazyOctokit({ token, apiUrl: gh.apiUrl }))
    expect((await api.convertToDraft(await api.readPull({ owner, repo: name }, 1))).ok).toBe(true)

    const before = gh.calls.length
    const again = await promote(repo, token, promoteInputs())
    expect(again.error).toBeUndefined()
    expect(again.outputs).toMatchObject({ operation: 'unchanged', 'pull-request-number': '1' })
    expect(gh.pulls(repo)[0]!.draft).toBe(true)
    expect(again.commands).toContainEqual(
      expect.stringMatching(
        /^::notice::#1 proposes .* verified upstream, but is a draft: mark it ready for review/
      )
    )
    expect(gh.calls.slice(before).filter(call => call.write)).toEqual([])
  })

  /** A commit on main next to the lines the promotion changes: the open pull request now conflicts. */
  const conflictOnMain = (repo: string) =>
    gh.commit(repo, {
      files: { [STAGING]: `${overlay(IMAGE, built[0]!.digest, '1.1.0')}    # pinned to the release\n` },
      message: 'Note on staging\n'
    })

  it('adds its commit on top of a foreign commit when the branch merges cleanly, and keeps that commit', async () => {
    const { repo, token } = await gitops()
    await promote(repo, token, promoteInputs())
    const foreign = await gh.commit(repo, {
      branch: 'promote/staging/octo-web',
      files: { 'apps/web/overlays/staging/patch.yaml': 'replicas: 3\n' },
      message: 'Scale staging\n'
    })
    await pinDev(gh, repo, IMAGE, built[2]!)
    const result = await promote(repo, token, promoteInputs())
    expect(result.outputs.operation).toBe('updated')
    const [ours, theirs] = await gh.log(repo, 'promote/staging/octo-web')
    expect([ours!.parents, theirs!.sha]).toEqual([[foreign], foreign])
    // The commit this run pushed, not the head the pull request had when it was listed.
    expect(result.outputs['head-sha']).toBe(ours!.sha)
    expect(await gh.readFile(repo, 'promote/staging/octo-web', STAGING)).toBe(
      overlay(IMAGE, built[2]!.digest, '1.3.0')
    )
  })

  it('rebuilds a conflicting branch of only its own commits from base, under a lease', async () => {
    const { repo, token } = await gitops()
    await promote(repo, token, promoteInputs())
    const old = await gh.ref(repo, 'promote/staging/octo-web')
    const note = await conflictOnMain(repo)
    await pinDev(gh, repo, IMAGE, built[2]!)
    const main = (await gh.ref(repo, 'main'))!
    const result = await promote(repo, token, promoteInputs())
    expect(result.error).toBeUndefined()
    expect(result.outputs.operation).toBe('updated')
    const [rebuilt] = await gh.log(repo, 'promote/staging/octo-web')
    expect(rebuilt!.parents).toEqual([main])
    expect(rebuilt!.sha).not.toBe(old)
    expect(result.outputs['head-sha']).toBe(rebuilt!.sha)
    expect(await gh.readFile(repo, 'promote/staging/octo-web', STAGING)).toBe(
      `${overlay(IMAGE, built[2]!.digest, '1.3.0')}    # pinned to the release\n`
    )
    expect(note).not.toBe(main)
    expect(gh.pulls(repo)[0]).toMatchObject({ state: 'open', number: 1 })
  })

  it('refuses to rebuild a conflicting branch that holds a foreign commit, and a lease lost to a push', async () => {
    const { repo, token } = await gitops()
    await promote(repo, token, promoteInputs())
    const foreign = await gh.commit(repo, {
      branch: 'promote/staging/octo-web',
      files: { 'apps/web/overlays/staging/patch.yaml': 'replicas: 3\n' },
      message: 'Scale staging\n'
    })
    await conflictOnMain(repo)
    await pinDev(gh, repo, IMAGE, built[2]!)
    const result = await promote(repo, token, promoteInputs())
    expect(result.error).toContain(`conflicts with 'main' and holds commit ${foreign}`)
    expect(result.error).toContain('did not make')
    expect(await gh.ref(repo, 'promote/staging/octo-web')).toBe(foreign)

    // All ours again, but someone pushes between our read of the branch and our rebuild: the lease refuses.
    const clean = await gitops()
    await promote(clean.repo, clean.token, promoteInputs())
    await conflictOnMain(clean.repo)
    await pinDev(gh, clean.repo, IMAGE, built[2]!)
    let sneaked = ''
    gh.hook({
      route: 'GET /repos/{owner}/{repo}/compare/{basehead}',
      run: async () => {
        sneaked = await gh.commit(clean.repo, {
          branch: 'promote/staging/octo-web',
          files: { 'late.yaml': 'a: 1\n' },
          message: 'Late fix\n'
        })
      }
    })
    const lost = await promote(clean.repo, clean.token, promoteInputs())
    expect(lost.error).toContain('moved while it was being rebuilt')
    expect(await gh.ref(clean.repo, 'promote/staging/octo-web')).toBe(sneaked)
  })

  it('does not count statuses for an image-ref digest that from-paths do not pin', async () => {
    const { repo, token } = await gitops()
    // Dev pins 1.2.0 and is green; image-ref names 1.3.0, which dev never ran.
    const head = (await gh.log(repo))[0]!.sha
    gh.addStatus(repo, { sha: head, context: 'kustomization/apps-dev/0c9c2e41', state: 'success' })
    const result = await promote(
      repo,
      token,
      promoteInputs({
        'require-status': 'kustomization/apps-dev/*',
        'image-ref': `${IMAGE}:1.3.0@${built[2]!.digest}`
      })
    )
    expect(result.error).toBeUndefined()
    expect(result.outputs).toMatchObject({ operation: 'skipped', verified: 'false' })
    const notice = result.commands.find(c => c.startsWith('::notice'))
    expect(notice).toContain(`pin ${built[1]!.digest}, not this digest`)
    expect(gh.pulls(repo)).toHaveLength(0)
    expect(await gh.ref(repo, 'promote/staging/octo-web')).toBeUndefined()
  })

  it('counts the statuses of a commit that pinned the digest by hand, past later changes of from-paths that kept it', async () => {
    const { repo, token } = await gitops(0)
    const DEV = 'apps/web/overlays/dev'
    // No trailer: only the history of the dev overlay says which commit made it run 1.2.0.
    const byHand = await gh.commit(repo, {
      files: { [`${DEV}/kustomization.yaml`]: overlay(IMAGE, built[1]!.digest, '1.2.0') },
      message: 'Roll dev forward\n'
    })
    gh.addStatus(repo, { sha: byHand, context: 'kustomization/apps-dev/0c9c2e41', state: 'success' })
    for (let i = 1; i <= 3; i++) await gh.commit(repo, { files: { 'README.md': `docs ${i}\n` } })
    await gh.commit(repo, {
      files: {
        [`${DEV}/kustomization.yaml`]: `${overlay(IMAGE, built[1]!.digest, '1.2.0')}replicas:\n  - name: web\n    count: 3\n`
      },
      message: 'Scale dev\n'
    })
    await gh.commit(repo, { files: { 'README.md': 'docs 4\n' } })
    const result = await promote(repo, token, promoteInputs({ 'require-status': 'kustomization/apps-dev/*' }))
    expect(result.error).toBeUndefined()
    expect(result.outputs).toMatchObject({ operation: 'created', verified: 'true' })
    expect(readStateBlock(gh.pulls(repo)[0]!.body!)?.verification).toMatchObject({
      verified: true,
      commit: byHand,
      pinnedBy: byHand
    })
  })

  it('counts only the latest run of a digest dev left and came back to', async () => {
    const { repo, token } = await gitops()
    const DEV = 'apps/web/overlays/dev/kustomization.yaml'
    // Dev ran 1.2.0 (pinned with the trailer) and was green, moved to 1.3.0, then back to 1.2.0 by hand.
    const first = (await gh.log(repo))[0]!.sha
    gh.addStatus(repo, { sha: first, context: 'kustomization/apps-dev/0c9c2e41', state: 'success' })
    await gh.commit(repo, {
      files: { [DEV]: overlay(IMAGE, built[2]!.digest, '1.3.0') },
      message: 'Try 1.3.0\n'
    })
    const back = await gh.commit(repo, {
      files: { [DEV]: overlay(IMAGE, built[1]!.digest, '1.2.0') },
      message: 'Back to 1.2.0\n'
    })
    await gh.commit(repo, { files: { 'README.md': 'docs\n' } })
    const inputs = promoteInputs({ 'require-status': 'kustomization/apps-dev/*' })
    const skipped = await promote(repo, token, inputs)
    expect(skipped.error).toBeUndefined()
    expect(skipped.outputs).toMatchObject({ operation: 'skipped', verified: 'false' })
    expect(skipped.commands.find(c => c.startsWith('::notice'))).toContain(`pinned by ${back}`)
    // Green since it came back: that counts.
    gh.addStatus(repo, { sha: back, context: 'kustomization/apps-dev/0c9c2e41', state: 'success' })
    const verified = await promote(repo, token, inputs)
    expect(verified.outputs).toMatchObject({ operation: 'created', verified: 'true' })
    expect(readStateBlock(gh.pulls(repo)[0]!.body!)?.verification).toMatchObject({
      commit: back,
      pinnedBy: back
    })
  })

  it('never counts a commit that ran another digest when dev inherits the pin from a base outside from-paths', async () => {
    const repo = `octo/gitops-${++n}`
    const SHARED = 'shared/dev-base/deploy.yaml'
    const deployment = (at: BuiltImage) =>
      BASE_DEPLOYMENT(`${IMAGE}:${at.tag}@${at.digest}`).replace(':0.0.1', '')
    await gh.createRepo(repo, {
      defaultBranch: 'main',
      files: {
        'apps/web/base/kustomization.yaml': 'resources:\n  - deployment.yaml\n',
        'apps/web/base/deployment.yaml': BASE_DEPLOYMENT(IMAGE),
        'apps/web/overlays/staging/kustomization.yaml': overlay(IMAGE, built[0]!.digest, built[0]!.tag),
        // Dev names no image of its own: what it runs is what the shared base pins.
        'apps/web/overlays/dev/kustomization.yaml': 'resources:\n  - ../../../../shared/dev-base\n',
        'shared/dev-base/kustomization.yaml': 'resources:\n  - deploy.yaml\n',
        [SHARED]: deployment(built[2]!)
      }
    })
    const token = gh.createToken({
      repos: {
        [repo]: { contents: 'write', pullRequests: 'write', statuses: 'read', checks: 'read' },
        'octo/app': { contents: 'read' }
      }
    })
    // Dev ran 1.3.0 here, and was green.
    const ranOther = await gh.commit(repo, { files: { 'README.md': 'docs\n' }, message: 'Docs\n' })
    gh.addStatus(repo, { sha: ranOther, context: 'kustomization/apps-dev/0c9c2e41', state: 'success' })
    // The shared base moves dev to 1.2.0 by hand; nothing under from-paths changes.
    const moved = await gh.commit(repo, {
      files: { [SHARED]: deployment(built[1]!) },
      message: 'Dev base to 1.2.0\n'
    })
    await gh.commit(repo, { files: { 'README.md': 'more docs\n' }, message: 'Docs\n' })

    const inputs = promoteInputs({ 'require-status': 'kustomization/apps-dev/*' })
    const skipped = await promote(repo, token, inputs)
    expect(skipped.error).toBeUndefined()
    expect(skipped.outputs).toMatchObject({ operation: 'skipped', verified: 'false' })
    expect(skipped.commands.find(c => c.startsWith('::notice'))).toContain(`pinned by ${moved}`)
    expect(gh.pulls(repo)).toHaveLength(0)

    gh.addStatus(repo, { sha: moved, context: 'kustomization/apps-dev/0c9c2e41', state: 'success' })
    const verified = await promote(repo, token, inputs)
    expect(verified.error).toBeUndefined()
    expect(verified.outputs).toMatchObject({ operation: 'created', verified: 'true' })
    expect(readStateBlock(gh.pulls(repo)[0]!.body!)?.verification).toMatchObject({
      commit: moved,
      pinnedBy: moved
    })
  })

  it('makes a pull request ready for review a draft, auto-merge off, before pushing an unverified digest to it', async () => {
    const { repo, token } = await gitops(1, { allowAutoMerge: true })
    await gh.protectBranch(repo, 'main', { requiredApprovals: 1 })
    gh.addStatus(repo, {
      sha: (await gh.log(repo))[0]!.sha,
      context: 'kustomization/apps-dev/0c9c2e41',
      state: 'success',
      createdAt: hoursAgo(3)
    })
    const inputs = promoteInputs({
      'require-status': 'kustomization/apps-dev/*',
      'when-unverified': 'draft',
      'auto-merge': 'squash'
    })
    const first = await promote(repo, token, inputs)
    expect(first.outputs).toMatchObject({ operation: 'created', verified: 'true', 'auto-merge': 'true' })
    expect(gh.pulls(repo)[0]).toMatchObject({ draft: false, autoMerge: { mergeMethod: 'SQUASH' } })

    // Dev moves to 1.3.0, not verified yet: the pull request must not be mergeable with it.
    await pinDev(gh, repo, IMAGE, built[2]!)
    const before = gh.calls.length
    const second = await promote(repo, token, inputs)
    expect(second.error).toBeUndefined()
    expect(second.outputs).toMatchObject({ operation: 'updated', verified: 'false' })
    expect(gh.pulls(repo)[0]).toMatchObject({ state: 'open', draft: true, autoMerge: null })
    expect(await gh.readFile(repo, 'promote/staging/octo-web', STAGING)).toBe(
      overlay(IMAGE, built[2]!.digest, '1.3.0')
    )
    // Drafted before the push, never after.
    const order = gh.calls
      .slice(before)
      .filter(
        c =>
          c.operation === 'mutation convertPullRequestToDraft' ||
          c.route === 'POST /{owner}/{repo}.git/git-receive-pack'
      )
      .map(c => c.operation ?? 'push')
    expect(order).toEqual(['mutation convertPullRequestToDraft', 'push'])

    // A re-run with nothing new writes nothing.
    const again = gh.calls.length
    const third = await promote(repo, token, inputs)
    expect(third.outputs.operation).toBe('unchanged')
    expect(gh.calls.slice(again).filter(call => call.write)).toEqual([])
  })

  /**
   * Two runs at once: A promotes the digest dev runs (verified), B one dev never ran (unverified, when-unverified:
   * draft). Both list before either opens; B then waits, before fetching the head branch, until A has opened its pull
   * request ready for review with auto-merge on; B pushes on top and finds A's pull request when its own create fails.
   */
  async function racingRuns(hooks: { whileBHolds?: (repo: string, token: string) => Promise<void> } = {}) {
    const { repo } = await gitops(1, { allowAutoMerge: true })
    await gh.protectBranch(repo, 'main', { requiredApprovals: 1 })
    gh.addStatus(repo, {
      sha: (await gh.log(repo))[0]!.sha,
      context: 'kustomization/apps-dev/0c9c2e41',
      state: 'success'
    })
    const grant = {
      repos: {
        [repo]: { contents: 'write', pullRequests: 'write', statuses: 'read', checks: 'read' },
        'octo/app': { contents: 'read' }
      }
    } as const
    const tokenA = gh.createToken({ ...grant, name: 'run-a' })
    const tokenB = gh.createToken({ ...grant, name: 'run-b' })
    let arrived = 0
    let bothListed: () => void = () => undefined
    const listed = new Promise<void>(resolve => (bothListed = resolve))
    gh.hook({
      route: 'GET /repos/{owner}/{repo}/pulls',
      times: 2,
      run: async () => {
        if (++arrived === 2) bothListed()
        await listed
      }
    })
    const common = {
      'require-status': 'kustomization/apps-dev/*',
      'when-unverified': 'draft',
      'auto-merge': 'squash'
    }
    const runA = promote(repo, tokenA, promoteInputs(common))
    let waited = false
    gh.hook({
      route: 'GET /{owner}/{repo}.git/info/refs?service=git-upload-pack',
      times: Infinity,
      run: async call => {
        if (call.token !== 'run-b' || arrived < 2 || waited) return
        waited = true
        await runA
      }
    })
    if (hooks.whileBHolds) {
      const whileBHolds = hooks.whileBHolds
      gh.hook({
        route: 'POST /graphql',
        field: 'convertPullRequestToDraft',
        run: () => whileBHolds(repo, tokenA)
      })
    }
    const runB = promote(
      repo,
      tokenB,
      promoteInputs({ ...common, 'image-ref': `${IMAGE}:1.3.0@${built[2]!.digest}` })
    )
    const [a, b] = await Promise.all([runA, runB])
    expect(a.error).toBeUndefined()
    expect(a.outputs).toMatchObject({ operation: 'created', verified: 'true', 'auto-merge': 'true' })
    expect(waited).toBe(true)
    return { repo, a, b }
  }

  it('holds the pull request a concurrent run opened as a draft, auto-merge off, before its unverified digest stays there', async () => {
    const before = gh.calls.length
    const { repo, b } = await racingRuns()
    expect(b.error).toBeUndefined()
    expect(b.outputs).toMatchObject({ operation: 'updated', verified: 'false', 'pull-request-number': '1' })
    const creates = gh.calls.slice(before).filter(c => c.operation === 'pulls/create')
    expect(creates.map(c => `${c.token}:${c.status}`)).toEqual(['run-a:201', 'run-b:422'])
    expect(gh.pulls(repo)).toHaveLength(1)
    expect(gh.pulls(repo)[0]).toMatchObject({ state: 'open', draft: true, autoMerge: null })
    expect(await gh.readFile(repo, 'promote/staging/octo-web', STAGING)).toBe(
      overlay(IMAGE, built[2]!.digest, '1.3.0')
    )
    expect(readStateBlock(gh.pulls(repo)[0]!.body!)?.verification.verified).toBe(false)
  })

  it('takes its unverified commit back off, under a lease, when the pull request a concurrent run opened cannot be held', async () => {
    let ours = ''
    const { repo, a, b } = await racingRuns({
      // The pull request is closed just as B converts it: GitHub refuses the conversion.
      whileBHolds: async (repo, token) => {
        ours = (await gh.ref(repo, 'promote/staging/octo-web'))!
        const [owner = '', name = ''] = repo.split('/')
        await createPullRequestApi(lazyOctokit({ token, apiUrl: gh.apiUrl })).updatePull(
          { owner, repo: name },
          1,
          {
            state: 'closed'
          }
        )
      }
    })
    expect(b.error).toBeUndefined()
    expect(b.outputs).toMatchObject({ operation: 'skipped', verified: 'false' })
    const notice = b.commands.find(c => c.startsWith('::notice'))
    expect(notice).toContain('could not be made a draft')
    expect(notice).toContain(`took commit ${ours} back off promote/staging/octo-web`)
    expect(await gh.ref(repo, 'promote/staging/octo-web')).toBe(a.outputs['head-sha'])
    expect(b.outputs['head-sha']).toBe(a.outputs['head-sha'])
  })

  it('fails, losing nothing, when a commit landed on top of the unverified one it cannot take back off', async () => {
    let onTop = ''
    const { repo, b } = await racingRuns({
      whileBHolds: async (repo, token) => {
        onTop = await gh.commit(repo, {
          branch: 'promote/staging/octo-web',
          files: { 'apps/web/overlays/staging/patch.yaml': 'replicas: 2\n' },
          message: 'Scale staging\n'
        })
        const [owner = '', name = ''] = repo.split('/')
        await createPullRequestApi(lazyOctokit({ token, apiUrl: gh.apiUrl })).updatePull(
          { owner, repo: name },
          1,
          {
            state: 'closed'
          }
        )
      }
    })
    expect(b.error).toContain('could not be made a draft')
    expect(b.error).toContain('stays on promote/staging/octo-web')
    expect(b.error).toContain('convert #1 to a draft (and disable its auto-merge) or close it')
    expect(await gh.ref(repo, 'promote/staging/octo-web')).toBe(onTop)
  })

  /**
   * A draft waiting for the verification of what dev runs (1.2.0), now verified; run A promotes 1.2.0 (verified), run
   * B 1.3.0 (unverified, when-unverified: draft). Both list the draft; `interleave` forces who goes when.
   */
  async function draftRace(
    interleave: (runs: {
      repo: string
      a: () => Promise<Outcome>
      b: () => Promise<Outcome>
    }) => Promise<{ a: Outcome; b: Outcome }>
  ) {
    const { repo } = await gitops()
    const sha = (await gh.log(repo))[0]!.sha
    const context = 'kustomization/apps-dev/0c9c2e41'
    gh.addStatus(repo, { sha, context, state: 'success', createdAt: hoursAgo(0.25) })
    const common = {
      'require-status': 'kustomization/apps-dev/*',
      'min-soak': '1h',
      'when-unverified': 'draft'
    }
    const grant = {
      repos: {
        [repo]: { contents: 'write', pullRequests: 'write', statuses: 'read', checks: 'read' },
        'octo/app': { contents: 'read' }
      }
    } as const
    const waiting = await promote(repo, gh.createToken(grant), promoteInputs(common))
    expect(waiting.outputs).toMatchObject({ operation: 'created', verified: 'false' })
    const verifiedHead = waiting.outputs['head-sha']!
    gh.addStatus(repo, { sha, context, state: 'success', createdAt: hoursAgo(2) })
    const tokenA = gh.createToken({ ...grant, name: 'run-a' })
    const tokenB = gh.createToken({ ...grant, name: 'run-b' })
    const outcome = await interleave({
      repo,
      a: () => promote(repo, tokenA, promoteInputs(common)),
      b: () =>
        promote(repo, tokenB, promoteInputs({ ...common, 'image-ref': `${IMAGE}:1.3.0@${built[2]!.digest}` }))
    })
    expect(outcome.b.error).toBeUndefined()
    expect(outcome.b.outputs).toMatchObject({ verified: 'false', 'pull-request-number': '1' })
    // Whoever went last, the pull request is a draft while the unverified digest is on its branch.
    expect(await gh.readFile(repo, 'promote/staging/octo-web', STAGING)).toBe(
      overlay(IMAGE, built[2]!.digest, '1.3.0')
    )
    expect(gh.pulls(repo)).toHaveLength(1)
    expect(gh.pulls(repo)[0]).toMatchObject({ state: 'open', draft: true })
    return { repo, verifiedHead, ...outcome }
  }

  /** Runs `first`; at its request `at` (made with the token named `at.token`), runs `other` to its end, then goes on. */
  const meanwhile = async (
    at: { route: string; field?: string; token: string },
    first: () => Promise<Outcome>,
    other: () => Promise<Outcome>
  ): Promise<[Outcome, Outcome]> => {
    let second: Promise<Outcome> | undefined
    gh.hook({
      route: at.route,
      field: at.field,
      times: Infinity,
      run: async call => {
        if (call.token !== at.token || second) return
        second = other()
        await second
      }
    })
    const done = await first()
    expect(second).toBeDefined()
    return [done, await second!]
  }

  it('does not make the draft ready when an unverified digest landed on it after the verified one', async () => {
    const { a, verifiedHead } = await draftRace(async ({ a, b }) => {
      // A has found the verified commit on the branch; B, which listed the draft too, pushes on top before A goes on.
      const [outcomeA, outcomeB] = await meanwhile(
        { route: 'GET /repos/{owner}/{repo}/compare/{basehead}', token: 'run-a' },
        a,
        b
      )
      return { a: outcomeA, b: outcomeB }
    })
    expect(a.error).toBeUndefined()
    expect(a.outputs).toMatchObject({ operation: 'skipped', verified: 'true' })
    const notice = a.commands.find(c => c.startsWith('::notice') && c.includes('stays a draft'))
    expect(notice).toContain(`since it held the verified commit ${verifiedHead}`)
  })

  it('makes the draft a draft again when an unverified digest landed on it just as it was made ready', async () => {
    const { a } = await draftRace(async ({ a, b }) => {
      // A read the verified head and is marking the draft ready; B, which saw the draft, pushes and leaves it.
      const [outcomeA, outcomeB] = await meanwhile(
        { route: 'POST /graphql', field: 'markPullRequestReadyForReview', token: 'run-a' },
        a,
        b
      )
      return { a: outcomeA, b: outcomeB }
    })
    expect(a.error).toBeUndefined()
    expect(a.outputs).toMatchObject({ operation: 'skipped', verified: 'true' })
    expect(a.commands.find(c => c.startsWith('::notice'))).toContain('stays a draft')
  })

  it('holds the draft again when another run made it ready between its listing and its unverified push', async () => {
    const { b } = await draftRace(async ({ a, b }) => {
      // B has listed the draft and is about to push; A, verified, makes the draft ready first.
      const [outcomeB, outcomeA] = await meanwhile(
        { route: 'POST /{owner}/{repo}.git/git-receive-pack', token: 'run-b' },
        b,
        a
      )
      expect(outcomeA.outputs).toMatchObject({ operation: 'updated', verified: 'true' })
      return { a: outcomeA, b: outcomeB }
    })
    expect(b.outputs.operation).toBe('updated')
  })

  it('skips, pushing nothing, when the pull request ready for review cannot be made a draft', async () => {
    const { repo, token } = await gitops()
    gh.addStatus(repo, {
      sha: (await gh.log(repo))[0]!.sha,
      context: 'kustomization/apps-dev/0c9c2e41',
      state: 'success'
    })
    const inputs = promoteInputs({ 'require-status': 'kustomization/apps-dev/*', 'when-unverified': 'draft' })
    expect((await promote(repo, token, inputs)).outputs.operation).toBe('created')
    const head = await gh.ref(repo, 'promote/staging/octo-web')
    await pinDev(gh, repo, IMAGE, built[2]!)
    // Someone closes the pull request just as the run converts it: GitHub refuses the conversion.
    const [owner = '', name = ''] = repo.split('/')
    gh.hook({
      route: 'POST /graphql',
      field: 'convertPullRequestToDraft',
      run: () =>
        createPullRequestApi(lazyOctokit({ token, apiUrl: gh.apiUrl })).updatePull({ owner, repo: name }, 1, {
          state: 'closed'
        })
    })
    const result = await promote(repo, token, inputs)
    expect(result.error).toBeUndefined()
    expect(result.outputs).toMatchObject({ operation: 'skipped', verified: 'false' })
    const notice = result.commands.find(c => c.startsWith('::notice'))
    expect(notice).toContain('is ready for review and could not be made a draft')
    expect(notice).toContain('Pull request is not in an open state')
    expect(await gh.ref(repo, 'promote/staging/octo-web')).toBe(head)
  })

  it('makes the draft ready on the next run when marking it ready failed once', async () => {
    const { repo, token } = await gitops()
    const sha = (await gh.log(repo))[0]!.sha
    gh.addStatus(repo, {
      sha,
      context: 'kustomization/apps-dev/0c9c2e41',
      state: 'success',
      createdAt: hoursAgo(0.25)
    })
    const inputs = promoteInputs({
      'require-status': 'kustomization/apps-dev/*',
      'min-soak': '1h',
      'when-unverified': 'draft'
    })
    expect((await promote(repo, token, inputs)).outputs).toMatchObject({
      operation: 'created',
      verified: 'false'
    })
    gh.addStatus(repo, {
      sha,
      context: 'kustomization/apps-dev/0c9c2e41',
      state: 'success',
      createdAt: hoursAgo(2)
    })
    gh.fault({ route: 'POST /graphql', field: 'markPullRequestReadyForReview', status: 502, times: Infinity })
    const failed = await promote(repo, token, inputs)
    expect(failed.error).toContain('ready for review failed (502)')
    expect(gh.pulls(repo)[0]!.draft).toBe(true)
    gh.clearFaults()
    const retried = await promote(repo, token, inputs)
    expect(retried.error).toBeUndefined()
    expect(retried.outputs).toMatchObject({ operation: 'updated', verified: 'true' })
    expect(gh.pulls(repo)[0]).toMatchObject({ draft: false })
    expect(gh.pulls(repo)[0]!.body).toContain('Verified in dev')
  })

  it('keeps retrying a head branch other runs keep moving, bounded by time, not by a count of attempts', async () => {
    const { repo, token } = await gitops()
    // Nine pushes in a row lose the race: another commit lands on the head branch just before each.
    let landed = 0
    gh.hook({
      route: 'POST /{owner}/{repo}.git/git-receive-pack',
      times: 9,
      run: async () => {
        landed++
        await gh.commit(repo, {
          branch: 'promote/staging/octo-web',
          files: { [`apps/web/overlays/staging/other-${landed}.yaml`]: `n: ${landed}\n` },
          message: `Other change ${landed}\n`
        })
      }
    })
    const result = await promote(repo, token, promoteInputs())
    expect(result.error).toBeUndefined()
    expect(result.outputs.operation).toBe('created')
    expect(landed).toBe(9)
    const [ours, theirs] = await gh.log(repo, 'promote/staging/octo-web')
    expect(ours!.body).toContain(`Image: ${IMAGE}@${built[1]!.digest}`)
    expect(theirs!.subject).toBe('Other change 9')
    expect(result.outputs['head-sha']).toBe(ours!.sha)
  })

  it('will not rebuild, nor delete, a branch with more commits than the compare API lists', async () => {
    const { repo, token } = await gitops()
    await promote(repo, token, promoteInputs())
    const foreign = await gh.commit(repo, {
      branch: 'promote/staging/octo-web',
      files: { 'apps/web/overlays/staging/patch.yaml': 'replicas: 3\n' },
      message: 'Scale staging\n'
    })
    // 250 more commits of ours on top: the compare API lists only those, never the foreign one below them.
    const top = await manyCommits(
      gh,
      repo,
      'promote/staging/octo-web',
      250,
      60,
      `Image: ${IMAGE}@${built[1]!.digest}`
    )
    await conflictOnMain(repo)
    await pinDev(gh, repo, IMAGE, built[2]!)
    const refused = await promote(repo, token, promoteInputs())
    expect(refused.error).toContain('holds 252 commits, more than the 250 GitHub lists')
    expect(await gh.ref(repo, 'promote/staging/octo-web')).toBe(top)
    expect((await gh.log(repo, 'promote/staging/octo-web')).map(c => c.sha)).toContain(foreign)

    // Staging promoted by hand: the pull request closes, and the branch (with a commit not listed) stays.
    await gh.commit(repo, { files: { [STAGING]: overlay(IMAGE, built[2]!.digest, '1.3.0') } })
    const closed = await promote(repo, token, promoteInputs())
    expect(closed.outputs.operation).toBe('closed')
    expect(await gh.ref(repo, 'promote/staging/octo-web')).toBe(top)
  })

  it('reads every page of statuses and check runs of a commit', async () => {
    const { repo, token } = await gitops()
    const sha = (await gh.log(repo))[0]!.sha
    // The ones required come first, so GitHub lists them last (newest first), past the first page of 100.
    gh.addStatus(repo, { sha, context: 'kustomization/apps-dev/0c9c2e41', state: 'success' })
    gh.addCheckRun(repo, { headSha: sha, name: 'promoter/dev-healthy', conclusion: 'success' })
    for (let i = 0; i < 120; i++) {
      gh.addStatus(repo, { sha, context: `other/${i}`, state: 'success' })
      gh.addCheckRun(repo, { headSha: sha, name: `lint-${i}`, conclusion: 'success' })
    }
    const result = await promote(
      repo,
      token,
      promoteInputs({ 'require-status': 'kustomization/apps-dev/*\npromoter/*' })
    )
    expect(result.error).toBeUndefined()
    expect(result.outputs).toMatchObject({ operation: 'created', verified: 'true' })
    const statuses = readStateBlock(gh.pulls(repo)[0]!.body!)?.verification.statuses
    expect(statuses?.map(s => s.context).sort()).toEqual([
      'kustomization/apps-dev/0c9c2e41',
      'promoter/dev-healthy'
    ])
  })

  it('reads the latest status of every context through the pages of the combined status, and refuses past 1,000', async () => {
    const { repo, token } = await gitops()
    const sha = (await gh.log(repo))[0]!.sha
    const [owner = '', name = ''] = repo.split('/')
    const api = createPullRequestApi(lazyOctokit({ token, apiUrl: gh.apiUrl }))
    // The one failing context is the oldest: the last of the last page. Each context posted twice (pending first).
    gh.addStatus(repo, { sha, context: 'kustomization/apps-dev/red', state: 'failure' })
    for (let i = 0; i < 150; i++) {
      gh.addStatus(repo, { sha, context: `kustomization/apps-dev/${i}`, state: 'pending' })
      gh.addStatus(repo, { sha, context: `kustomization/apps-dev/${i}`, state: 'success' })
    }
    const from = gh.calls.length
    const seen = await api.statuses({ owner, repo: name }, sha)
    expect(seen.filter(s => s.kind === 'status')).toHaveLength(151)
    expect(seen.find(s => s.context === 'kustomization/apps-dev/red')?.state).toBe('failure')
    expect(seen.filter(s => s.state === 'pending')).toEqual([])
    expect(
      gh.calls.slice(from).filter(c => c.operation === 'repos/get-combined-status-for-ref')
    ).toHaveLength(2)
    for (let i = 150; i < 1000; i++) gh.addStatus(repo, { sha, context: `other/${i}`, state: 'success' })
    await expect(api.statuses({ owner, repo: name }, sha)).rejects.toThrow(
      `${sha} carries 1001 status contexts, more than the 1000 read`
    )
  })

  it('commits through createCommitOnBranch with commit-via: api, so GitHub signs the promotion', async () => {
    const { repo, token } = await gitops()
    const result = await promote(repo, token, promoteInputs({ 'commit-via': 'api' }))
    expect(result.outputs.operation).toBe('created')
    const [commit] = await gh.log(repo, 'promote/staging/octo-web')
    expect(commit!.committer).toMatchObject({ name: 'GitHub', email: 'noreply@github.com' })
    expect(commit!.body).toContain(`Image: ${IMAGE}@${built[1]!.digest}`)
    expect(await gh.readFile(repo, 'promote/staging/octo-web', STAGING)).toBe(
      overlay(IMAGE, built[1]!.digest, '1.2.0')
    )
    expect(gh.calls.some(c => c.operation === 'mutation createCommitOnBranch')).toBe(true)
  })

  describe('rebuilding a conflicting branch with commit-via: api', () => {
    const HEAD = 'promote/staging/octo-web'
    const api = () => promoteInputs({ 'commit-via': 'api' })
    const refs = async (repo: string): Promise<Map<string, string>> =>
      new Map(
        (await gh.git(repo, 'for-each-ref', '--format=%(refname) %(objectname)'))
          .split('\n')
          .filter(Boolean)
          .map(line => line.split(' ') as [string, string])
      )
    /** A promotion branch of only our commits that conflicts with main, where dev pins a newer digest. */
    const conflicting = async (): Promise<{ repo: string; token: string; old: string }> => {
      const made = await gitops()
      await promote(made.repo, made.token, api())
      const old = (await gh.ref(made.repo, HEAD))!
      await conflictOnMain(made.repo)
      await pinDev(gh, made.repo, IMAGE, built[2]!)
      return { ...made, old }
    }

    it('makes the rebuilt commit through createCommitOnBranch on base, signed, and swaps it in atomically', async () => {
      const { repo, token, old } = await conflicting()
      const main = (await gh.ref(repo, 'main'))!
      const before = await refs(repo)
      const from = gh.calls.length
      const result = await promote(repo, token, api())
      expect(result.error).toBeUndefined()
      expect(result.outputs.operation).toBe('updated')
      const [rebuilt, parent] = await gh.log(repo, HEAD)
      expect([rebuilt!.parents, parent!.sha]).toEqual([[main], main])
      expect(rebuilt!.committer).toMatchObject({ name: 'GitHub', email: 'noreply@github.com' })
      expect(rebuilt!.body).toContain(`Image: ${IMAGE}@${built[2]!.digest}`)
      expect(result.outputs['head-sha']).toBe(rebuilt!.sha)
      const octokit = getOctokit(token, { baseUrl: gh.apiUrl })
      const [owner = '', name = ''] = repo.split('/')
      const { data } = await octokit.rest.git.getCommit({ owner, repo: name, commit_sha: rebuilt!.sha })
      expect(data.verification).toMatchObject({ verified: true })
      expect(await gh.readFile(repo, HEAD, STAGING)).toBe(
        `${overlay(IMAGE, built[2]!.digest, '1.3.0')}    # pinned to the release\n`
      )
      // The commit came through the API, nothing was pushed, and the old head is no longer on the branch.
      const writes = graphqlCalls(from)
        .filter(call => call.write)
        .map(call => call.operation)
      expect(writes.slice(0, 2)).toEqual(['mutation createCommitOnBranch', 'mutation updateRefs'])
      expect(gh.calls.slice(from).some(call => call.route.endsWith('/git-receive-pack'))).toBe(false)
      expect((await gh.log(repo, HEAD)).map(entry => entry.sha)).not.toContain(old)
      // Only the head branch changed: the temporary branch went in the same update.
      const after = await refs(repo)
      expect([...after.keys()].sort()).toEqual([...before.keys()].sort())
      expect([...after].filter(([ref, sha]) => before.get(ref) !== sha)).toEqual([
        [`refs/heads/${HEAD}`, rebuilt!.sha]
      ])
      expect(result.commands.filter(line => line.startsWith('::warning'))).toEqual([
        expect.stringContaining('No scan-gate verdict')
      ])
    })

    it('overwrites nothing when someone pushes to the branch just before the swap, and removes its temporary branch', async () => {
      const { repo, token, old } = await conflicting()
      const main = (await gh.ref(repo, 'main'))!
      let sneaked = ''
      gh.hook({
        route: 'POST /graphql',
        field: 'updateRefs',
        run: async () => {
          // The temporary branch holds the rebuilt commit now: our read of the head branch is about to go stale.
          expect(await gh.ref(repo, temporaryBranch(old))).toBeDefined()
          sneaked = await gh.commit(repo, {
            branch: HEAD,
            files: { 'late.yaml': 'a: 1\n' },
            message: 'Late fix\n'
          })
        }
      })
      const lost = await promote(repo, token, api())
      expect(sneaked).not.toBe('')
      expect(lost.error).toBe(
        `${HEAD} moved while it was being rebuilt (someone pushed to it): nothing was overwritten; re-run`
      )
      expect(await gh.ref(repo, HEAD)).toBe(sneaked)
      expect((await gh.log(repo, HEAD))[1]!.sha).toBe(old)
      expect(await gh.ref(repo, 'main')).toBe(main)
      expect([...(await refs(repo)).keys()].filter(ref => ref.includes('digest-delivery-rebuild'))).toEqual(
        []
      )
      expect(lost.commands.filter(line => line.includes('temporary'))).toEqual([])
    })

    it('tells from the branches what a failed updateRefs meant: moved, refused, or landed with its answer lost', async () => {
      const { repo, token } = await gitops()
      const [owner = '', name = ''] = repo.split('/')
      const client = createGitHubApi({ token, apiUrl: gh.apiUrl })
      const main = (await gh.ref(repo, 'main'))!
      const read = await gh.commit(repo, { branch: 'side', files: { 's.txt': 's\n' } })
      const pushed = await gh.commit(repo, { branch: 'side', files: { 't.txt': 't\n' } })
      const back = (before: string, force: boolean) =>
        client.updateBranches({ owner, repo: name }, [{ branch: 'side', before, after: main, force }])
      expect(await back(read, true)).toEqual({ kind: 'moved', branch: 'side' })
      expect(await back(pushed, false)).toEqual({
        kind: 'refused',
        message: expect.stringContaining('Something went wrong')
      })
      expect(await gh.ref(repo, 'side')).toBe(pushed)
      // The branch is where the call would have put it by the time the error comes back, as when GitHub applied
      // the update and the answer was lost.
      gh.hook({
        route: 'POST /graphql',
        field: 'updateRefs',
        run: async () => void (await gh.git(repo, 'update-ref', 'refs/heads/side', main))
      })
      expect(await back(pushed, true)).toEqual({ kind: 'updated' })
    })

    it('refuses when its temporary branch exists, and deletes it after a failed commit, or says it could not', async () => {
      const { repo, token, old } = await conflicting()
      const temporary = temporaryBranch(old)
      await gh.git(repo, 'update-ref', `refs/heads/${temporary}`, old)
      const refused = await promote(repo, token, api())
      expect(refused.error).toContain(`branch '${temporary}' exists`)
      expect(refused.error).toContain(`delete '${temporary}' and re-run`)
      expect(await gh.ref(repo, HEAD)).toBe(old)
      expect(await gh.ref(repo, temporary)).toBe(old)
      await gh.git(repo, 'update-ref', '-d', `refs/heads/${temporary}`)

      gh.fault({ route: 'POST /graphql', field: 'createCommitOnBranch', status: 502 })
      const failed = await promote(repo, token, api())
      expect(failed.error).toContain('createCommitOnBranch failed (502)')
      expect(await gh.ref(repo, HEAD)).toBe(old)
      expect(await gh.ref(repo, temporary)).toBeUndefined()

      gh.fault({ route: 'POST /graphql', field: 'createCommitOnBranch', status: 502 })
      gh.fault({ route: 'DELETE /repos/{owner}/{repo}/git/refs/{ref}', status: 502 })
      const left = await promote(repo, token, api())
      expect(left.error).toContain('createCommitOnBranch failed (502)')
      expect(left.commands).toContainEqual(expect.stringContaining(`temporary branch '${temporary}'`))
      expect(await gh.ref(repo, temporary)).toBe((await gh.ref(repo, 'main'))!)
      await gh.git(repo, 'update-ref', '-d', `refs/heads/${temporary}`)
    })
  })

  it('says plainly when the source repository is not readable with the token, or not on this GitHub', async () => {
    const { repo } = await gitops()
    // A token for the GitOps repository only: the private source repository is invisible to it.
    const narrow = gh.createToken({
      repos: { [repo]: { contents: 'write', pullRequests: 'write', statuses: 'read', checks: 'read' } }
    })
    const hidden = await promote(repo, narrow, promoteInputs({ 'from-environment': '' }))
    expect(hidden.outputs.operation).toBe('created')
    const body = gh.pulls(repo)[0]!.body!
    expect(body).toContain(
      'The source repository octo\\/app is not readable with the token given \\(source\\-token\\)'
    )
    expect(body).toContain('Promote `' + IMAGE + '` to staging')
    expect(readStateBlock(body)?.fromEnvironment).toBe('dev')

    const elsewhere = await gitops(0)
    const gitlab = await buildImage(
      registry,
      'octo/web',
      '9.0.0',
      'https://gitlab.com/octo/app',
      'f'.repeat(40)
    )
    const gitlabOld = await buildImage(
      registry,
      'octo/web',
      '8.0.0',
      'https://gitlab.com/octo/app',
      'e'.repeat(40)
    )
    await gh.commit(elsewhere.repo, { files: { [STAGING]: overlay(IMAGE, gitlabOld.digest, '8.0.0') } })
    await pinDev(gh, elsewhere.repo, IMAGE, gitlab)
    await promote(elsewhere.repo, elsewhere.token, promoteInputs())
    expect(gh.pulls(elsewhere.repo)[0]!.body).toContain(
      `The source ${escapeMarkdown('https://gitlab.com/octo/app')} is not a repository on ${escapeMarkdown(gh.serverUrl)}\\; its commits are not listed\\.`
    )
  })

  it('refuses from-paths that pin two digests, and a base that does not exist', async () => {
    const { repo, token } = await gitops()
    const two = await promote(
      repo,
      token,
      promoteInputs({ 'from-paths': 'apps/web/overlays/dev\napps/web/overlays/staging' })
    )
    expect(two.error).toMatch(/pins .* to 2 different digests/)
    const nobase = await promote(repo, token, promoteInputs({ base: 'nope' }))
    expect(nobase.error).toContain("branch 'nope' does not exist")
  })

  it('cuts the source commit list of a 1,000-commit compare to fit the body limit, keeping the state block', async () => {
    const { repo, token } = await gitops(0)
    const long = await manyCommits(gh, 'octo/app', 'main', 1000, 300)
    const image = await buildImage(registry, 'octo/web', '2.0.0', `${gh.serverUrl}/octo/app`, long)
    await pinDev(gh, repo, IMAGE, image)
    const result = await promote(repo, token, promoteInputs())
    expect(result.outputs.operation).toBe('created')
    const body = gh.pulls(repo)[0]!.body!
    expect(body.length).toBeLessThanOrEqual(65_536)
    // Releases 1.2.0 and 1.3.0, then the 1,000.
    expect(body).toContain('1002 commit(s) in [octo\\/app]')
    expect(body).toMatch(/and \d+ more not listed here/)
    expect(readStateBlock(body)?.to.digest).toBe(image.digest)
  })
})

describe('promote several images (mode 2)', () => {
  const DEV = 'apps/web/overlays/dev/kustomization.yaml'
  const STAGING = 'apps/web/overlays/staging/kustomization.yaml'
  let API: string
  const api: BuiltImage[] = []
  beforeAll(async () => {
    API = `${registry.host}/octo/api`
    for (let i = 1; i <= 2; i++) {
      api.push(
        await buildImage(registry, 'octo/api', `2.${i}.0`, `${gh.serverUrl}/octo/app`, built[i]!.revision)
      )
    }
  }, 60_000)

  /** dev pins web and api at `dev`, staging at their first builds; a token for the repository. */
  async function twoImages(dev: { web: BuiltImage; api: { digest: string; tag: string } }) {
    const repo = `octo/gitops-${++n}`
    const pins = (web: BuiltImage, other: { digest: string; tag: string }) =>
      overlayOf([
        { image: IMAGE, digest: web.digest, tag: web.tag },
        { image: API, digest: other.digest, tag: other.tag }
      ])
    await gh.createRepo(repo, {
      defaultBranch: 'main',
      files: {
        'apps/web/base/kustomization.yaml': 'resources:\n  - deployment.yaml\n',
        'apps/web/base/deployment.yaml': DEPLOYMENT_OF([IMAGE, API]),
        [DEV]: pins(dev.web, dev.api),
        [STAGING]: pins(built[0]!, api[0]!)
      }
    })
    const token = gh.createToken({
      repos: { [repo]: { contents: 'write', pullRequests: 'write' }, 'octo/app': { contents: 'read' } },
      kind: 'app'
    })
    return { repo, token, pins }
  }
  const fromDev = { 'from-paths': 'apps/web/overlays/dev', paths: 'apps/web/overlays/staging' }
  const promotionsOf = (outcome: Outcome) =>
    JSON.parse(outcome.outputs.promotions!) as Array<Record<string, unknown>>

  it('opens one pull request per image dev pins, each on its own branch, and a re-run writes nothing', async () => {
    const { repo, token, pins } = await twoImages({ web: built[1]!, api: api[1]! })
    const first = await promote(repo, token, fromDev)
    expect(first.error).toBeUndefined()
    expect(promotionsOf(first)).toEqual([
      expect.objectContaining({
        image: IMAGE,
        operation: 'created',
        'pull-request-number': 1,
        'head-branch': 'promote/staging/octo-web',
        verified: true,
        from: built[0]!.digest,
        to: built[1]!.digest,
        files: [STAGING]
      }),
      expect.objectContaining({
        image: API,
        operation: 'created',
        'pull-request-number': 2,
        'head-branch': 'promote/staging/octo-api',
        from: api[0]!.digest,
        to: api[1]!.digest,
        files: [STAGING]
      })
    ])
    // With several images the singular outputs are empty, so no step reads one image's as if it were all.
    expect(first.outputs).toMatchObject({
      operation: '',
      'pull-request-number': '',
      'head-branch': '',
      promoted: ''
    })
    // Each branch holds its own image's promotion and nothing of the other's.
    expect(await gh.readFile(repo, 'promote/staging/octo-web', STAGING)).toBe(pins(built[1]!, api[0]!))
    expect(await gh.readFile(repo, 'promote/staging/octo-api', STAGING)).toBe(pins(built[0]!, api[1]!))
    const pulls = gh.pulls(repo)
    expect(pulls.map(pull => [pull.head, readStateBlock(pull.body!)?.image])).toEqual([
      ['promote/staging/octo-web', IMAGE],
      ['promote/staging/octo-api', API]
    ])
    expect(first.summary).toContain(`### Promotion of \`${IMAGE}\` to staging: created`)
    expect(first.summary).toContain(`### Promotion of \`${API}\` to staging: created`)

    const again = gh.calls.length
    const second = await promote(repo, token, fromDev)
    expect(second.error).toBeUndefined()
    expect(promotionsOf(second).map(p => [p.image, p.operation, p['pull-request-number']])).toEqual([
      [IMAGE, 'unchanged', 1],
      [API, 'unchanged', 2]
    ])
    const rerun = [...apiCalls(again, repo), ...graphqlCalls(again)]
    expect(rerun.filter(call => call.write)).toEqual([])
    process.stderr.write(`two images, re-run: ${rerun.length} API calls\n`)
  })

  it('promotes only the image images names, with the singular outputs of one image', async () => {
    const { repo, token } = await twoImages({ web: built[1]!, api: api[1]! })
    const result = await promote(repo, token, { ...fromDev, images: API })
    expect(result.error).toBeUndefined()
    expect(result.outputs).toMatchObject({
      operation: 'created',
      'pull-request-number': '1',
      'head-branch': 'promote/staging/octo-api'
    })
    expect(JSON.parse(result.outputs.promoted!)).toEqual({
      image: API,
      from: api[0]!.digest,
      to: api[1]!.digest,
      files: [STAGING]
    })
    expect(promotionsOf(result)).toEqual([
      expect.objectContaining({ image: API, operation: 'created', 'head-branch': 'promote/staging/octo-api' })
    ])
    expect(gh.pulls(repo).map(pull => pull.head)).toEqual(['promote/staging/octo-api'])
    expect(await gh.ref(repo, 'promote/staging/octo-web')).toBeUndefined()
  })

  it("fails naming the image whose digest the registry lacks, once the other's pull request is open", async () => {
    const missing = { digest: `sha256:${'0f'.repeat(32)}`, tag: '2.9.0' }
    const { repo, token } = await twoImages({ web: built[1]!, api: missing })
    const result = await promote(repo, token, fromDev)
    expect(result.error).toMatch(new RegExp(`^1 of 2 images failed to promote .*: ${API}: `))
    expect(result.error).not.toContain(`${IMAGE}:`)
    const [web, other] = promotionsOf(result)
    expect(web).toMatchObject({ image: IMAGE, operation: 'created', 'pull-request-number': 1 })
    expect(other).toMatchObject({
      image: API,
      operation: 'failed',
      'head-branch': 'promote/staging/octo-api'
    })
    expect(String(other!.error)).toContain(missing.digest)
    expect(gh.pulls(repo).map(pull => pull.head)).toEqual(['promote/staging/octo-web'])
    expect(result.summary).toContain(`### Promotion of \`${API}\` to staging: failed`)
    expect(result.commands.some(line => line.startsWith('::error::') && line.includes(API))).toBe(true)
  })

  it('leaves out, with a notice, an image dev pins that staging does not run', async () => {
    const { repo, token } = await twoImages({ web: built[1]!, api: api[1]! })
    // Not even through a base: what a base runs, the overlay runs.
    await gh.commit(repo, {
      files: {
        'apps/web/base-web/kustomization.yaml': 'resources:\n  - deployment.yaml\n',
        'apps/web/base-web/deployment.yaml': DEPLOYMENT_OF([IMAGE]),
        [STAGING]: overlay(IMAGE, built[0]!.digest, built[0]!.tag).replace('../../base', '../../base-web')
      },
      message: 'staging runs web only\n'
    })
    const result = await promote(repo, token, fromDev)
    expect(result.error).toBeUndefined()
    expect(result.commands.filter(line => line.startsWith('::notice::'))).toEqual([
      expect.stringContaining(`Not promoted: ${API}, pinned in from-paths but not referenced in paths`)
    ])
    // One image left: the singular outputs are that image's.
    expect(result.outputs).toMatchObject({ operation: 'created', 'head-branch': 'promote/staging/octo-web' })
    expect(gh.pulls(repo).map(pull => pull.head)).toEqual(['promote/staging/octo-web'])
  })

  it('refuses a head-branch for several images before writing anything, and from-paths that pin none', async () => {
    const { repo, token } = await twoImages({ web: built[1]!, api: api[1]! })
    const before = gh.calls.length
    const named = await promote(repo, token, { ...fromDev, 'head-branch': 'promote/everything' })
    expect(named.error).toContain(`input 'from-paths' pins ${IMAGE}, ${API}: this promotes several images`)
    expect(apiCalls(before, repo).filter(call => call.write)).toEqual([])
    const none = await promote(repo, token, { ...fromDev, 'from-paths': 'apps/web/base' })
    expect(none.error).toContain(
      "input 'from-paths' (apps/web/base) pins no image by digest on main (by tag only:"
    )
  })
})

describe('registry credentials go only to the registries inputs name (mode 2)', () => {
  const PASSWORD = 'promotion-Registry-Pass-6613'
  const fromDev = { 'from-paths': 'apps/web/overlays/dev', paths: 'apps/web/overlays/staging' }
  let other: TestRegistry
  /** The registry of the images, wanting the inputs' credentials at its token service. */
  let own: RegistryProxy
  /** A registry someone who can commit to the dev overlay names; its token service takes whatever it is sent. */
  let foreign: RegistryProxy
  let pushedThere: BuiltImage
  let webThere: BuiltImage

  beforeAll(async () => {
    other = await startRegistry()
    pushedThere = await buildImage(other, 'octo/api', '6.6.6', `${gh.serverUrl}/octo/app`, built[1]!.revision)
    webThere = await buildImage(other, 'octo/web', '7.7.7', `${gh.serverUrl}/octo/app`, built[2]!.revision)
    ;[own, foreign] = await Promise.all([
      startRegistryProxy(registry, { bearer: { username: 'bot', password: PASSWORD } }),
      startRegistryProxy(other, { bearer: {} })
    ])
  }, 60_000)
  afterAll(async () => {
    await Promise.all([own?.stop(), foreign?.stop()])
    await other?.stop()
  })

  const client = (env: NodeJS.ProcessEnv = {}): Partial<Collaborators> => ({
    registry: credentials =>
      createRegistryClient({ credentials, ca: registry.caPem + other.caPem, env, retries: 0 })
  })
  const credentials = { 'registry-username': 'bot', 'registry-password': PASSWORD }

  /** dev pins web on our registry and api on the foreign one, each newer than staging. */
  async function pinnedOnTwoRegistries() {
    const repo = `octo/gitops-${++n}`
    const web = `${own.host}/octo/web`
    const api = `${foreign.host}/octo/api`
    await createGitOpsOf(gh, repo, [
      { image: web, dev: built[1]!, staging: built[0]! },
      { image: api, dev: pushedThere, staging: { digest: `sha256:${'0e'.repeat(32)}`, tag: '6.0.0' } }
    ])
    const token = gh.createToken({
      repos: { [repo]: { contents: 'write', pullRequests: 'write' }, 'octo/app': { contents: 'read' } },
      kind: 'app'
    })
    own.reset()
    foreign.reset()
    return { repo, token, web, api }
  }
  const usersAtTokenService = (proxy: RegistryProxy) => proxy.tokenRequests.map(request => request.username)
  const sentTo = (proxy: RegistryProxy) => proxy.requests.map(request => request.authorization ?? '')

  it('refuses them before any write when only from-paths name the images, so a pinned registry never sees them', async () => {
    const { repo, token } = await pinnedOnTwoRegistries()
    const before = gh.calls.length
    const listed = await promote(repo, token, { ...fromDev, ...credentials }, client())
    expect(usersAtTokenService(foreign)).toEqual([])
    expect(sentTo(foreign)).toEqual([])
    expect(listed.error).toContain(
      "inputs 'registry-username' and 'registry-password' go only to the registry of an image an input names"
    )
    expect(listed.error).toContain("name the images to promote in 'images'")
    expect(listed.error).not.toContain(PASSWORD)
    expect(apiCalls(before, repo).filter(call => call.write)).toEqual([])
    expect(gh.pulls(repo)).toEqual([])
  })

  it('sends them, and at its token service, only to the registry of the image images names', async () => {
    const { repo, token, web } = await pinnedOnTwoRegistries()
    const named = await promote(repo, token, { ...fromDev, ...credentials, images: web }, client())
    expect(named.error).toBeUndefined()
    expect(named.outputs).toMatchObject({ operation: 'created', 'head-branch': 'promote/staging/octo-web' })
    expect(usersAtTokenService(own).length).toBeGreaterThan(0)
    expect(usersAtTokenService(own)).toEqual(usersAtTokenService(own).map(() => 'bot'))
    expect([foreign.requests, foreign.tokenRequests]).toEqual([[], []])
  })

  it("lists and promotes with each registry's own Docker config login, the foreign one anonymous", async () => {
    const { repo, token, web, api } = await pinnedOnTwoRegistries()
    const dockerConfig = await fs.mkdtemp(path.join(os.tmpdir(), 'docker-config-'))
    try {
      const auth = Buffer.from(`bot:${PASSWORD}`).toString('base64')
      await fs.writeFile(
        path.join(dockerConfig, 'config.json'),
        JSON.stringify({ auths: { [own.host]: { auth } } })
      )
      const listed = await promote(repo, token, fromDev, client({ DOCKER_CONFIG: dockerConfig }))
      expect(listed.error).toBeUndefined()
      expect(
        (JSON.parse(listed.outputs.promotions!) as Array<Record<string, unknown>>).map(p => [
          p.image,
          p.operation
        ])
      ).toEqual([
        [web, 'created'],
        [api, 'created']
      ])
      expect(usersAtTokenService(own)).toEqual(usersAtTokenService(own).map(() => 'bot'))
      expect(foreign.tokenRequests.length).toBeGreaterThan(0)
      expect(usersAtTokenService(foreign)).toEqual(usersAtTokenService(foreign).map(() => undefined))
      expect(sentTo(foreign).filter(authorization => !/^(Bearer .+)?$/.test(authorization))).toEqual([])
    } finally {
      await fs.rm(dockerConfig, { recursive: true, force: true })
    }
  })

  it('refuses two images from-paths pin that would share one head branch, naming both, before any write', async () => {
    const repo = `octo/gitops-${++n}`
    // Both readable without credentials: nothing but the shared branch stands in the way.
    const ours = IMAGE
    const theirs = `${foreign.host}/octo/web`
    await createGitOpsOf(gh, repo, [
      { image: ours, dev: built[1]!, staging: built[0]! },
      { image: theirs, dev: webThere, staging: built[0]! }
    ])
    const token = gh.createToken({
      repos: { [repo]: { contents: 'write', pullRequests: 'write' }, 'octo/app': { contents: 'read' } },
      kind: 'app'
    })
    const before = gh.calls.length
    const listed = await promote(repo, token, fromDev, client())
    expect(listed.error).toContain(
      `input 'from-paths' pins ${ours} and ${theirs}, which would share the head branch promote/staging/octo-web`
    )
    expect(listed.error).toContain("with 'image' and a 'head-branch' of its own")
    expect(apiCalls(before, repo).filter(call => call.write)).toEqual([])
    expect(await gh.ref(repo, 'promote/staging/octo-web')).toBeUndefined()
  })
})
