import { promises as fs } from 'node:fs'
import type { CommandRunner } from '../exec.js'

/**
 * The committer time of `revision` in ISO 8601 (UTC), from the checkout in `cwd`, else from the event payload's
 * head commit; undefined when neither knows it (a wall-clock time would make every rebuild differ).
 */
export async function tryCommitTime(
  runner: CommandRunner,
  cwd: string,
  revision: string,
  eventPath?: string
): Promise<string | undefined> {
  try {
    const result = await runner.run('git', ['show', '-s', '--format=%ct', revision], { cwd, silent: true })
    const seconds = Number(result.stdout.trim())
    if (result.exitCode === 0 && Number.isInteger(seconds) && seconds > 0)
      return new Date(seconds * 1000).toISOString()
  } catch {
    // git missing: fall through to the event payload
  }
  if (!eventPath) return undefined
  try {
    const event = JSON.parse(await fs.readFile(eventPath, 'utf8')) as {
      head_commit?: { id?: string; timestamp?: string }
    }
    const timestamp = event.head_commit?.id === revision ? event.head_commit.timestamp : undefined
    return timestamp ? new Date(timestamp).toISOString() : undefined
  } catch {
    return undefined
  }
}
