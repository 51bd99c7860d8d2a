import * as exec from '@actions/exec'
import { spawn } from 'node:child_process'
import { stat } from 'node:fs/promises'
import { ExternalError } from './errors.js'

export interface CommandResult {
  exitCode: number
  stdout: string
  stderr: string
  /** Set when the command was stopped because it ran past `timeoutMs`. */
  timedOut?: boolean
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
  /** Stop the command (SIGTERM, then SIGKILL) when it runs longer; the result then says `timedOut`. */
  timeoutMs?: number
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
      if (options.timeoutMs !== undefined) return runBounded(command, args, env, options, options.timeoutMs)
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
  if (result.timedOut) {
    const limit = Math.round((options?.timeoutMs ?? 0) / 1000)
    throw new ExternalError(
      `${what} did not finish within ${limit} s and was stopped:\n${lastLines(result, 20)}`
    )
  }
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

const KILL_GRACE_MS = 10_000

/** Like @actions/exec (the command line and, unless silent, its output in the log), with a deadline. */
function runBounded(
  command: string,
  args: string[],
  env: Record<string, string>,
  options: CommandOptions,
  timeoutMs: number
): Promise<CommandResult> {
  // As @actions/exec: the command line is shown unless silent.
  if (!options.silent) process.stdout.write(`[command]${[command, ...args].join(' ')}\n`)
  return new Promise((resolve, reject) => {
    // Its own process group, so a stop reaches what the command started too (git's remote helpers, a builder's
    // children), not just the command.
    const child = spawn(command, args, {
      cwd: options.cwd,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true
    })
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    child.stdout.on('data', (chunk: Buffer) => {
      stdout.push(chunk)
      if (!options.silent) process.stdout.write(chunk)
    })
    child.stderr.on('data', (chunk: Buffer) => {
      stderr.push(chunk)
      if (!options.silent) process.stdout.write(chunk)
    })
    let timedOut = false
    let settled = false
    let killer: NodeJS.Timeout | undefined
    const exited = (): boolean => child.exitCode !== null || child.signalCode !== null
    const signalGroup = (signal: NodeJS.Signals): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal)
      } catch {
        // The group is gone already.
      }
    }
    const finish = (code: number | null): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      clearTimeout(killer)
      resolve({
        exitCode: code ?? 128,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        ...(timedOut ? { timedOut } : {})
      })
    }
    // What was started may keep the output open after the command itself has gone: stop waiting for it.
    const abandonOutput = (): void => {
      child.stdout.destroy()
      child.stderr.destroy()
      finish(child.exitCode)
    }
    const timer = setTimeout(() => {
      timedOut = true
      signalGroup('SIGTERM')
      killer = setTimeout(() => {
        signalGroup('SIGKILL')
        abandonOutput()
      }, KILL_GRACE_MS)
      if (exited()) abandonOutput()
    }, timeoutMs)
    child.on('error', error => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      clearTimeout(killer)
      reject(new ExternalError(`could not run '${command}': ${error.message}`))
    })
    child.on('close', finish)
    child.on('exit', () => {
      if (timedOut) abandonOutput()
    })
    // A child that does not read its input must not make us fail with EPIPE.
    child.stdin.on('error', () => {})
    child.stdin.end(options.input ?? '')
  })
}
