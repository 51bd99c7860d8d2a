import * as core from '@actions/core'
import { ExternalError } from '../errors.js'
import { lastLines, type CommandResult, type CommandRunner } from '../exec.js'

/** Bounds every git command: a clone of a large GitOps repository takes seconds to minutes, never this long. */
const GIT_TIMEOUT_MS = 10 * 60_000

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
  /**
   * Fetches `branch` from origin and returns its commit, or undefined when origin has no such branch. A shallow
   * clone stays shallow; a full checkout keeps its history.
   */
  fetch(branch: string): Promise<string | undefined>
  /** Moves the working tree and index to `ref`, dropping local edits to tracked files. */
  resetHard(ref: string): Promise<void>
  /** True when tracked files differ from HEAD in `paths` (all paths when empty). */
  hasChanges(paths?: string[]): Promise<boolean>
  /** Stages `paths` and commits; returns the new commit. */
  commit(message: string, author: Identity, paths: string[]): Promise<string>
  /** Pushes HEAD to `branch` (fast-forward only); a refused update is `rejected`, a protected branch `protected`. */
  tryPush(branch: string): Promise<PushResult>
  /**
   * How many commits `branch` on origin has after `base` (a commit fetched before), deepening a shallow clone to
   * commits since `since` to see them; undefined when that cannot be told. Optional: a stand-in need not count.
   */
  tryCountCommitsAfter?(branch: string, base: string, since: Date): Promise<number | undefined>
  /**
   * What branch `head` changes against its merge base with branch `base` (both fetched from origin before),
   * deepening a shallow clone by at most `maxDepth` commits to find that merge base; undefined when none is found.
   */
  tryChangedFiles(
    base: string,
    head: string,
    maxDepth: number,
    maxFiles: number
  ): Promise<ChangedFiles | undefined>
  /**
   * Replaces `branch` with HEAD only while it still points at `expected` (`--force-with-lease`): a commit pushed
   * there meanwhile is `rejected`, never overwritten.
   */
  tryPushWithLease(branch: string, expected: string): Promise<PushResult>
  /** The working tree's changes against HEAD as a unified diff. */
  diff(): Promise<string>
  /** The commit `ref` names in the clone, or undefined when the clone lacks it (beyond a shallow boundary). */
  tryResolveCommit(ref: string): Promise<string | undefined>
  /**
   * Fetches `commits` more commits of `branch`'s history behind a shallow clone's boundary, moving no ref the run
   * reads, `refs/remotes/origin/<branch>` included (a full clone has them already); false when the fetch failed.
   */
  tryDeepen(branch: string, commits: number): Promise<boolean>
  /**
   * Writes the files `ref` has under `paths` (directories or files; '' for the whole tree) into the empty directory
   * `into`, through a throwaway index: the clone's index, working tree and HEAD stay as they are. False when the
   * clone lacks `ref` or git could not write them.
   */
  tryExportTree(ref: string, paths: string[], into: string): Promise<boolean>
  /**
   * The newest commit reachable from `ref` whose change to `paths` adds a line holding `needle` (as far back as the
   * clone goes); undefined when none is found, or the one found is a shallow clone's boundary (its change unknown).
   */
  tryFindAddition(
    ref: string,
    needle: string,
    paths: string[]
  ): Promise<{ sha: string; subject: string } | undefined>
  /** The branch checked out, or undefined on a detached HEAD. */
  currentBranch(): Promise<string | undefined>
  /** Detaches HEAD at its commit, so later resets move no local branch. */
  detach(): Promise<void>
  /** The `owner/name` that origin points at on `serverUrl`, or undefined for another host. */
  originRepository(serverUrl: string): Promise<string | undefined>
  /** True when the checkout's config, or a file it includes, carries an `http.<server>/.extraheader` (actions/checkout's token). */
  hasPersistedCredentials(serverUrl: string): Promise<boolean>
}

/** What a branch changes against another. */
export interface ChangedFiles {
  /** The files changed, as git names them (NUL-separated, never quoted); undefined past `maxFiles`. */
  files: string[] | undefined
  /** How many files are changed (at least `maxFiles + 1` when `files` is undefined). */
  count: number
  /**
   * Merging `head` into `base` would leave base's tree as it is (base has every change of the branch already);
   * false when that cannot be told (a conflict, or a git older than 2.38 without `merge-tree --write-tree`).
   */
  mergeChangesNothing: boolean
}

export interface GitOptions {
  runner: CommandRunner
  cwd: string
  /** A token sent as HTTP basic auth (`x-access-token`) to `serverUrl` only, through the environment. */
  token?: string
  /** e.g. https://github.com; the extra header is scoped to it. */
  serverUrl?: string
  /** Bound on each git command; default ten minutes. */
  timeoutMs?: number
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
  const timeoutMs = options.timeoutMs ?? GIT_TIMEOUT_MS

  const exec = async (
    args: string[],
    input?: string,
    extraEnv: Record<string, string> = {}
  ): Promise<CommandResult> => {
    const result = await options.runner.run('git', args, {
      cwd,
      env: { ...env, ...extraEnv },
      silent: true,
      input,
      timeoutMs
    })
    if (result.timedOut) {
      throw new ExternalError(
        `git ${args[0]} did not finish within ${timeoutMs / 1000} s and was stopped (a server that stopped answering?)`
      )
    }
    return result
  }
  const git = async (
    args: string[],
    what: string,
    input?: string,
    extraEnv?: Record<string, string>
  ): Promise<CommandResult> => {
    const result = await exec(args, input, extraEnv)
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
      // --depth on a full checkout would cut its history for the steps after ours.
      const shallow =
        (await git(['rev-parse', '--is-shallow-repository'], 'rev-parse')).stdout.trim() === 'true'
      const refspec = `+refs/heads/${branch}:refs/remotes/origin/${branch}`
      const result = await exec([
        'fetch',
        '--quiet',
        ...(shallow ? ['--depth', '1'] : []),
        '--no-tags',
        'origin',
        refspec
      ])
      if (result.exitCode !== 0) {
        if (/couldn't find remote ref/i.test(result.stderr)) return undefined
        throw new ExternalError(
          `git fetch of ${branch} failed (exit code ${result.exitCode}):\n${lastLines(result, 12)}`
        )
      }
      return (await git(['rev-parse', `refs/remotes/origin/${branch}`], 'rev-parse')).stdout.trim()
    },
    async resetHard(ref) {
      await git(['reset', '--quiet', '--hard', ref], `reset to ${ref}`)
    },
    async hasChanges(paths = []) {
      const result = await git(['status', '--porcelain', '--untracked-files=no', '--', ...paths], 'status')
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
    async tryPush(branch) {
      return pushResult(branch, await exec(['push', '--porcelain', 'origin', `HEAD:refs/heads/${branch}`]))
    },
    async tryPushWithLease(branch, expected) {
      const lease = `--force-with-lease=refs/heads/${branch}:${expected}`
      return pushResult(
        branch,
        await exec(['push', '--porcelain', lease, 'origin', `HEAD:refs/heads/${branch}`])
      )
    },
    async tryCountCommitsAfter(branch, base, since) {
      const date = `@${Math.floor(since.getTime() / 1000)}`
      const ref = `refs/remotes/origin/${branch}`
      const shallow = (await exec(['rev-parse', '--is-shallow-repository'])).stdout.trim() === 'true'
      // A full checkout already has the history (and --shallow-since would cut it for the steps after ours).
      if (shallow) {
        const fetched = await exec([
          'fetch',
          '--quiet',
          '--no-tags',
          `--shallow-since=${date}`,
          'origin',
          `+refs/heads/${branch}:${ref}`
        ])
        if (fetched.exitCode !== 0) return undefined
      }
      const counted = await exec(['rev-list', '--count', ref, `^${base}`])
      const count = Number(counted.stdout.trim())
      return counted.exitCode === 0 && Number.isInteger(count) ? count : undefined
    },
    async tryChangedFiles(base, head, maxDepth, maxFiles) {
      const refs = [base, head].map(branch => `refs/remotes/origin/${branch}`)
      const shallow = (await exec(['rev-parse', '--is-shallow-repository'])).stdout.trim() === 'true'
      // Deepening in growing steps: most head branches are a commit or two off base; few need the whole bound.
      let deepened = 0
      let step = 16
      for (;;) {
        const found = await exec(['merge-base', ...refs])
        if (found.exitCode === 0) {
          // Counted first, without the names: a hostile branch may change millions of files with long names.
          const stat = await git(
            ['diff', '--shortstat', '--no-renames', found.stdout.trim(), refs[1] as string, '--'],
            'diff --shortstat'
          )
          const counted = Number(/(\d+) files? changed/.exec(stat.stdout)?.[1] ?? 0)
          if (counted > maxFiles) return { files: undefined, count: counted, mergeChangesNothing: false }
          // -z: names as they are, never quoted (a name may hold spaces, quotes, backslashes or newlines).
          const diff = await git(
            ['diff', '--name-only', '--no-renames', '-z', found.stdout.trim(), refs[1] as string, '--'],
            'diff --name-only'
          )
          // Counted without splitting: a hostile branch may change hundreds of thousands of files.
          let count = 0
          for (let at = diff.stdout.indexOf('\0'); at !== -1; at = diff.stdout.indexOf('\0', at + 1)) count++
          const files = count > maxFiles ? undefined : diff.stdout.split('\0').filter(Boolean)
          const merged = await exec(['merge-tree', '--write-tree', '--no-messages', ...refs])
          const baseTree = await exec(['rev-parse', `${refs[0]}^{tree}`])
          const mergeChangesNothing =
            merged.exitCode === 0 &&
            baseTree.exitCode === 0 &&
            merged.stdout.split('\n')[0]?.trim() === baseTree.stdout.trim()
          return { files, count, mergeChangesNothing }
        }
        if (!shallow || deepened >= maxDepth) return undefined
        step = Math.min(step, maxDepth - deepened)
        // As tryDeepen: no ref the run reads moves (the head read is the one a later lease names).
        const fetched = await exec([
          'fetch',
          '--quiet',
          '--no-tags',
          '--refmap=',
          `--deepen=${step}`,
          'origin',
          ...[base, head].map((branch, i) => `+refs/heads/${branch}:refs/digest-delivery/deepen-${i}`)
        ])
        if (fetched.exitCode !== 0) return undefined
        deepened += step
        step *= 4
      }
    },
    async tryResolveCommit(ref) {
      const result = await exec(['rev-parse', '--quiet', '--verify', `${ref}^{commit}`])
      return result.exitCode === 0 ? result.stdout.trim() : undefined
    },
    async tryDeepen(branch, commits) {
      const shallow = (await exec(['rev-parse', '--is-shallow-repository'])).stdout.trim() === 'true'
      if (!shallow) return true
      // The clone's fetch refspec would move refs/remotes/origin/<branch> to the server's tip even with no
      // destination given: an empty --refmap stops that, and the history lands on a ref no other step reads.
      const result = await exec([
        'fetch',
        '--quiet',
        '--no-tags',
        '--refmap=',
        `--deepen=${commits}`,
        'origin',
        `+refs/heads/${branch}:refs/digest-delivery/deepen`
      ])
      return result.exitCode === 0
    },
    async tryFindAddition(ref, needle, paths) {
      const pathspec = ['--', ...paths.map(p => p || '.')]
      // -S lists the commits that changed how often the needle occurs; the newest one adding it is the answer.
      const listed = await exec([
        '--literal-pathspecs',
        'log',
        '-n',
        '20',
        '--format=%H',
        `-S${needle}`,
        ref,
        ...pathspec
      ])
      if (listed.exitCode !== 0) return undefined
      for (const sha of listed.stdout.split('\n').filter(Boolean)) {
        if ((await exec(['rev-parse', '--quiet', '--verify', `${sha}^`])).exitCode !== 0) return undefined
        const diff = await exec([
          '--literal-pathspecs',
          'diff',
          '-U0',
          '--no-color',
          '--no-ext-diff',
          `${sha}^`,
          sha,
          ...pathspec
        ])
        const added = diff.stdout
          .split('\n')
          .some(line => line.startsWith('+') && !line.startsWith('+++') && line.includes(needle))
        if (diff.exitCode !== 0 || !added) continue
        const subject = await exec(['log', '-1', '--format=%s', sha])
        return { sha, subject: subject.stdout.trim() }
      }
      return undefined
    },
    async tryExportTree(ref, paths, into) {
      const listed = await exec([
        'ls-tree',
        '-r',
        '-z',
        '--name-only',
        ref,
        '--',
        ...paths.map(p => p || '.')
      ])
      if (listed.exitCode !== 0) return false
      const files = listed.stdout.split('\0').filter(Boolean)
      if (files.length === 0) return true
      // A throwaway index beside `into`: checkout with paths writes the index it uses, never HEAD.
      const index = { GIT_INDEX_FILE: `${into.replace(/\/+$/, '')}.index` }
      const written = await exec(
        [
          '--literal-pathspecs',
          `--work-tree=${into}`,
          'checkout',
          ref,
          '--pathspec-from-file=-',
          '--pathspec-file-nul'
        ],
        files.map(file => `${file}\0`).join(''),
        index
      )
      return written.exitCode === 0
    },
    async diff() {
      return (await git(['diff', '--no-color', 'HEAD'], 'diff')).stdout
    },
    async currentBranch() {
      const result = await exec(['symbolic-ref', '--quiet', '--short', 'HEAD'])
      return result.exitCode === 0 ? result.stdout.trim() : undefined
    },
    async detach() {
      await git(['checkout', '--quiet', '--detach'], 'checkout --detach')
    },
    async originRepository(serverUrl) {
      const url = (await git(['remote', 'get-url', 'origin'], 'remote get-url')).stdout.trim()
      const prefix = `${serverUrl.replace(/\/+$/, '')}/`
      if (!url.startsWith(prefix)) return undefined
      const match = /^([^/]+)\/([^/]+?)(?:\.git)?\/?$/.exec(url.slice(prefix.length))
      return match ? `${match[1]}/${match[2]}` : undefined
    },
    async hasPersistedCredentials(serverUrl) {
      const key = `http.${serverUrl.replace(/\/+$/, '')}/.extraheader`
      // The repository's own config and what it includes (actions/checkout v6 keeps the header in a file under
      // RUNNER_TEMP, included through includeIf.gitdir), never our environment-borne header.
      const result = await options.runner.run('git', ['config', '--local', '--includes', '--get-all', key], {
        cwd,
        silent: true,
        timeoutMs
      })
      return result.exitCode === 0 && result.stdout.trim() !== ''
    }
  }
}

function pushResult(branch: string, result: CommandResult): PushResult {
  if (result.exitCode === 0) return 'pushed'
  const text = `${result.stdout}\n${result.stderr}`
  // GH006: branch protection; GH013: repository rulesets.
  if (/GH006|GH013|protected branch|repository rule violations/i.test(text)) return 'protected'
  if (
    /\[rejected\]|non-fast-forward|fetch first|stale info|cannot lock ref|failed to update ref/i.test(text)
  ) {
    return 'rejected'
  }
  throw new ExternalError(
    `git push to ${branch} failed (exit code ${result.exitCode}):\n${lastLines(result, 12)}`
  )
}
