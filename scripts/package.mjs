// Builds one ncc bundle per action: tsc compiles src/ once into .build/ (type-checking it), then ncc bundles
// .build/actions/<name>/index.js → dist/<name>/index.js, two at a time.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { minify } from 'terser'

const root = path.dirname(path.dirname(new URL(import.meta.url).pathname))
const nccCli = path.join(root, 'node_modules', '@vercel', 'ncc', 'dist', 'ncc', 'cli.js')
const only = process.argv.slice(2)
const names = readdirSync(path.join(root, 'src', 'actions'))
  .filter(name => only.length === 0 || only.includes(name))
  .filter(name => existsSync(path.join(root, 'src', 'actions', name, 'index.ts')))

const build = path.join(root, '.build')
rmSync(build, { recursive: true, force: true })
try {
  execFileSync(
    process.execPath,
    [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: root,
      stdio: 'inherit'
    }
  )
} catch {
  process.exit(1)
}

/** Bundle `entry` into `out`, listing what it bundled in `stats` (for writeLicenses). */
function ncc(entry, out, stats) {
  const args = [nccCli, 'build', entry, '--out', out, '--minify', '--stats-out', stats, '--quiet']
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit' })
    child.on('error', reject)
    child.on('exit', code =>
      code === 0
        ? resolve()
        : reject(new Error(`ncc failed for ${path.relative(root, entry)} (exit ${code})`))
    )
  })
}

// An action's worker scripts (src/actions/<name>/<base>-worker.ts) are bundled apart, to dist/<name>/<base>-worker.js
// beside the action's bundle (licenses of any third-party code in <base>-worker.licenses.txt), so a worker thread
// loads only what it runs.
async function bundle(name) {
  const out = path.join(root, 'dist', name)
  rmSync(out, { recursive: true, force: true })
  const stats = path.join(build, `${name}.stats.json`)
  await ncc(path.join(build, 'actions', name, 'index.js'), out, stats)
  await minifyChunks(out)
  writeLicenses(stats, path.join(out, 'licenses.txt'))
  const workers = readdirSync(path.join(root, 'src', 'actions', name)).filter(file =>
    file.endsWith('-worker.ts')
  )
  for (const file of workers) {
    const base = file.slice(0, -'.ts'.length)
    const staging = path.join(out, `.${base}`)
    const workerStats = path.join(build, `${name}.${base}.stats.json`)
    await ncc(path.join(build, 'actions', name, `${base}.js`), staging, workerStats)
    const emitted = readdirSync(staging)
    if (emitted.sort().join(' ') !== 'index.js package.json') {
      throw new Error(`the worker bundle ${name}/${base} emitted more than a script: ${emitted.join(' ')}`)
    }
    renameSync(path.join(staging, 'index.js'), path.join(out, `${base}.js`))
    writeLicenses(workerStats, path.join(out, `${base}.licenses.txt`))
    rmSync(staging, { recursive: true })
  }
}

// A dynamic import() becomes a chunk beside the bundle (<id>.index.js), which ncc leaves unminified: minified here,
// as ncc minifies the bundle. Their licenses are in the bundle's licenses.txt already.
async function minifyChunks(out) {
  for (const file of readdirSync(out).filter(file => /^\d+\.index\.js$/.test(file))) {
    const chunk = path.join(out, file)
    const result = await minify(readFileSync(chunk, 'utf8'), { module: true, format: { comments: false } })
    writeFileSync(chunk, result.code)
  }
}

// ncc's --license writes licenses.txt once per chunk, each over the last, so a bundle with a chunk would lose its
// own: the licenses of every package in a bundle and its chunks are gathered from ncc's list of the modules it
// bundled, and written only when it bundled any third-party package.
function writeLicenses(statsFile, licensesFile) {
  const packages = new Set()
  const visit = modules => {
    for (const module of modules ?? []) {
      // The package is the one after the last node_modules/ (packages nest); concatenated modules list theirs.
      const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(module.name ?? '')
      if (match) packages.add(path.resolve(root, match[1]))
      visit(module.modules)
    }
  }
  visit(JSON.parse(readFileSync(statsFile, 'utf8')).modules)
  const entries = new Map()
  for (const dir of packages) {
    const { name, license, licenses } = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'))
    // An SPDX string, or the older {type} object and licenses array.
    const spdx = [license ?? licenses ?? []]
      .flat()
      .map(l => (typeof l === 'string' ? l : l?.type))
      .join(' OR ')
    const file = readdirSync(dir)
      .sort()
      .find(file => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(file))
    const text = file
      ? readFileSync(path.join(dir, file), 'utf8')
          .replace(/^(\s*\n)+/, '')
          .trimEnd()
      : ''
    entries.set(`${name}\n${text}`, `${name}\n${spdx}\n${text}\n`)
  }
  const sorted = [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, entry]) => entry)
  if (sorted.length > 0) writeFileSync(licensesFile, sorted.join('\n'))
}

const queue = [...names]
const workers = Array.from({ length: Math.min(2, os.availableParallelism(), queue.length) }, async () => {
  for (let name = queue.shift(); name; name = queue.shift()) await bundle(name)
})
try {
  await Promise.all(workers)
} catch (error) {
  console.error(error.message)
  process.exit(1)
}
