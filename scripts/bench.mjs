// `npm run bench`: runs every benchmark in scripts/bench/ (or those named on the command line), one after another.
// Each prints its own figures beside a baseline it measures in the same run.
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import path from 'node:path'

const dir = path.join(path.dirname(new URL(import.meta.url).pathname), 'bench')
const only = process.argv.slice(2)
const files = readdirSync(dir)
  .filter(file => file.endsWith('.mjs'))
  .filter(file => only.length === 0 || only.includes(path.basename(file, '.mjs')))
  .sort((a, b) => (a === 'bundles.mjs' ? -1 : b === 'bundles.mjs' ? 1 : a.localeCompare(b)))
let failed = 0
for (const file of files) {
  console.log(`\n== ${path.basename(file, '.mjs')} ==`)
  const result = spawnSync(process.execPath, [path.join(dir, file)], { stdio: 'inherit' })
  if (result.status !== 0) failed++
}
process.exit(failed === 0 ? 0 : 1)
