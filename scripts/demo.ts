// npm run demo: the main job of a repository that uses digest-delivery, on this machine, with real parts: a local
// HTTPS registry, buildah building examples/app, scan-gate, bump-manifest committing to a sample GitOps repository
// (examples/gitops) served by the local GitHub, a Flux-style status on the dev commit as the controller would post
// it, then open-promotion-pr promoting dev to staging. Each part is started and torn down here; `--keep` leaves
// the registry and the local GitHub running and prints how to reach them.
//
// Run with Node 24: node --experimental-transform-types --import ./scripts/lib/ts-import-hook.mjs scripts/demo.ts
import { execFile } from 'node:child_process'
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { promisify } from 'node:util'
import { REPO_ROOT, runAction, type ActionResult } from '../test/support/action-runner.js'
import { BUILDAH_ENV, trustForContainers } from '../test/support/builders.js'
import { runComposite, type CompositeResult } from '../test/support/composite-runner.js'
import { startGitHub, type LocalGitHub } from '../tools/local-github/index.js'
import { startRegistry } from '../test/support/registry.js'
import { mirroredStandinTrivy } from '../test/support/scanner/standin.js'

const run = promisify(execFile)
const keep = process.argv.includes('--keep')
const TRIVY = { version: '0.69.2', file: 'trivy_0.69.2_Linux-64bit.tar.gz' }
const FLUX_CONTEXT = 'kustomization/apps-dev/0c9c2e41'
const USER = 'demo'
const PASSWORD = `demo-${Math.random().toString(36).slice(2, 10)}`

const cleanups: Array<() => Promise<unknown>> = []
const say = (text = ''): void => void process.stdout.write(`${text}\n`)
const heading = (text: string): void => say(`\n== ${text}`)

async function main(): Promise<number> {
  const started = Date.now()
  heading('Starting the parts')
  const [registry, github] = await Promise.all([
    startRegistry({ auth: { username: USER, password: PASSWORD } }),
    startGitHub()
  ])
  cleanups.push(
    () => registry.stop(),
    () => github.stop()
  )
  cleanups.push(await trustForContainers(registry))
  say(`registry      https://${registry.host} (user ${USER}; CA ${registry.caFile})`)
  say(`local GitHub  ${github.serverUrl} (API ${github.apiUrl})`)

  const image = `${registry.host}/demo/web`
  await createGitOpsRepository(github, registry.host)
  const token = github.createToken({
    repos: {
      'demo/gitops': { contents: 'write', pullRequests: 'write', statuses: 'read', checks: 'read' }
    },
    kind: 'app'
  })
  const source = await sourceCheckout()
  cleanups.push(() => rm(source.workspace, { recursive: true, force: true }))
  const scanner = await chooseScanner()
  cleanups.push(() => scanner.stop())
  const env = { NODE_EXTRA_CA_CERTS: registry.caFile, ...BUILDAH_ENV }
  const context = {
    repository: 'demo/web',
    sha: source.sha,
    serverUrl: github.serverUrl,
    apiUrl: github.apiUrl
  }

  heading('Release: the root action builds, gates and pins dev (land: direct)')
  const chain = await runComposite({
    actionDir: '.',
    workspace: source.workspace,
    inputs: {
      image,
      context: 'examples/app',
      builder: 'buildah',
      'registry-username': USER,
      'registry-password': PASSWORD,
      policy: 'examples/app/scan-policy.yml',
      'scanner-cache': 'false',
      ...scanner.inputs,
      'gitops-repository': 'demo/gitops',
      'gitops-token': token,
      environment: 'dev',
      paths: 'apps/web/overlays/dev'
    },
    env,
    context,
    timeoutMs: 300_000
  })
  cleanups.push(() => chain.cleanup())
  report(chain.steps.map(step => [step.id, step.outcome]))
  if (chain.exitCode !== 0) return fail('the release chain', chain)
  say(`digest        ${chain.outputs.digest}`)
  say(`image-ref     ${chain.outputs['image-ref']}`)
  say(`scan verdict  ${chain.outputs.decision} (attached to the digest in the registry)`)
  say(`dev commit    ${chain.outputs['commit-sha']}`)

  heading(`Flux reports dev healthy: status '${FLUX_CONTEXT}' = success on ${chain.outputs['commit-sha']}`)
  // The controller's own token, as Flux's notification-controller holds one: it may post statuses, nothing else.
  const fluxToken = github.createToken({ repos: { 'demo/gitops': { statuses: 'write' } }, kind: 'user' })
  await postStatus(github, fluxToken, chain.outputs['commit-sha'] ?? '')

  heading('Promotion: open-promotion-pr proposes staging = what dev verified')
  const promotion = await runAction({
    actionDir: 'actions/open-promotion-pr',
    inputs: {
      environment: 'staging',
      repository: 'demo/gitops',
      token,
      image,
      'from-environment': 'dev',
      'from-paths': 'apps/web/overlays/dev',
      paths: 'apps/web/overlays/staging',
      'require-status': 'kustomization/apps-dev/*',
      'registry-username': USER,
      'registry-password': PASSWORD
    },
    env,
    context: { ...context, repository: 'demo/gitops' },
    timeoutMs: 120_000
  })
  cleanups.push(() => promotion.cleanup())
  if (promotion.exitCode !== 0) return fail('open-promotion-pr', promotion)
  say(`operation     ${promotion.outputs.operation}`)
  say(`pull request  ${promotion.outputs['pull-request-url']}`)
  await showPullRequest(github, token, promotion.outputs['pull-request-number'] ?? '')

  heading(`Done in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  if (keep) {
    say(
      'The registry and the local GitHub stay up until you press Ctrl-C. Run an action by hand against them:'
    )
    say(`  export NODE_EXTRA_CA_CERTS=${registry.caFile}`)
    say(`  registry ${registry.host}  user ${USER}  password ${PASSWORD}`)
    say(`  GitHub   GITHUB_SERVER_URL=${github.serverUrl} GITHUB_API_URL=${github.apiUrl}`)
    say(`  token    ${token}  (contents and pull requests on demo/gitops)`)
    say('  README, "Running an action by hand", shows the INPUT_* variables to set.')
    await new Promise(resolve => process.once('SIGINT', resolve))
  }
  return 0
}

/** examples/gitops as a repository of the local GitHub, with the demo registry's address in place of REGISTRY. */
async function createGitOpsRepository(github: LocalGitHub, registryHost: string): Promise<void> {
  const root = join(REPO_ROOT, 'examples', 'gitops')
  const files: Record<string, string> = {}
  for (const file of await listFiles(root))
    files[relative(root, file)] = (await readFile(file, 'utf8')).replaceAll('REGISTRY', registryHost)
  await github.createRepo('demo/gitops', { defaultBranch: 'main', files })
}

/** The app's source as a checkout with one commit: the image's revision label names it. */
async function sourceCheckout(): Promise<{ workspace: string; sha: string }> {
  const workspace = await mkdtemp(join(tmpdir(), 'digest-delivery-demo-'))
  await cp(join(REPO_ROOT, 'examples', 'app'), join(workspace, 'examples', 'app'), { recursive: true })
  const git = (...args: string[]) => run('git', args, { cwd: workspace })
  await git('init', '-q')
  await git('add', '.')
  await git('-c', 'user.name=demo', '-c', 'user.email=demo@example.com', 'commit', '-q', '-m', 'sample app')
  return { workspace, sha: (await git('rev-parse', 'HEAD')).stdout.trim() }
}

interface Scanner {
  inputs: Record<string, string>
  stop(): Promise<unknown>
}

/**
 * Real Trivy when its release can be downloaded (and then its database too); otherwise the sample scanner, which
 * reports three sample findings for exactly the digest it is given, and the demo says so.
 */
async function chooseScanner(): Promise<Scanner> {
  const url = `https://github.com/aquasecurity/trivy/releases/download/v${TRIVY.version}/${TRIVY.file}`
  const reachable = await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(5_000) }).then(
    response => response.ok,
    () => false
  )
  if (reachable) {
    say('scanner       real Trivy, downloaded from its release')
    return { inputs: {}, stop: async () => undefined }
  }
  say('scanner       REAL TRIVY CANNOT BE DOWNLOADED HERE: THE SCAN USES A SAMPLE REPORT OF THE BUILT DIGEST')
  const mirror = await mirroredStandinTrivy()
  return { inputs: mirror.inputs, stop: () => mirror.server.stop() }
}

/** What the Flux notification-controller posts on the revision it applied. */
async function postStatus(github: LocalGitHub, token: string, sha: string): Promise<void> {
  const response = await fetch(`${github.apiUrl}/repos/demo/gitops/statuses/${sha}`, {
    method: 'POST',
    headers: { authorization: `token ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      state: 'success',
      context: FLUX_CONTEXT,
      description: 'Applied revision: main@sha1:' + sha
    })
  })
  if (!response.ok)
    throw new Error(`posting the Flux status failed: ${response.status} ${await response.text()}`)
}

async function showPullRequest(github: LocalGitHub, token: string, number: string): Promise<void> {
  const headers = { authorization: `token ${token}`, accept: 'application/vnd.github+json' }
  const pull = (await (
    await fetch(`${github.apiUrl}/repos/demo/gitops/pulls/${number}`, { headers })
  ).json()) as {
    title: string
    body: string
    base: { sha: string }
    head: { sha: string }
  }
  heading(`Pull request #${number}: ${pull.title}`)
  say(pull.body)
  heading('The diff a reviewer merges')
  say(await github.git('demo/gitops', 'diff', `${pull.base.sha}...${pull.head.sha}`))
}

function report(rows: Array<[string, string]>): void {
  for (const [id, outcome] of rows) if (!id.startsWith('__')) say(`  ${id.padEnd(10)} ${outcome}`)
}

function fail(stage: string, result: CompositeResult | ActionResult): number {
  for (const annotation of result.annotations.filter(a => a.level === 'error'))
    say(`error: ${annotation.message}`)
  say(`\n${stage} failed: the demo stops here (exit 1).`)
  return 1
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true })
  return entries.filter(entry => entry.isFile()).map(entry => join(entry.parentPath, entry.name))
}

let code = 1
try {
  code = await main()
} catch (error) {
  say(`demo failed: ${(error as Error).stack ?? String(error)}`)
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined)
}
process.exit(code)
