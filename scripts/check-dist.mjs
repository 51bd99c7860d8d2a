// Fails when the committed bundles differ from what the source builds (new files count too).
import { execFileSync } from 'node:child_process'

const status = execFileSync('git', ['status', '--porcelain', '--', 'dist'], { encoding: 'utf8' })
if (status.trim() !== '') {
  console.error(
    'dist/ is not what the source builds; run `npm run package` and commit the result:\n' + status
  )
  process.exit(1)
}
console.log('dist/ matches the source')
