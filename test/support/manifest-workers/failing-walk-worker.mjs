// A walk worker that says it is ready and breaks as soon as it is handed a walk: pinTree must finish the walk itself.
import { parentPort, workerData } from 'node:worker_threads'

parentPort.once('message', () => {
  throw new Error('the walk worker broke')
})
Atomics.store(new Int32Array(workerData.ready), 0, 1)
