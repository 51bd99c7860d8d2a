// First, so that the walk worker starts while the rest of the action loads.
import { walkWorker } from './walk-worker-start.js'
import { defaultCollaborators, run } from './main.js'

await run(defaultCollaborators(walkWorker))
