import * as core from '@actions/core'
import { errorMessage } from './errors.js'

/** Runs an action's work: every failure, of any kind (a non-Error throw too), ends in one `setFailed`. */
export async function runAction(work: () => Promise<unknown>): Promise<void> {
  try {
    await work()
  } catch (error) {
    core.setFailed(errorMessage(error))
  }
}
