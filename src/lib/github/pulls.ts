import type { getOctokit } from '@actions/github'
import { ConfigurationError, ExternalError } from '../errors.js'
import type { RepoName } from './index.js'

/** An open pull request as the promotion reads it. */
export interface PullRequest {
  number: number
  nodeId: string
  url: string
  title: string
  body: string
  headSha: string
  draft: boolean
  /** Whether auto-merge is enabled on it. */
  autoMerge: boolean
  createdAt: string
}

export type CreatePullOutcome =
  | { kind: 'created'; pull: PullRequest }
  /** 422 "A pull request already exists for owner:branch.": another run opened it first. */
  | { kind: 'exists' }
  /** 403 "GitHub Actions is not permitted to create or approve pull requests." */
  | { kind: 'actions-not-permitted'; message: string }
  /** 422: the head branch does not exist (or has nothing base lacks). */
  | { kind: 'invalid-head'; message: string }
  /** 422: the base branch does not exist. */
  | { kind: 'invalid-base'; message: string }

/** A request GitHub refused without failing the promotion (reviewers, auto-merge). */
export type Refusable = { ok: true } | { ok: false; message: string }

export interface CommitSummary {
  sha: string
  message: string
  /** Author date, ISO 8601. */
  date: string
  author: string
  url: string
}

export interface CommitStatus {
  context: string
  state: string
  /** When it was posted (statuses) or completed (check runs). */
  at: string
  kind: 'status' | 'check-run'
}

export interface Comparison {
  totalCommits: number
  /** Oldest first; GitHub returns at most 250. */
  commits: CommitSummary[]
}

/** The pull-request side of the GitHub API that open-promotion-pr uses. */
export interface PullRequestApi {
  defaultBranch(repo: RepoName): Promise<string>
  /** Open pulls from `head` (a branch of `repo`) into `base`, oldest first. */
  listOpenPulls(repo: RepoName, head: string, base: string): Promise<PullRequest[]>
  createPull(
    repo: RepoName,
    pull: { head: string; base: string; title: string; body: string; draft: boolean }
  ): Promise<CreatePullOutcome>
  updatePull(
    repo: RepoName,
    number: number,
    change: { title?: string; body?: string; state?: 'closed' }
  ): Promise<void>
  /** The pull request as it is now (its head, draft and auto-merge may have changed since it was listed). */
  readPull(repo: RepoName, number: number): Promise<PullRequest>
  /** Whether the pull request merges into its base without conflicts; null while GitHub is still computing it. */
  mergeable(repo: RepoName, number: number): Promise<boolean | null>
  comment(repo: RepoName, number: number, body: string): Promise<void>
  addLabels(repo: RepoName, number: number, labels: string[]): Promise<void>
  addAssignees(repo: RepoName, number: number, assignees: string[]): Promise<void>
  requestReviewers(repo: RepoName, number: number, reviewers: string[], teams: string[]): Promise<Refusable>
  enableAutoMerge(pull: PullRequest, method: 'merge' | 'squash' | 'rebase'): Promise<Refusable>
  /** Turns a draft into a pull request ready for review. */
  markReady(pull: PullRequest): Promise<void>
  /** Turns a pull request ready for review back into a draft. */
  convertToDraft(pull: PullRequest): Promise<Refusable>
  disableAutoMerge(pull: PullRequest): Promise<Refusable>
  /** Deletes a branch; false when it was already gone. */
  deleteBranch(repo: RepoName, branch: string): Promise<boolean>
  /** Commits of `base...head` (`head` may be `owner:branch` or a sha). */
  compare(repo: RepoName, base: string, head: string): Promise<Comparison>
  /** Commits reachable from `ref`, newest first, optionally only those touching `path`. */
  listCommits(
    repo: RepoName,
    ref: string,
    options?: { path?: string; max?: number }
  ): Promise<CommitSummary[]>
  /** Commit statuses (latest per context, the combined status) and check runs (latest per name), every page. */
  statuses(repo: RepoName, sha: string): Promise<CommitStatus[]>
}

type Octokit = ReturnType<typeof getOctokit>

interface HttpError {
  status?: number
  message?: string
  response?: { data?: { errors?: Array<{ message?: string }> } }
}

/** The message GitHub gave, with the details of a 422's `errors` (where "A pull request already exists" is). */
function describe(error: unknown): string {
  const http = error as HttpError
  const details = (http.response?.data?.errors ?? []).map(entry => entry.message).filter(Boolean)
  return [http.message ?? String(error), ...details].join(': ')
}

/** Pages of the combined status read at most: 1,000 contexts, far more than any commit carries. */
const MAX_STATUS_PAGES = 10

/**
 * The latest status of each context of a commit, every page of the combined status: one entry per context, where
 * the list of statuses holds every status ever posted (a controller reposting each sync fills pages with repeats).
 */
async function combinedStatuses(octokit: Octokit, repo: RepoName, sha: string) {
  const latest = []
  for (let page = 1; ; page++) {
    const { data } = await octokit.rest.repos.getCombinedStatusForRef({
      ...repo,
      ref: sha,
      per_page: 100,
      page
    })
    latest.push(...data.statuses)
    if (data.statuses.length < 100 || latest.length >= data.total_count) return latest
    // A context left unread could be a failing one: refuse rather than judge on part of them.
    if (page === MAX_STATUS_PAGES) {
      throw new ExternalError(
        `${sha} carries ${data.total_count} status contexts, more than the ${MAX_STATUS_PAGES * 100} read`
      )
    }
  }
}

/** A client over a lazily loaded Octokit, as `createGitHubApi` builds it. */
export function createPullRequestApi(client: () => Promise<Octokit>): PullRequestApi {
  const fail = (what: string, error: unknown): never => {
    const status = (error as HttpError).status
    const message = `GitHub API: ${what} failed${status ? ` (${status})` : ''}: ${describe(error)}`
    if (status === 403 && /Resource not accessible/i.test(describe(error))) {
      throw new ConfigurationError(
        `${message}. The token lacks a permission: it needs contents: write and pull-requests: write on the ` +
          "repository (statuses: read and checks: read for require-status); grant them in the workflow's " +
          '`permissions:` or to the GitHub App or fine-grained token'
      )
    }
    throw new ExternalError(message)
  }
  const call = async <T>(what: string, work: (octokit: Octokit) => Promise<T>): Promise<T> => {
    const octokit = await client()
    try {
      return await work(octokit)
    } catch (error) {
      return fail(what, error)
    }
  }
  const pullOf = (data: {
    number: number
    node_id: string
    html_url: string
    title: string
    body: string | null
    head: { sha: string }
    draft?: boolean
    auto_merge?: unknown
    created_at: string
  }): PullRequest => ({
    number: data.number,
    nodeId: data.node_id,
    url: data.html_url,
    title: data.title,
    body: data.body ?? '',
    headSha: data.head.sha,
    draft: data.draft ?? false,
    autoMerge: data.auto_merge != null,
    createdAt: data.created_at
  })
  const commitOf = (data: {
    sha: string
    html_url: string
    commit: { message: string; author: { name?: string; date?: string } | null }
    author?: { login?: string } | null
  }): CommitSummary => ({
    sha: data.sha,
    message: data.commit.message,
    date: data.commit.author?.date ?? '',
    author: data.author?.login ?? data.commit.author?.name ?? '',
    url: data.html_url
  })

  /** A mutation on one pull request; GitHub's refusal (an answer with errors) is returned, not thrown. */
  const refusable = async (what: string, pull: PullRequest, mutation: string): Promise<Refusable> => {
    const octokit = await client()
    try {
      await octokit.graphql(
        `mutation ($id: ID!) { ${mutation}(input: { pullRequestId: $id }) { pullRequest { number } } }`,
        { id: pull.nodeId }
      )
      return { ok: true }
    } catch (error) {
      if (Array.isArray((error as { errors?: unknown }).errors))
        return { ok: false, message: describe(error) }
      return fail(what, error)
    }
  }

  return {
    defaultBranch: repo =>
      call(`reading ${repo.owner}/${repo.repo}`, async octokit => {
        const { data } = await octokit.rest.repos.get({ ...repo })
        return data.default_branch
      }),

    listOpenPulls: (repo, head, base) =>
      call(`listing pull requests from ${head}`, async octokit => {
        // GitHub ignores `head` without its owner prefix, which would list every pull of the repository.
        const pulls = await octokit.paginate(octokit.rest.pulls.list, {
          ...repo,
          head: `${repo.owner}:${head}`,
          base,
          state: 'open',
          sort: 'created',
          direction: 'asc',
          per_page: 100
        })
        return pulls.map(pullOf)
      }),

    async createPull(repo, pull) {
      const octokit = await client()
      try {
        const { data } = await octokit.rest.pulls.create({ ...repo, ...pull })
        return { kind: 'created', pull: pullOf(data) }
      } catch (error) {
        const status = (error as HttpError).status
        const message = describe(error)
        if (status === 422 && /A pull request already exists/i.test(message)) return { kind: 'exists' }
        const errors = (error as { response?: { data?: { errors?: Array<{ field?: string }> } } }).response
          ?.data?.errors
        if (status === 422 && errors?.some(entry => entry.field === 'base')) {
          return { kind: 'invalid-base', message }
        }
        if (
          status === 422 &&
          (errors?.some(entry => entry.field === 'head') || /No commits between/i.test(message))
        ) {
          return { kind: 'invalid-head', message }
        }
        if (status === 403 && /not permitted to create or approve pull requests/i.test(message)) {
          return { kind: 'actions-not-permitted', message }
        }
        return fail(`creating the pull request from ${pull.head}`, error)
      }
    },

    updatePull: (repo, number, change) =>
      call(`updating pull request #${number}`, async octokit => {
        await octokit.rest.pulls.update({ ...repo, pull_number: number, ...change })
      }),

    readPull: (repo, number) =>
      call(`reading pull request #${number}`, async octokit => {
        const { data } = await octokit.rest.pulls.get({ ...repo, pull_number: number })
        return pullOf(data)
      }),

    mergeable: (repo, number) =>
      call(`reading pull request #${number}`, async octokit => {
        const { data } = await octokit.rest.pulls.get({ ...repo, pull_number: number })
        return data.mergeable
      }),

    comment: (repo, number, body) =>
      call(`commenting on #${number}`, async octokit => {
        await octokit.rest.issues.createComment({ ...repo, issue_number: number, body })
      }),

    addLabels: (repo, number, labels) =>
      call(`labelling #${number}`, async octokit => {
        await octokit.rest.issues.addLabels({ ...repo, issue_number: number, labels })
      }),

    addAssignees: (repo, number, assignees) =>
      call(`assigning #${number}`, async octokit => {
        await octokit.rest.issues.addAssignees({ ...repo, issue_number: number, assignees })
      }),

    async requestReviewers(repo, number, reviewers, teams) {
      const octokit = await client()
      try {
        await octokit.rest.pulls.requestReviewers({
          ...repo,
          pull_number: number,
          reviewers,
          ...(teams.length > 0 ? { team_reviewers: teams } : {})
        })
        return { ok: true }
      } catch (error) {
        if ((error as HttpError).status === 422) return { ok: false, message: describe(error) }
        return fail(`requesting reviewers on #${number}`, error)
      }
    },

    async enableAutoMerge(pull, method) {
      const octokit = await client()
      try {
        await octokit.graphql(
          `mutation ($id: ID!, $mergeMethod: PullRequestMergeMethod!) {
            enablePullRequestAutoMerge(input: { pullRequestId: $id, mergeMethod: $mergeMethod }) {
              pullRequest { number }
            }
          }`,
          { id: pull.nodeId, mergeMethod: method.toUpperCase() }
        )
        return { ok: true }
      } catch (error) {
        const types = ((error as { errors?: Array<{ type?: string }> }).errors ?? []).map(e => e.type)
        // GitHub answers a refusal (setting off, clean status, no protection rule) as UNPROCESSABLE.
        if (types.includes('UNPROCESSABLE')) return { ok: false, message: describe(error) }
        return fail(`enabling auto-merge on #${pull.number}`, error)
      }
    },

    markReady: pull =>
      call(`marking #${pull.number} ready for review`, async octokit => {
        await octokit.graphql(
          `mutation ($id: ID!) {
            markPullRequestReadyForReview(input: { pullRequestId: $id }) { pullRequest { number } }
          }`,
          { id: pull.nodeId }
        )
      }),

    convertToDraft: pull =>
      refusable(`converting #${pull.number} to a draft`, pull, 'convertPullRequestToDraft'),

    disableAutoMerge: pull =>
      refusable(`disabling auto-merge on #${pull.number}`, pull, 'disablePullRequestAutoMerge'),

    async deleteBranch(repo, branch) {
      const octokit = await client()
      try {
        await octokit.rest.git.deleteRef({ ...repo, ref: `heads/${branch}` })
        return true
      } catch (error) {
        if ((error as HttpError).status === 422) return false
        return fail(`deleting branch ${branch}`, error)
      }
    },

    compare: (repo, base, head) =>
      call(`comparing ${base}...${head}`, async octokit => {
        const { data } = await octokit.rest.repos.compareCommitsWithBasehead({
          ...repo,
          basehead: `${base}...${head}`
        })
        return { totalCommits: data.total_commits, commits: data.commits.map(commitOf) }
      }),

    listCommits: (repo, ref, options = {}) =>
      call(`listing commits of ${ref}`, async octokit => {
        const max = options.max ?? 100
        const { data } = await octokit.rest.repos.listCommits({
          ...repo,
          sha: ref,
          ...(options.path ? { path: options.path } : {}),
          per_page: Math.min(max, 100)
        })
        return data.map(commitOf)
      }),

    statuses: (repo, sha) =>
      call(`reading the statuses of ${sha}`, async octokit => {
        const [latest, runs] = await Promise.all([
          combinedStatuses(octokit, repo, sha),
          octokit.paginate(octokit.rest.checks.listForRef, { ...repo, ref: sha, per_page: 100 })
        ])
        const statuses: CommitStatus[] = latest.map(status => ({
          context: status.context,
          state: status.state,
          at: status.created_at,
          kind: 'status'
        }))
        for (const run of runs) {
          statuses.push({
            context: run.name,
            state: run.status === 'completed' ? (run.conclusion ?? 'pending') : 'pending',
            at: run.completed_at ?? run.started_at ?? '',
            kind: 'check-run'
          })
        }
        return statuses
      })
  }
}
