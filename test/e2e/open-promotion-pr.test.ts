import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { runAction, shownText, type ActionResult } from '../support/action-runner.js'
import { startGitHub, type LocalGitHub } from '../../tools/local-github/index.js'
import { readStateBlock } from '../../src/actions/open-promotion-pr/state-block.js'
import {
  buildAppReleases,
  buildImage,
  createGitOps,
  DEPLOYMENT_OF,
  overlay,
  overlayOf,
  pinDev,
  type BuiltImage
} from '../support/promotion.js'
import { registryEnv, startRegistry, type TestRegistry } from '../support/registry.js'

let gh: LocalGitHub
let registry: TestRegistry
let IMAGE: string
const built: BuiltImage[] = []
const results: ActionResult[] = []
let n = 0
const STAGING = 'apps/web/overlays/staging/kustomization.yaml'
const HEAD = 'promote/staging/octo-web'

beforeAll(async () => {
  ;[gh, registry] = await Promise.all([startGitHub(), startRegistry()])
  IMAGE = `${registry.host}/octo/web`
  built.push(...(await buildAppReleases(gh, registry)))
}, 120_000)
afterAll(async () => {
  for (const result of results) await result.cleanup()
  await gh?.stop()
  await registry?.stop()
})
afterEach(() => {
  gh.clearHooks()
  gh.assertNoViolations()
})

async function gitops(
  options: Parameters<LocalGitHub['createRepo']>[1] = {},
  kind: 'app' | 'workflow' = 'app'
): Promise<{ repo: string; token: string; pinned: string }> {
  const repo = `octo/gitops-${++n}`
  await createGitOps(gh, repo, IMAGE, { dev: built[0]!, staging: built[0]! }, options)
  const pinned = await pinDev(gh, repo, IMAGE, built[1]!)
  const token = gh.createToken({
    repos: {
      [repo]: { contents: 'write', pullRequests: 'write', statuses: 'read', checks: 'read' },
      ...(kind === 'app' ? { 'octo/app': { contents: 'read' } } : {})
    },
    kind
  })
  return { repo, token, pinned }
}

function promote(repo: string, token: string, extra: Record<string, string> = {}): Promise<ActionResult> {
  return runAction({
    actionDir: 'actions/open-promotion-pr',
    inputs: {
      environment: 'staging',
      repository: repo,
      token,
      image: IMAGE,
      'from-environment': 'dev',
      'from-paths': 'apps/web/overlays/dev',
      paths: 'apps/web/overlays/staging',
      'require-status': 'kustomization/apps-dev/*',
      ...extra
    },
    env: registryEnv(registry) as Record<string, string>,
    context: { repository: repo, serverUrl: gh.serverUrl, apiUrl: gh.apiUrl, runId: '5150' },
    timeoutMs: 120_000
  }).then(result => {
    results.push(result)
    return result
  })
}

const green = (repo: string, sha: string) =>
  gh.addStatus(repo, { sha, context: 'kustomization/apps-dev/0c9c2e41', state: 'success' })
const restCalls = (from: number, repo: string) =>
  gh.calls
    .slice(from)
    .filter(call => (call.repo === repo && !call.route.includes('.git/')) || call.route === 'POST /graphql')

describe('open-promotion-pr bundle, run as the runner runs it', () => {
  it('promotes every image dev pins in one step, and fails naming the one the registry lacks after the other', async () => {
    const api = await buildImage(
      registry,
      'octo/api',
      '2.1.0',
      `${gh.serverUrl}/octo/app`,
      built[1]!.revision
    )
    const API = `${registry.host}/octo/api`
    const missing = { digest: `sha256:${'0f'.repeat(32)}`, tag: '2.9.0' }
    const { repo, token } = await gitops()
    const pinned = await gh.commit(repo, {
      files: {
        'apps/web/base/deployment.yaml': DEPLOYMENT_OF([IMAGE, API]),
        'apps/web/overlays/dev/kustomization.yaml': overlayOf([
          { image: IMAGE, digest: built[1]!.digest, tag: built[1]!.tag },
          { image: API, digest: missing.digest, tag: missing.tag }
        ]),
        [STAGING]: overlayOf([
          { image: IMAGE, digest: built[0]!.digest, tag: built[0]!.tag },
          { image: API, digest: api.digest, tag: api.tag }
        ])
      },
      message: 'dev runs web and api\n'
    })
    green(repo, pinned)
    const result = await promote(repo, token, { image: '' })
    expect(result.exitCode).toBe(1)
    const errors = result.annotations.filter(a => a.level === 'error').map(a => a.message)
    expect(errors.at(-1)).toMatch(
      new RegExp(`^1 of 2 images failed to promote .*: ${API}: .*${missing.digest}`)
    )
    // The outputs were set before the step failed: a later step (if: failure()) reads which image failed.
    expect(JSON.parse(result.outputs.promotions!)).toEqual([
      expect.objectContaining({
        image: IMAGE,
        operation: 'created',
        'pull-request-number': 1,
        'head-branch': HEAD
      }),
      expect.objectContaining({ image: API, operation: 'failed', 'head-branch': 'promote/staging/octo-api' })
    ])
    expect(result.outputs.operation).toBe('')
    expect(gh.pulls(repo).map(pull => pull.head)).toEqual([HEAD])
    expect(result.summary).toContain(`to staging: failed`)
    for (const text of shownText(result)) expect(text).not.toContain(token)
  })

  it('creates, leaves alone on a re-run, updates for a newer digest, and closes once base pins it', async () => {
    const { repo, token, pinned } = await gitops({ allowAutoMerge: true })
    await gh.protectBranch(repo, 'main', { requiredApprovals: 1 })
    green(repo, pinned)
    const created = await promote(repo, token, {
      labels: 'promotion',
      reviewers: 'alice',
      'auto-merge': 'squash'
    })
    expect([created.exitCode, created.annotations.filter(a => a.level === 'error')]).toEqual([0, []])
    expect(created.outputs).toMatchObject({
      operation: 'created',
      'pull-request-number': '1',
      'auto-merge': 'true'
    })
    expect(await gh.readFile(repo, HEAD, STAGING)).toBe(overlay(IMAGE, built[1]!.digest, '1.2.0'))
    expect(gh.pulls(repo)[0]).toMatchObject({ labels: ['promotion'], requestedReviewers: ['alice'] })
    for (const text of shownText(created)) expect(text).not.toContain(token)

    const before = gh.calls.length
    const again = await promote(repo, token)
    expect(again.outputs).toMatchObject({ operation: 'unchanged', 'pull-request-number': '1' })
    expect(gh.calls.slice(before).filter(call => call.write)).toEqual([])

    const newer = await pinDev(gh, repo, IMAGE, built[2]!)
    green(repo, newer)
    const updated = await promote(repo, token)
    expect(updated.outputs).toMatchObject({ operation: 'updated', 'pull-request-number': '1' })
    expect(gh.pulls(repo)).toHaveLength(1)
    expect(await gh.readFile(repo, HEAD, STAGING)).toBe(overlay(IMAGE, built[2]!.digest, '1.3.0'))
    expect(readStateBlock(gh.pulls(repo)[0]!.body!)?.to.digest).toBe(built[2]!.digest)
    expect(gh.comments(repo).at(-1)!.body).toContain('now proposes `1.3.0@')

    const byHand = await gh.commit(repo, {
      files: { [STAGING]: overlay(IMAGE, built[2]!.digest, '1.3.0') },
      message: 'Promote by hand\n'
    })
    const closed = await promote(repo, token)
    expect(closed.outputs).toMatchObject({ operation: 'closed', 'pull-request-number': '1' })
    expect(gh.pulls(repo)[0]!.state).toBe('closed')
    expect(gh.comments(repo).at(-1)!.body).toContain(byHand.slice(0, 12))
    expect(await gh.ref(repo, HEAD)).toBeUndefined()
  })

  it('ends two concurrent runs with one pull request and one commit on the head branch', async () => {
    const { repo, token, pinned } = await gitops()
    green(repo, pinned)
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
    const runs = await Promise.all([promote(repo, token), promote(repo, token)])
    expect(runs.map(r => r.exitCode)).toEqual([0, 0])
    expect(runs.map(r => r.outputs.operation).sort()).toEqual(['created', 'unchanged'])
    expect(gh.pulls(repo).filter(p => p.state === 'open')).toHaveLength(1)
    const log = await gh.log(repo, HEAD)
    expect(log.filter(entry => entry.body.includes(`Image: ${IMAGE}@${built[1]!.digest}`))).toHaveLength(2)
  })

  it('skips with a notice when dev is red, and will not rebuild a conflicting head branch over a foreign commit', async () => {
    const { repo, token, pinned } = await gitops()
    gh.addStatus(repo, { sha: pinned, context: 'kustomization/apps-dev/0c9c2e41', state: 'failure' })
    const skipped = await promote(repo, token)
    expect(skipped.exitCode).toBe(0)
    expect(skipped.outputs).toMatchObject({ operation: 'skipped', verified: 'false' })
    expect(skipped.annotations.find(a => a.level === 'notice')?.message).toContain('is failure')
    expect(gh.pulls(repo)).toHaveLength(0)

    green(repo, pinned)
    await promote(repo, token)
    const foreign = await gh.commit(repo, {
      branch: HEAD,
      files: { 'x.yaml': 'a: 1\n' },
      message: 'Hand fix\n'
    })
    // main changes the line next to the pin: the pull request conflicts.
    await gh.commit(repo, {
      files: { [STAGING]: `${overlay(IMAGE, built[0]!.digest, '1.1.0')}    # note\n` }
    })
    green(repo, await pinDev(gh, repo, IMAGE, built[2]!))
    const refused = await promote(repo, token)
    expect(refused.exitCode).toBe(1)
    expect(refused.annotations.find(a => a.level === 'error')?.message).toContain(
      `conflicts with 'main' and holds commit ${foreign}`
    )
    expect(await gh.ref(repo, HEAD)).toBe(foreign)
  })

  it('names the repository setting on 403, and a re-run after the fix opens the pull request without committing again', async () => {
    const { repo, token, pinned } = await gitops({}, 'workflow')
    green(repo, pinned)
    gh.setActionsCanCreatePullRequests(false, repo)
    const refused = await promote(repo, token)
    expect(refused.exitCode).toBe(1)
    expect(refused.annotations.find(a => a.level === 'error')?.message).toContain(
      'Allow GitHub Actions to create and approve pull requests'
    )
    const head = await gh.ref(repo, HEAD)
    expect(head).toBeDefined()
    gh.setActionsCanCreatePullRequests(true, repo)
    const before = gh.calls.length
    const opened = await promote(repo, token)
    expect(opened.outputs).toMatchObject({ operation: 'created', 'head-sha': head })
    expect(await gh.ref(repo, HEAD)).toBe(head)
    expect(
      gh.calls.slice(before).filter(call => call.route.endsWith('git-receive-pack') && call.write)
    ).toEqual([])
    process.stderr.write(`e2e mode 2 create: ${restCalls(before, repo).length} API calls\n`)
  })
})
