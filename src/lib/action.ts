import * as core from '@actions/core'
import { errorMessage } from './errors.js'

/**
 * Runs an action's work: every failure, of any kind (a non-Error throw too), ends in one `setFailed`. That includes a
 * rejection no one awaits (a library that starts a child process inside an async Promise executor loses the spawn
 * error so) and an error thrown from an event handler: without this, Node prints a stack trace and no `::error::`.
 */
export async function runAction(work: () => Promise<unknown>): Promise<void> {
  // The run ends there: the work may never settle (its promise was the one lost), and nothing after a failure may
  // still push or set outputs.
  const escaped = (error: unknown): never => {
    core.setFailed(errorMessage(error))
    process.exit()
  }
  process.on('unhandledRejection', escaped)
  process.on('uncaughtException', escaped)
  try {
    await work()
  } catch (error) {
    core.setFailed(errorMessage(error))
  } finally {
    process.off('unhandledRejection', escaped)
    process.off('uncaughtException', escaped)
  }
}
