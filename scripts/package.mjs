// Builds one ncc bundle per action: src/actions/<name>/index.ts → dist/<name>/index.js.
import { execFileSync } from 'node:child_process'
import { readdirSync, rmSync, existsSync } from 'node:fs'
import path from 'node:path'

const root = path.dirname(path.dirname(new URL(import.meta.url).pathname))
const ncc = path.join(root, 'node_modules', '@vercel', 'ncc', 'dist', 'ncc', 'cli.js')
const only = process.argv.slice(2)
const names = readdirSync(path.join(root, 'src', 'actions')).filter(
  name => only.length === 0 || only.includes(name)
)

for (const name of names) {
  const entry = path.join(root, 'src', 'actions', name, 'index.ts')
  if (!existsSync(entry)) continue
  const out = path.join(root, 'dist', name)
  rmSync(out, { recursive: true, force: true })
  execFileSync(
    process.execPath,
    [ncc, 'build', entry, '--out', out, '--minify', '--license', 'licenses.txt', '--quiet'],
    {
      cwd: root,
      stdio: 'inherit'
    }
  )
}
