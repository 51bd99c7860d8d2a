import type { getOctokit } from '@actions/github'
import { ExternalError } from '../errors.js'

/** `owner/name`. */
export interface RepoName {
  owner: string
  repo: string
}

export function parseRepoName(text: string): RepoName {
  const [owner, repo] = text.split('/')
  return { owner: owner as string, repo: repo as string }
}

export interface FileAddition {
  path: string
  /** The file's bytes. */
  contents: Buffer
}

export type CommitOutcome =
  | { kind: 'committed'; oid: string; url: string }
  | { kind: 'head-moved' }
  | { kind: 'protected'; message: string }

/** The GitHub API operations the actions use. */
export interface GitHubApi {
  /** Creates a branch at `sha`; false when it already exists (someone else created it first). */
  createBranch(repo: RepoName, branch: string, sha: string): Promise<boolean>
  /** GraphQL `createCommitOnBranch`: GitHub signs the commit; `expectedHeadOid` is an optimistic lock. */
  createCommitOnBranch(input: {
    repo: RepoName
    branch: string
    expectedHeadOid: string
    message: string
    additions: FileAddition[]
  }): Promise<CommitOutcome>
}

export interface GitHubApiOptions {
  token: string
  /** REST base (GITHUB_API_URL); GraphQL is at its `/graphql`, or `/api/graphql` on GitHub Enterprise Server. */
  apiUrl?: string
  userAgent?: string
  /** Bound on each request; default two minutes. */
  timeoutMs?: number
}

type Octokit = ReturnType<typeof getOctokit>

/**
 * @actions/github's Octokit, loaded on the first call (a chunk of its own in the bundle): it and its HTTP client are
 * most of an action's code, and most runs never call.
 */
export function lazyOctokit(options: GitHubApiOptions): () => Promise<Octokit> {
  const baseUrl = (options.apiUrl || 'https://api.github.com').replace(/\/+$/, '')
  let loading: Promise<Octokit> | undefined
  return () =>
    (loading ??= import('@actions/github').then(({ getOctokit }) =>
      getOctokit(options.token, {
        baseUrl,
        userAgent: options.userAgent ?? 'digest-delivery',
        request: { fetch: boundedFetch(options.timeoutMs ?? API_TIMEOUT_MS) }
      })
    ))
}

/** Every GitHub API request has a time bound: a server that stops answering fails the request, not the job's clock. */
const API_TIMEOUT_MS = 2 * 60_000

function boundedFetch(timeoutMs: number) {
  return (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const deadline = AbortSignal.timeout(timeoutMs)
    return fetch(input, {
      ...init,
      signal: init.signal ? AbortSignal.any([init.signal, deadline]) : deadline
    })
  }
}

/** A client over @actions/github's Octokit, with retries left to the caller's loop. */
export function createGitHubApi(options: GitHubApiOptions): GitHubApi {
  const client = lazyOctokit(options)
  const fail = (what: string, error: unknown): never => {
    const status = (error as { status?: number }).status
    const message = (error as Error).message ?? String(error)
    throw new ExternalError(`GitHub API: ${what} failed${status ? ` (${status})` : ''}: ${message}`)
  }

  return {
    async createBranch(repo, branch, sha) {
      const octokit = await client()
      try {
        await octokit.rest.git.createRef({ ...repo, ref: `refs/heads/${branch}`, sha })
        return true
      } catch (error) {
        if (
          (error as { status?: number }).status === 422 &&
          /already exists/i.test((error as Error).message)
        ) {
          return false
        }
        return fail(`creating branch ${branch}`, error)
      }
    },
    async createCommitOnBranch(input) {
      const [headline, ...rest] = input.message.split('\n')
      const mutation = `mutation ($input: CreateCommitOnBranchInput!) {
        createCommitOnBranch(input: $input) { commit { oid url } }
      }`
      const octokit = await client()
      try {
        const result = await octokit.graphql<{
          createCommitOnBranch: { commit: { oid: string; url: string } }
        }>(mutation, {
          input: {
            branch: {
              repositoryNameWithOwner: `${input.repo.owner}/${input.repo.repo}`,
              branchName: input.branch
            },
            expectedHeadOid: input.expectedHeadOid,
            message: { headline, body: rest.join('\n').trim() },
            fileChanges: {
              additions: input.additions.map(file => ({
                path: file.path,
                contents: file.contents.toString('base64')
              }))
            }
          }
        })
        return { kind: 'committed', ...result.createCommitOnBranch.commit }
      } catch (error) {
        const message = (error as Error).message ?? ''
        const types = ((error as { errors?: Array<{ type?: string }> }).errors ?? []).map(e => e.type)
        // GitHub answers a stale expectedHeadOid with STALE_DATA: "Expected branch to point to … but it did not".
        if (types.includes('STALE_DATA') || /Expected branch to point to/i.test(message)) {
          return { kind: 'head-moved' }
        }
        if (/protected branch|GH006|GH013|Repository rule violations/i.test(message)) {
          return { kind: 'protected', message }
        }
        return fail('createCommitOnBranch', error)
      }
    }
  }
}

export {
  createPullRequestApi,
  type CommitStatus,
  type CommitSummary,
  type Comparison,
  type CreatePullOutcome,
  type PullRequest,
  type PullRequestApi,
  type Refusable
} from './pulls.js'
