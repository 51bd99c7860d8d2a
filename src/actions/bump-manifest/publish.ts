import { promises as fs } from 'node:fs'
import path from 'node:path'
import { ContentionBackoff } from '../../lib/backoff.js'
import { ConfigurationError, ExternalError } from '../../lib/errors.js'
import type { GitCommandManager, Identity } from '../../lib/git/index.js'
import type { GitHubApi, RepoName } from '../../lib/github/index.js'

/** Re-applies the edit from scratch to the working tree as it is now; returns the files it changed. */
export type ApplyEdit = () => Promise<string[]>

export interface PublishRequest {
  git: GitCommandManager
  /** Needed for `commitVia: 'api'` only. */
  api?: GitHubApi
  repo: RepoName
  mode: 'direct' | 'branch'
  commitVia: 'git' | 'api'
  /** The branch the change is for (pushed to directly, or the base of `headBranch`). */
  branch: string
  headBranch?: string
  message: string
  author: Identity
  /** An upper bound on attempts; undefined: only `maxWaitMs` bounds the retries. */
  maxAttempts?: number
  /** How long to keep retrying while other runs land commits (default 5 minutes). */
  maxWaitMs?: number
  apply: ApplyEdit
  /** Injected by tests to make backoff instant. */
  sleep?: (ms: number) => Promise<void>
  /** Injected by tests to control the budget. */
  now?: () => number
  /** Injected by tests to make the jitter predictable. */
  random?: () => number
  log?: (line: string) => void
}

export interface Published {
  changed: boolean
  commitSha?: string
  /** The branch the commit is on. */
  branch: string
  attempts: number
  /** The files of the commit. */
  files: string[]
  /** Milliseconds from the first fetch to the outcome. */
  elapsedMs?: number
  /** How often the branch was seen to move between our attempts (other runs' commits landing). */
  moves?: number
}

export const DEFAULT_MAX_WAIT_MS = 5 * 60_000
// Pushes refused in a row while the branch did not move are not contention: something else refuses them.
const MAX_STALLS = 5

/**
 * Commits and pushes the edit. A rejected push or a moved head means another run got there first: fetch, reset
 * to the remote, re-apply the edit from scratch, and try again after a backoff that adapts to the contention. Runs
 * keep retrying as long as other runs make progress (the branch moves), within `maxWaitMs` (and `maxAttempts`, when
 * given). When the remote already holds the desired state, nothing is committed. With `mode: 'branch'` the head
 * branch starts from the base branch the first time and from itself afterwards, so edits of several runs (several
 * images) accumulate on it and none is lost; nothing is ever force-pushed.
 */
export async function publish(request: PublishRequest): Promise<Published> {
  const sleep = request.sleep ?? (ms => new Promise(resolve => setTimeout(resolve, ms)))
  const now = request.now ?? Date.now
  const maxWaitMs = request.maxWaitMs ?? DEFAULT_MAX_WAIT_MS
  const maxAttempts = request.maxAttempts ?? Infinity
  const target = request.mode === 'branch' ? (request.headBranch as string) : request.branch
  const started = now()
  const backoff = new ContentionBackoff(undefined, undefined, request.random)
  let moves = 0
  let stalls = 0
  let lastStart: string | undefined
  let firstStart: string | undefined
  for (let attempt = 1; ; attempt++) {
    const attemptStarted = now()
    const existing = await request.git.fetch(target)
    const start =
      existing ?? (request.mode === 'branch' ? await request.git.fetch(request.branch) : undefined)
    if (!start) {
      throw new ConfigurationError(
        `branch '${request.branch}' does not exist in ${request.repo.owner}/${request.repo.repo}: check 'branch'`
      )
    }
    if (lastStart !== undefined) {
      if (start !== lastStart) {
        moves++
        stalls = 0
      } else stalls++
    }
    lastStart = start
    firstStart ??= start
    if (stalls >= MAX_STALLS) {
      throw new ExternalError(
        `${target} refused ${stalls + 1} commits in a row though it did not move: not a race with other runs. Check the ` +
          'server-side hooks or rules of the repository'
      )
    }
    await request.git.resetHard(start)
    const files = await request.apply()
    const elapsed = () => now() - started
    if (files.length === 0)
      return { changed: false, branch: target, attempts: attempt, files, elapsedMs: elapsed(), moves }

    const outcome =
      request.commitVia === 'api'
        ? await commitViaApi(request, start, target, files, existing === undefined)
        : await commitViaGit(request, target, files)
    if (outcome.kind === 'done') {
      return {
        changed: true,
        commitSha: outcome.sha,
        branch: target,
        attempts: attempt,
        files,
        elapsedMs: elapsed(),
        moves
      }
    }
    if (outcome.kind === 'protected') {
      throw new ConfigurationError(
        `branch '${target}' of ${request.repo.owner}/${request.repo.repo} is protected and refused the commit: ` +
          'use push: branch with a head-branch, then open-promotion-pr to propose the change as a pull request'
      )
    }
    const attemptMs = now() - attemptStarted
    // The last wait is cut to what the budget leaves for one more attempt, rather than giving up before it.
    const delay = Math.min(backoff.next(attemptMs), maxWaitMs - elapsed() - attemptMs)
    if (attempt >= maxAttempts || delay < 0) {
      const landed = await request.git.tryCountCommitsAfter?.(target, firstStart as string, new Date(started))
      throw new ExternalError(giveUp(target, attempt, elapsed(), moves + 1, landed, attempt >= maxAttempts))
    }
    request.log?.(
      `${target} moved while committing (attempt ${attempt}, ${seconds(elapsed())} of ${seconds(maxWaitMs)} ` +
        `max-wait used); retrying in ${delay} ms`
    )
    await sleep(delay)
  }
}

function giveUp(
  target: string,
  attempts: number,
  elapsedMs: number,
  moves: number,
  landed: number | undefined,
  byCount: boolean
): string {
  const limit = byCount ? `max-attempts (${attempts})` : 'max-wait'
  const others =
    landed !== undefined && landed >= moves
      ? `${landed} commit(s) by others landed on ${target} meanwhile, ${moves} of them just before one of ours`
      : `${target} moved ${moves} time(s) meanwhile, each time because another run's commit landed first ` +
        `(${moves} or more commits)`
  return (
    `gave up after ${seconds(elapsedMs)} and ${attempts} attempts (${limit} reached): ${others}. ` +
    `Re-run this job to land the change; to avoid this, raise ${byCount ? 'max-attempts' : 'max-wait'}, or ` +
    'serialise the workflows that write to this branch with a concurrency group'
  )
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`
}

type Outcome = { kind: 'done'; sha: string } | { kind: 'retry' } | { kind: 'protected' }

async function commitViaGit(request: PublishRequest, target: string, files: string[]): Promise<Outcome> {
  const sha = await request.git.commit(request.message, request.author, files)
  const result = await request.git.tryPush(target)
  if (result === 'pushed') return { kind: 'done', sha }
  return result === 'protected' ? { kind: 'protected' } : { kind: 'retry' }
}

async function commitViaApi(
  request: PublishRequest,
  start: string,
  target: string,
  files: string[],
  createTarget: boolean
): Promise<Outcome> {
  const api = request.api
  if (!api) throw new Error('commit-via api needs a GitHub API client')
  // A head branch that does not exist yet is created at the base; another run creating it first is a retry.
  if (createTarget && !(await api.createBranch(request.repo, target, start))) return { kind: 'retry' }
  const additions = await Promise.all(
    files.map(async file => ({ path: file, contents: await fs.readFile(path.join(request.git.cwd, file)) }))
  )
  const result = await api.createCommitOnBranch({
    repo: request.repo,
    branch: target,
    expectedHeadOid: start,
    message: request.message,
    additions
  })
  if (result.kind === 'committed') return { kind: 'done', sha: result.oid }
  return result.kind === 'protected' ? { kind: 'protected' } : { kind: 'retry' }
}
