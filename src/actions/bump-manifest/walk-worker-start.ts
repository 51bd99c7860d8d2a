import { existsSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { WalkWorker, type WalkWorkerSource } from '../../lib/manifest/workers.js'

/**
 * With a spare core, walk workers running the worker bundle that sits beside this one (dist/bump-manifest): the first
 * is started as soon as this module is loaded, which index.ts does before the rest of the action, so that it starts
 * up while the action loads; each later walk (a retried push) gets a new one.
 */
function walkWorkers(): WalkWorkerSource | undefined {
  // A path, not `new URL('./walk-worker.js', import.meta.url)`: the bundler would copy that file as an asset.
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'walk-worker.js')
  if (os.availableParallelism() < 2 || !existsSync(script)) return undefined
  let first: WalkWorker | undefined = new WalkWorker(script)
  return () => {
    const worker = first ?? new WalkWorker(script)
    first = undefined
    return worker
  }
}

export const walkWorker = walkWorkers()
