// Builds one ncc bundle per action: tsc compiles src/ once into .build/ (type-checking it), then ncc bundles
// .build/actions/<name>/index.js → dist/<name>/index.js, two at a time.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

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

function ncc(entry, out) {
  const args = [nccCli, 'build', entry, '--out', out, '--minify', '--license', 'licenses.txt', '--quiet']
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
  await ncc(path.join(build, 'actions', name, 'index.js'), out)
  const workers = readdirSync(path.join(root, 'src', 'actions', name)).filter(file =>
    file.endsWith('-worker.ts')
  )
  for (const file of workers) {
    const base = file.slice(0, -'.ts'.length)
    const staging = path.join(out, `.${base}`)
    await ncc(path.join(build, 'actions', name, `${base}.js`), staging)
    // licenses.txt is there only when the worker bundles third-party code.
    const emitted = readdirSync(staging).filter(file => file !== 'licenses.txt')
    if (emitted.sort().join(' ') !== 'index.js package.json') {
      throw new Error(`the worker bundle ${name}/${base} emitted more than a script: ${emitted.join(' ')}`)
    }
    renameSync(path.join(staging, 'index.js'), path.join(out, `${base}.js`))
    if (existsSync(path.join(staging, 'licenses.txt'))) {
      renameSync(path.join(staging, 'licenses.txt'), path.join(out, `${base}.licenses.txt`))
    }
    rmSync(staging, { recursive: true })
  }
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
