import * as exec from '@actions/exec'
import { stat } from 'node:fs/promises'
import { ExternalError } from './errors.js'

export interface CommandResult {
  exitCode: number
  stdout: string
  stderr: string
}

export interface CommandOptions {
  cwd?: string
  /** Added to (not instead of) the process environment. */
  env?: Record<string, string>
  /** Inherited variables to leave out of the child's environment (`env` is added after, so it still applies). */
  unset?: (name: string) => boolean
  /** Fed to standard input: how passwords reach a CLI (never its arguments). */
  input?: string
  /** Do not echo the output to the job log (the command line is still shown). */
  silent?: boolean
}

/** Runs external commands; a boundary so tests can see or replace what would run. */
export interface CommandRunner {
  /** Runs and returns the result whatever the exit code. */
  run(command: string, args: string[], options?: CommandOptions): Promise<CommandResult>
}

/** The runner that really executes, streaming output to the job log. */
export function createCommandRunner(): CommandRunner {
  return {
    async run(command, args, options = {}) {
      const env: Record<string, string> = {}
      for (const [key, value] of Object.entries(process.env)) {
        if (value !== undefined && !options.unset?.(key)) env[key] = value
      }
      Object.assign(env, options.env ?? {})
      // @actions/exec spawns inside an async Promise executor: a spawn that throws (a cwd that is a file: ENOTDIR)
      // rejects a promise no one holds and leaves this one pending forever. Refuse such a cwd here instead.
      if (options.cwd !== undefined && !(await isDirectory(options.cwd))) {
        throw new ExternalError(
          `could not run '${command}': its working directory ${options.cwd} is not a directory`
        )
      }
      try {
        const out = await exec.getExecOutput(command, args, {
          cwd: options.cwd,
          env,
          input: options.input === undefined ? undefined : Buffer.from(options.input),
          silent: options.silent ?? false,
          ignoreReturnCode: true
        })
        return { exitCode: out.exitCode, stdout: out.stdout, stderr: out.stderr }
      } catch (error) {
        // @actions/exec throws when the executable cannot be started at all.
        throw new ExternalError(`could not run '${command}': ${(error as Error).message}`)
      }
    }
  }
}

async function isDirectory(dir: string): Promise<boolean> {
  return (await stat(dir).catch(() => undefined))?.isDirectory() ?? false
}

/** Runs a command and throws an ExternalError with its last lines of output when it fails. */
export async function runChecked(
  runner: CommandRunner,
  command: string,
  args: string[],
  what: string,
  options?: CommandOptions
): Promise<CommandResult> {
  const result = await runner.run(command, args, options)
  if (result.exitCode !== 0) {
    throw new ExternalError(`${what} failed (exit code ${result.exitCode}):\n${lastLines(result, 20)}`)
  }
  return result
}

/** The last `count` non-empty lines of a command's output, stderr after stdout. */
export function lastLines(result: Pick<CommandResult, 'stdout' | 'stderr'>, count: number): string {
  const lines = `${result.stdout}\n${result.stderr}`.split(/\r?\n/).filter(line => line.trim() !== '')
  return lines.slice(-count).join('\n')
}
