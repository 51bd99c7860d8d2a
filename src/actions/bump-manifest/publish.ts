import { promises as fs } from 'node:fs'
import path from 'node:path'
import { jitteredBackoff } from '../../lib/backoff.js'
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
  maxAttempts: number
  apply: ApplyEdit
  /** Injected by tests to make backoff instant. */
  sleep?: (ms: number) => Promise<void>
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
}

const BACKOFF_BASE_MS = 250
const BACKOFF_MAX_MS = 8_000

/**
 * Commits and pushes the edit. A rejected push or a moved head means another run got there first: fetch, reset
 * to the remote, re-apply the edit from scratch, and try again with jittered backoff. When the remote already
 * holds the desired state, nothing is committed. With `mode: 'branch'` the head branch starts from the base branch
 * the first time and from itself afterwards, so edits of several runs (several images) accumulate on it and none is
 * lost; nothing is ever force-pushed.
 */
export async function publish(request: PublishRequest): Promise<Published> {
  const sleep = request.sleep ?? (ms => new Promise(resolve => setTimeout(resolve, ms)))
  const target = request.mode === 'branch' ? (request.headBranch as string) : request.branch
  for (let attempt = 1; attempt <= request.maxAttempts; attempt++) {
    const existing = await request.git.fetch(target)
    const start =
      existing ?? (request.mode === 'branch' ? await request.git.fetch(request.branch) : undefined)
    if (!start) {
      throw new ConfigurationError(
        `branch '${request.branch}' does not exist in ${request.repo.owner}/${request.repo.repo}: check 'branch'`
      )
    }
    await request.git.resetHard(start)
    const files = await request.apply()
    if (files.length === 0) return { changed: false, branch: target, attempts: attempt, files }

    const outcome =
      request.commitVia === 'api'
        ? await commitViaApi(request, start, target, files, existing === undefined)
        : await commitViaGit(request, target, files)
    if (outcome.kind === 'done') {
      return { changed: true, commitSha: outcome.sha, branch: target, attempts: attempt, files }
    }
    if (outcome.kind === 'protected') {
      throw new ConfigurationError(
        `branch '${target}' of ${request.repo.owner}/${request.repo.repo} is protected and refused the commit: ` +
          'use push: branch with a head-branch, then open-promotion-pr to propose the change as a pull request'
      )
    }
    if (attempt < request.maxAttempts) {
      const delay = jitteredBackoff(attempt, BACKOFF_BASE_MS, BACKOFF_MAX_MS)
      request.log?.(
        `${target} moved while committing (attempt ${attempt} of ${request.maxAttempts}); retrying in ${delay} ms`
      )
      await sleep(delay)
    }
  }
  throw new ExternalError(
    `gave up after ${request.maxAttempts} attempts: ${target} kept moving while committing (raise max-attempts, ` +
      'or serialise the workflows with a concurrency group)'
  )
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
