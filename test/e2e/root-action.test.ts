import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { shownText } from '../support/action-runner.js'
import { BUILDAH_ENV, trustForContainers } from '../support/builders.js'
import { runComposite, type CompositeResult } from '../support/composite-runner.js'
import { startGitHub, type LocalGitHub } from '../../tools/local-github/index.js'
import { startRegistry, type TestRegistry } from '../support/registry.js'
import { standinFindings, mirroredStandinTrivy } from '../support/scanner/standin.js'

// The root action.yml run as the runner runs a composite: expressions by the runner's own language, `$/` resolved
// to this checkout, each stage the committed bundle, against a real registry, buildah and the local GitHub.

const run = promisify(execFile)
const PASSWORD = 'e2e-Chain-Pass-5307'
const KUSTOMIZATION = (image: string) =>
  `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deployment.yaml\nimages:\n  - name: ${image} # the web app\n    newTag: "0.9.0"\n`
const DEPLOYMENT = (image: string) =>
  `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n        - name: web\n          image: ${image}:0.9.0\n`

let registry: TestRegistry
let untrust: () => Promise<void>
let scanner: Awaited<ReturnType<typeof mirroredStandinTrivy>>
let gh: LocalGitHub
let token: string
let image: string
const results: CompositeResult[] = []
const workspaces: string[] = []

beforeAll(async () => {
  ;[registry, scanner, gh] = await Promise.all([
    startRegistry({ auth: { username: 'bot', password: PASSWORD } }),
    mirroredStandinTrivy(),
    startGitHub()
  ])
  untrust = await trustForContainers(registry)
  image = `${registry.host}/octo/web`
  await gh.createRepo('octo/gitops', {
    defaultBranch: 'main',
    files: {
      'apps/web/base/deployment.yaml': DEPLOYMENT(image),
      'apps/web/overlays/dev/kustomization.yaml': KUSTOMIZATION(image).replace(
        'deployment.yaml',
        '../../base'
      ),
      'apps/web/base/kustomization.yaml': 'resources:\n  - deployment.yaml\n'
    }
  })
  token = gh.createToken({ repos: { 'octo/gitops': { contents: 'write' } }, kind: 'app' })
}, 120_000)

afterAll(async () => {
  for (const result of results) await result.cleanup()
  for (const workspace of workspaces) await rm(workspace, { recursive: true, force: true })
  await untrust?.()
  await Promise.all([registry?.stop(), scanner?.server.stop(), gh?.stop()])
})

/** A source checkout with one commit: the app, and `ignored` finding IDs in .trivyignore. */
async function checkout(content: string, ignored: string[]): Promise<{ workspace: string; sha: string }> {
  const workspace = await mkdtemp(join(tmpdir(), 'e2e-chain-ws-'))
  workspaces.push(workspace)
  await mkdir(join(workspace, 'app'))
  await writeFile(join(workspace, 'app', 'hello.txt'), content)
  await writeFile(join(workspace, 'app', 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\n')
  if (ignored.length > 0) await writeFile(join(workspace, '.trivyignore'), ignored.join('\n') + '\n')
  return { workspace, sha: await commitAll(workspace, 'app') }
}

/** `git init` in `dir` and one commit of everything in it; its SHA. */
async function commitAll(dir: string, message: string): Promise<string> {
  const git = (...args: string[]) => run('git', args, { cwd: dir })
  await git('init', '-q')
  await git('add', '.')
  await git('-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', message)
  return (await git('rev-parse', 'HEAD')).stdout.trim()
}

async function chain(
  source: { workspace: string; sha: string },
  inputs: Record<string, string> = {}
): Promise<CompositeResult> {
  const result = await runComposite({
    actionDir: '.',
    workspace: source.workspace,
    inputs: {
      image,
      context: 'app',
      builder: 'buildah',
      'registry-username': 'bot',
      'registry-password': PASSWORD,
      ...scanner.inputs,
      'gitops-repository': 'octo/gitops',
      'gitops-token': token,
      paths: 'apps/web/overlays/dev',
      ...inputs
    },
    env: { NODE_EXTRA_CA_CERTS: registry.caFile, ...BUILDAH_ENV },
    context: { repository: 'octo/web', sha: source.sha, serverUrl: gh.serverUrl, apiUrl: gh.apiUrl },
    timeoutMs: 180_000
  })
  results.push(result)
  return result
}

const outcomes = (result: CompositeResult) => Object.fromEntries(result.steps.map(s => [s.id, s.outcome]))
const errors = (result: CompositeResult) =>
  result.annotations.filter(a => a.level === 'error').map(a => a.message)

describe('the root action, run as the runner runs a composite', () => {
  it('builds, gates, and pins dev to the digest the registry serves, in one step', async () => {
    const ids = (await standinFindings()).map(finding => finding.id)
    const source = await checkout('chain one\n', ids)
    const before = (await gh.log('octo/gitops', 'main')).length
    const result = await chain(source)
    expect(errors(result)).toEqual([])
    expect(result.exitCode).toBe(0)
    expect(outcomes(result)).toMatchObject({
      names: 'success',
      build: 'success',
      scan: 'success',
      bump: 'success',
      pr: 'skipped'
    })

    const served = (
      await run('skopeo', [
        'inspect',
        '--creds',
        `bot:${PASSWORD}`,
        '--format',
        '{{.Digest}}',
        `docker://${image}:sha-${source.sha.slice(0, 12)}`
      ])
    ).stdout.trim()
    expect(result.outputs.digest).toBe(served)
    expect(result.outputs['image-ref']).toBe(`${image}@${served}`)
    expect(result.outputs.decision).toBe('pass')

    const log = await gh.log('octo/gitops', 'main')
    expect(log).toHaveLength(before + 1)
    expect(result.outputs['commit-sha']).toBe(log[0]?.sha)
    const kustomization = await gh.readFile('octo/gitops', 'main', 'apps/web/overlays/dev/kustomization.yaml')
    expect(kustomization).toContain(`digest: ${served}`)
    expect(kustomization).toContain('# the web app')

    // The scanner database cache step is reached with a key that changes daily; it is not run here.
    const cache = result.steps.find(step => step.uses?.startsWith('actions/cache@'))
    expect(cache?.outcome).toBe('remote')
    const day = new Date().toISOString().slice(0, 10)
    expect(cache?.with.key).toBe(`digest-delivery-trivy-db-Linux-${day}`)
    // What is cached is where scan-gate keeps the database.
    const scan = result.steps.find(step => step.id === 'scan')
    expect(cache?.with.path).toMatch(/\/scan-gate-db\/trivy$/)
    expect(scan?.with['cache-dir']).toBe(cache?.with.path)
    for (const text of shownText(result)) expect(text).not.toContain(PASSWORD)
  }, 600_000)

  it('lands by pull request: the promotion branch is committed and its pull request opened (land: pull-request)', async () => {
    const ids = (await standinFindings()).map(finding => finding.id)
    const source = await checkout('chain by pull request\n', ids)
    const prToken = gh.createToken({
      repos: { 'octo/gitops': { contents: 'write', pullRequests: 'write' } },
      kind: 'app'
    })
    const head = (await gh.log('octo/gitops', 'main'))[0]?.sha
    const result = await chain(source, { land: 'pull-request', environment: 'dev', 'gitops-token': prToken })
    expect(errors(result)).toEqual([])
    expect(result.exitCode).toBe(0)
    expect(outcomes(result)).toMatchObject({
      build: 'success',
      scan: 'success',
      bump: 'success',
      pr: 'success'
    })
    // main is untouched; the change waits on the promotion branch, in one open pull request.
    expect((await gh.log('octo/gitops', 'main'))[0]?.sha).toBe(head)
    const pulls = gh.pulls('octo/gitops').filter(pull => pull.state === 'open')
    expect(pulls).toHaveLength(1)
    // The branch open-promotion-pr would name by default for this image.
    expect(pulls[0]?.head).toBe('promote/dev/octo-web')
    expect(result.outputs['pull-request-url']).toMatch(new RegExp(`/octo/gitops/pull/${pulls[0]?.number}$`))
    const pinned = await gh.readFile(
      'octo/gitops',
      'promote/dev/octo-web',
      'apps/web/overlays/dev/kustomization.yaml'
    )
    expect(pinned).toContain(`digest: ${result.outputs.digest}`)
  }, 600_000)

  it('stops at the gate: a blocking scan pins nothing', async () => {
    const source = await checkout('chain two\n', [])
    const head = (await gh.log('octo/gitops', 'main'))[0]?.sha
    const result = await chain(source)
    expect(result.exitCode).toBe(1)
    expect(outcomes(result)).toMatchObject({
      build: 'success',
      scan: 'failure',
      bump: 'skipped',
      pr: 'skipped'
    })
    expect(result.outputs.decision).toBe('fail')
    expect(result.outputs['commit-sha']).toBe('')
    expect((await gh.log('octo/gitops', 'main'))[0]?.sha).toBe(head)
    expect(errors(result).join('\n')).toMatch(/scan-gate blocked/)
  }, 600_000)

  it('edits a GitOps checkout in the workspace without committing (land: none), as the GitHub-runner e2e job does', async () => {
    const ids = (await standinFindings()).map(finding => finding.id)
    const source = await checkout('chain four\n', ids)
    const overlay = join(source.workspace, 'gitops', 'apps', 'web', 'overlays', 'dev')
    await mkdir(overlay, { recursive: true })
    await writeFile(join(overlay, 'kustomization.yaml'), KUSTOMIZATION(image))
    const head = await commitAll(join(source.workspace, 'gitops'), 'gitops')
    const git = (...args: string[]) => run('git', args, { cwd: join(source.workspace, 'gitops') })

    const result = await chain(source, { 'gitops-path': 'gitops', 'gitops-repository': '', land: 'none' })
    expect(errors(result)).toEqual([])
    expect(result.exitCode).toBe(0)
    expect(outcomes(result)).toMatchObject({
      build: 'success',
      scan: 'success',
      bump: 'success',
      pr: 'skipped'
    })
    expect(result.outputs['commit-sha']).toBe('')
    expect((await git('rev-parse', 'HEAD')).stdout.trim()).toBe(head)
    const diff = (await git('diff')).stdout
    expect(diff).toContain(`+    digest: ${result.outputs.digest}`)
    expect(diff.split('\n').filter(line => /^[-+][^-+]/.test(line))).toEqual([
      '-    newTag: "0.9.0"',
      `+    newTag: "sha-${source.sha.slice(0, 12)}"`,
      `+    digest: ${result.outputs.digest}`
    ])
  }, 600_000)

  it('refuses an unknown way to land before building anything', async () => {
    const source = await checkout('chain three\n', [])
    const result = await chain(source, { land: 'yolo' })
    expect(result.exitCode).toBe(1)
    expect(errors(result)).toEqual(["input 'land' must be 'direct', 'pull-request' or 'none'; got 'yolo'"])
    expect(outcomes(result)).toMatchObject({
      names: 'failure',
      build: 'skipped',
      scan: 'skipped',
      bump: 'skipped'
    })
  }, 120_000)
})
