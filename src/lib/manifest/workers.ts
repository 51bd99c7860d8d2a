/**
 * Walking and reading on another core. In a large tree nearly every file is read only to learn that it does not
 * mention the image, while the few that do cost far more to parse. So once a worker thread has started, it takes the
 * walk over: it lists the remaining directories and reads their files, and sends the main thread the text of each
 * file that may mention the image as soon as it has read it; the main thread parses those meanwhile. Parsing stays
 * on one thread, where the parser's compiled code is warm, and reading needs no parser, so the worker starts quickly.
 *
 * The main thread walks until the worker is ready, so a small tree is done before a worker could help (an action
 * starts its worker first thing, so that it is ready by the time the walk begins). A worker that fails hands nothing
 * back: the main thread walks the rest again itself, so the result never depends on the worker, which only makes it
 * faster.
 */
import { parentPort, Worker, workerData } from 'node:worker_threads'
import { ConfigurationError, errorMessage } from '../errors.js'
import { readCandidate, type Candidate } from './files.js'
import { preparePin, type PinTarget } from './pin-target.js'
import type { FileError, PinRequest } from './request-and-changes.js'
import { Walk, type WalkState } from './walk.js'

/** Gives pinTree a started worker to hand its walk to (one per walk), or none. */
export type WalkWorkerSource = () => WalkWorker | undefined

/** What reading found: counts and errors; the texts that may mention the image go to the caller as they come. */
export interface ReadTally {
  /** Files whose text was searched (an unreadable file is an error, not searched). */
  searched: number
  errors: FileError[]
}

/** A file that may mention the image, with its text. */
export interface Mention {
  candidate: Candidate
  text: string
}

const READY = 1

interface WorkerSetup {
  ready: SharedArrayBuffer
}

type ToWorker = { walk: WalkState; request: PinRequest; maxBytes: number }
type FromWorker =
  { mention: Mention } | { end: ReadTally } | { failed: { message: string; configuration: boolean } }

/** Read one candidate on this thread: count it, keep its error, or hand its text on when it may mention the image. */
export function readOne(
  candidate: Candidate,
  target: PinTarget,
  maxBytes: number,
  tally: ReadTally,
  mention: (found: Mention) => void
): void {
  const read = readCandidate(candidate, maxBytes, target)
  if (read === 'no-mention') {
    tally.searched++
  } else if ('kind' in read) {
    tally.errors.push(read)
  } else {
    tally.searched++
    mention({ candidate, text: read.text })
  }
}

/** A worker thread for one walk: started early (it needs nothing but its script), ready to take a walk over. */
export class WalkWorker {
  private readonly ready: Int32Array
  private readonly worker: Worker

  /** Start a worker running `script`, a bundle that calls serveWalkWorker. */
  constructor(script: URL | string) {
    const ready = new SharedArrayBuffer(4)
    this.ready = new Int32Array(ready)
    const setup: WorkerSetup = { ready }
    // Nothing in the environment is needed to read files; the worker's output is not the job's log.
    this.worker = new Worker(script, { workerData: setup, env: {}, stdout: true, stderr: true })
    this.worker.unref()
    // Until a walk is handed over, a failure only means the worker never becomes ready.
    this.worker.on('error', () => undefined)
  }

  /** Whether the worker has started and can take the walk over. */
  isReady(): boolean {
    return Atomics.load(this.ready, 0) === READY
  }

  /**
   * Hand the rest of the walk over. Each file that may mention the image goes to `mention` as soon as the worker has
   * read it. Resolves with the tally once the walk is over, or undefined when the worker failed (the caller walks on
   * from `state` itself); throws what the walk threw (a symlink leading outside the repository).
   */
  takeOver(
    state: WalkState,
    request: PinRequest,
    maxBytes: number,
    mention: (found: Mention) => void
  ): Promise<ReadTally | undefined> {
    return new Promise((resolve, reject) => {
      this.worker.on('message', (message: FromWorker) => {
        if ('mention' in message) mention(message.mention)
        else if ('end' in message) resolve(message.end)
        else {
          const { message: text, configuration } = message.failed
          reject(configuration ? new ConfigurationError(text) : new Error(text))
        }
      })
      this.worker.once('exit', () => resolve(undefined))
      this.worker.postMessage({ walk: state, request, maxBytes } satisfies ToWorker)
    })
  }

  /** Stop the worker without waiting: it holds nothing worth keeping, and does not keep the process alive. */
  stop(): void {
    void this.worker.terminate()
  }
}

/** The worker side: take the walk over when it comes, send each mention as it is read, then the tally. */
export function serveWalkWorker(): void {
  const port = parentPort
  if (!port) throw new Error('serveWalkWorker runs in a worker thread')
  const { ready } = workerData as WorkerSetup
  port.once('message', ({ walk: state, request, maxBytes }: ToWorker) => {
    const tally: ReadTally = { searched: 0, errors: [] }
    try {
      const target = preparePin(request)
      const walk = new Walk(state, candidate =>
        readOne(candidate, target, maxBytes, tally, found =>
          port.postMessage({ mention: found } satisfies FromWorker)
        )
      )
      walk.run()
      port.postMessage({ end: tally } satisfies FromWorker)
    } catch (error) {
      const failed = { message: errorMessage(error), configuration: error instanceof ConfigurationError }
      port.postMessage({ failed } satisfies FromWorker)
    }
    port.close()
  })
  Atomics.store(new Int32Array(ready), 0, READY)
}
