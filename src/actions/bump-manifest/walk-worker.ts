// The worker thread that walks and reads large trees for bump-manifest: bundled apart from the action
// (dist/bump-manifest/walk-worker.js), so that it loads only what walking and reading need.
import { serveWalkWorker } from '../../lib/manifest/workers.js'

serveWalkWorker()
