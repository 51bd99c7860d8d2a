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

/** One branch of an `updateRefs` call: moved (or deleted, `after: null`) only while it points at `before`. */
export interface BranchUpdate {
  branch: string
  before: string
  after: string | null
  /** Allow an update that is not a fast-forward. */
  force?: boolean
}

export type BranchesOutcome =
  { kind: 'updated' } | { kind: 'moved'; branch: string } | { kind: 'refused'; message: string }

const NO_COMMIT = '0'.repeat(40)

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
  /** The commit a branch points at; undefined when there is no such branch. */
  branchHead(repo: RepoName, branch: string): Promise<string | undefined>
  /** GraphQL `updateRefs`: every update or none, each only while its branch points at `before` (the lease). */
  updateBranches(repo: RepoName, updates: BranchUpdate[]): Promise<BranchesOutcome>
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

  const repositoryIds = new Map<string, Promise<string>>()
  const repositoryId = (repo: RepoName): Promise<string> => {
    const key = `${repo.owner}/${repo.repo}`.toLowerCase()
    let id = repositoryIds.get(key)
    if (!id) {
      id = client()
        .then(octokit =>
          octokit.graphql<{ repository: { id: string } }>(
            'query ($owner: String!, $name: String!) { repository(owner: $owner, name: $name) { id } }',
            { owner: repo.owner, name: repo.repo }
          )
        )
        .then(
          answer => answer.repository.id,
          error => {
            repositoryIds.delete(key)
            return fail(`reading the id of ${key}`, error)
          }
        )
      repositoryIds.set(key, id)
    }
    return id
  }

  const api: GitHubApi = {
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
    },
    async branchHead(repo, branch) {
      const octokit = await client()
      try {
        const { data } = await octokit.rest.git.getRef({ ...repo, ref: `heads/${branch}` })
        return data.object.sha
      } catch (error) {
        if ((error as { status?: number }).status === 404) return undefined
        return fail(`reading branch ${branch}`, error)
      }
    },
    async updateBranches(repo, updates) {
      const mutation = `mutation ($input: UpdateRefsInput!) { updateRefs(input: $input) { clientMutationId } }`
      const id = await repositoryId(repo)
      const octokit = await client()
      try {
        await octokit.graphql(mutation, {
          input: {
            repositoryId: id,
            refUpdates: updates.map(update => ({
              name: `refs/heads/${update.branch}`,
              beforeOid: update.before,
              afterOid: update.after ?? NO_COMMIT,
              force: update.force ?? false
            }))
          }
        })
        return { kind: 'updated' }
      } catch (error) {
        // GitHub answers a stale beforeOid with a generic error, not a type of its own: the branches tell what
        // happened. All at `after`: the update landed and only its answer was lost.
        const heads = await Promise.all(updates.map(update => api.branchHead(repo, update.branch)))
        if (updates.every((update, i) => heads[i] === (update.after ?? undefined))) return { kind: 'updated' }
        const moved = updates.find((update, i) => heads[i] !== update.before)
        if (moved) return { kind: 'moved', branch: moved.branch }
        return { kind: 'refused', message: (error as Error).message ?? String(error) }
      }
    }
  }
  return api
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
