import * as core from '@actions/core'
import { ExternalError } from '../errors.js'
import { lastLines, type CommandResult, type CommandRunner } from '../exec.js'

export { tryCommitTime } from './commit-time.js'

/** Who a commit is by: `Name <email>`. */
export interface Identity {
  name: string
  email: string
}

export type PushResult = 'pushed' | 'rejected' | 'protected'

/** The git operations the actions use, in one working tree. */
export interface GitCommandManager {
  readonly cwd: string
  /** Clones `url` at `branch`, or its default branch (shallow), into `cwd`. */
  clone(url: string, branch?: string): Promise<void>
  /** Fetches `branch` from origin and returns the fetched commit. */
  fetch(branch: string): Promise<string>
  /** Moves the working tree and index to `ref`, dropping local edits to tracked files. */
  resetHard(ref: string): Promise<void>
  revParse(ref: string): Promise<string>
  /** True when the working tree differs from HEAD in `paths` (all paths when empty). */
  hasChanges(paths?: string[]): Promise<boolean>
  /** Stages `paths` and commits; returns the new commit. */
  commit(message: string, author: Identity, paths: string[]): Promise<string>
  /** Pushes HEAD to `branch`; a non-fast-forward is `rejected`, a protected branch `protected`, else it throws. */
  tryPush(branch: string, options?: { force?: boolean }): Promise<PushResult>
  /** The text of a commit (`git log -1 --format=%B`). */
  message(ref: string): Promise<string>
  /** The working tree's changes against HEAD as a unified diff. */
  diff(): Promise<string>
  /** The branch checked out, or undefined on a detached HEAD. */
  currentBranch(): Promise<string | undefined>
  /** The `origin` remote's URL. */
  remoteUrl(): Promise<string>
}

export interface GitOptions {
  runner: CommandRunner
  cwd: string
  /** A token sent as HTTP basic auth (`x-access-token`) to `serverUrl` only, through the environment. */
  token?: string
  /** e.g. https://github.com; the extra header is scoped to it. */
  serverUrl?: string
}

/**
 * A git command manager. The token travels as `http.<server>/.extraheader` in GIT_CONFIG_* environment variables:
 * never in a URL, on a command line, or in a config file left behind.
 */
export function createGit(options: GitOptions): GitCommandManager {
  const env: Record<string, string> = {
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: 'true',
    GCM_INTERACTIVE: 'Never',
    LC_ALL: 'C'
  }
  if (options.token) {
    const basic = Buffer.from(`x-access-token:${options.token}`).toString('base64')
    core.setSecret(basic)
    const server = (options.serverUrl ?? 'https://github.com').replace(/\/+$/, '')
    // An empty value first clears headers a checkout may have persisted (actions/checkout does): two
    // Authorization headers would be refused.
    Object.assign(env, {
      GIT_CONFIG_COUNT: '2',
      GIT_CONFIG_KEY_0: `http.${server}/.extraheader`,
      GIT_CONFIG_VALUE_0: '',
      GIT_CONFIG_KEY_1: `http.${server}/.extraheader`,
      GIT_CONFIG_VALUE_1: `AUTHORIZATION: basic ${basic}`
    })
  }
  const cwd = options.cwd

  const exec = (args: string[], input?: string) =>
    options.runner.run('git', args, { cwd, env, silent: true, input })
  const git = async (args: string[], what: string, input?: string): Promise<CommandResult> => {
    const result = await exec(args, input)
    if (result.exitCode !== 0) {
      throw new ExternalError(`git ${what} failed (exit code ${result.exitCode}):\n${lastLines(result, 12)}`)
    }
    return result
  }

  return {
    cwd,
    async clone(url, branch) {
      const at = branch ? ['--branch', branch] : []
      await git(['clone', '--quiet', '--depth', '1', ...at, '--no-tags', '--', url, '.'], `clone of ${url}`)
    },
    async fetch(branch) {
      await git(
        [
          'fetch',
          '--quiet',
          '--depth',
          '1',
          '--no-tags',
          'origin',
          `+refs/heads/${branch}:refs/remotes/origin/${branch}`
        ],
        `fetch of ${branch}`
      )
      return (await git(['rev-parse', `refs/remotes/origin/${branch}`], 'rev-parse')).stdout.trim()
    },
    async resetHard(ref) {
      await git(['reset', '--quiet', '--hard', ref], `reset to ${ref}`)
    },
    async revParse(ref) {
      return (await git(['rev-parse', '--verify', `${ref}^{commit}`], `rev-parse ${ref}`)).stdout.trim()
    },
    async hasChanges(paths = []) {
      const result = await git(['status', '--porcelain', '--', ...paths], 'status')
      return result.stdout.trim() !== ''
    },
    async commit(message, author, paths) {
      await git(['add', '--', ...paths], 'add')
      const identity = ['-c', `user.name=${author.name}`, '-c', `user.email=${author.email}`]
      // The message goes through standard input: it may hold anything, and never becomes an argument.
      await git(
        [...identity, 'commit', '--quiet', '--no-verify', '--file=-', '--', ...paths],
        'commit',
        message
      )
      return (await git(['rev-parse', 'HEAD'], 'rev-parse')).stdout.trim()
    },
    async tryPush(branch, pushOptions = {}) {
      const args = [
        'push',
        '--porcelain',
        'origin',
        `${pushOptions.force ? '+' : ''}HEAD:refs/heads/${branch}`
      ]
      const result = await exec(args)
      if (result.exitCode === 0) return 'pushed'
      const text = `${result.stdout}\n${result.stderr}`
      if (/GH006|protected branch/i.test(text)) return 'protected'
      if (
        /\[rejected\]|non-fast-forward|fetch first|stale info|cannot lock ref|failed to update ref/i.test(
          text
        )
      ) {
        return 'rejected'
      }
      throw new ExternalError(
        `git push to ${branch} failed (exit code ${result.exitCode}):\n${lastLines(result, 12)}`
      )
    },
    async message(ref) {
      return (await git(['log', '-1', '--format=%B', ref], 'log')).stdout
    },
    async diff() {
      return (await git(['diff', '--no-color', 'HEAD'], 'diff')).stdout
    },
    async currentBranch() {
      const result = await exec(['symbolic-ref', '--quiet', '--short', 'HEAD'])
      return result.exitCode === 0 ? result.stdout.trim() : undefined
    },
    async remoteUrl() {
      return (await git(['remote', 'get-url', 'origin'], 'remote get-url')).stdout.trim()
    }
  }
}
