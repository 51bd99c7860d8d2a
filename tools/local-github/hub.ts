/** Behaviour shared by REST, GraphQL and the test-facing API: pulls as git sees them, commits the server makes. */
import type { Person, TreeChange } from './git.js'
import type { PullFacts, Urls } from './representations.js'
import {
  GITHUB_COMMITTER,
  now,
  type PullState,
  type Registry,
  type RepoState,
  type StatusState,
  type User
} from './state.js'

/** A refusal with GitHub's status and message (REST answers it; GraphQL turns it into an error). */
export class ApiError extends Error {
  override name = 'ApiError'
  constructor(
    readonly status: number,
    message: string,
    readonly errors?: Array<Record<string, unknown>>,
    /** GraphQL's error `type` for the same refusal; null for GitHub's generic error, which has none. */
    readonly graphqlType?: string | null
  ) {
    super(message)
  }
}

export const notFound = (): ApiError => new ApiError(404, 'Not Found', undefined, 'NOT_FOUND')
export const validationFailed = (errors: Array<Record<string, unknown>>): ApiError =>
  new ApiError(422, 'Validation Failed', errors, 'UNPROCESSABLE')
export const unprocessable = (message: string): ApiError =>
  new ApiError(422, message, undefined, 'UNPROCESSABLE')

export interface FileCommit {
  branch: string
  /** Optimistic lock: the commit the branch must point at; undefined to commit on whatever it points at. */
  expectedHead?: string
  additions: Array<{ path: string; content: Buffer }>
  deletions: string[]
  message: string
  author: Person
  committer?: Person
  /** Record the commit as signed by GitHub (web-flow), as GitHub does for API commits by apps. */
  signedByGitHub?: boolean
}

export class Hub {
  constructor(
    readonly registry: Registry,
    readonly urls: Urls
  ) {}

  /** A pull's head follows its branch while it is open. */
  async refreshPull(repo: RepoState, pull: PullState): Promise<PullState> {
    if (pull.state === 'open') {
      const sha = await repo.git.resolveCommit(`refs/heads/${pull.head}`)
      if (sha && sha !== pull.headSha) pull.headSha = sha
    }
    return pull
  }

  async baseSha(repo: RepoState, pull: PullState): Promise<string> {
    return (await repo.git.resolveCommit(`refs/heads/${pull.base}`)) ?? ''
  }

  reviewers(pull: PullState): User[] {
    return pull.requestedReviewers.map(login => this.registry.user(login))
  }

  assignees(pull: PullState): User[] {
    return pull.assignees.map(login => this.registry.user(login))
  }

  /** The latest status per context on a commit, newest first. */
  latestStatuses(repo: RepoState, sha: string): StatusState[] {
    const seen = new Set<string>()
    const latest: StatusState[] = []
    for (const entry of [...repo.statuses].reverse()) {
      if (entry.sha !== sha || seen.has(entry.context.toLowerCase())) continue
      seen.add(entry.context.toLowerCase())
      latest.push(entry)
    }
    return latest
  }

  /** GitHub's merge state: dirty (conflicts), blocked (protection unmet), clean. */
  async mergeState(repo: RepoState, pull: PullState): Promise<{ mergeable: boolean | null; state: string }> {
    if (pull.state !== 'open') return { mergeable: null, state: 'unknown' }
    const base = await this.baseSha(repo, pull)
    if (!base || !(await repo.git.mergesCleanly(base, pull.headSha)))
      return { mergeable: false, state: 'dirty' }
    const protection = repo.protections.get(pull.base)
    if (protection) {
      if (protection.requiredApprovals > 0) return { mergeable: true, state: 'blocked' }
      const statuses = new Map(
        this.latestStatuses(repo, pull.headSha).map(s => [s.context, s.state as string])
      )
      for (const run of repo.checkRuns.filter(r => r.headSha === pull.headSha)) {
        statuses.set(run.name, run.status === 'completed' ? (run.conclusion ?? 'pending') : 'pending')
      }
      if (protection.requiredStatusChecks.some(name => statuses.get(name) !== 'success')) {
        return { mergeable: true, state: 'blocked' }
      }
    }
    return { mergeable: true, state: 'clean' }
  }

  async pullFacts(repo: RepoState, pull: PullState): Promise<PullFacts> {
    await this.refreshPull(repo, pull)
    const baseSha = await this.baseSha(repo, pull)
    const mergeBase = baseSha ? await repo.git.mergeBase(baseSha, pull.headSha) : undefined
    const files = mergeBase ? await repo.git.diffFiles(mergeBase, pull.headSha) : []
    const commits = mergeBase ? (await repo.git.revList(pull.headSha, { exclude: mergeBase })).length : 0
    const merge = await this.mergeState(repo, pull)
    return {
      baseSha,
      commits,
      additions: files.reduce((sum, file) => sum + file.additions, 0),
      deletions: files.reduce((sum, file) => sum + file.deletions, 0),
      changedFiles: files.length,
      mergeable: merge.mergeable,
      mergeableState: merge.state,
      reviewers: this.reviewers(pull),
      assignees: this.assignees(pull)
    }
  }

  /** Accounts by commit email, to attach GitHub users to commits as GitHub does. */
  accountsByEmail(): Map<string, User> {
    return new Map([...this.registry.users.values()].map(account => [account.email.toLowerCase(), account]))
  }

  /** The identity GitHub gives commits it writes on behalf of an account. */
  identity(account: User): Person {
    return { name: account.name, email: account.email, date: now() }
  }

  /**
   * Commit file changes on top of a branch and move the branch with compare-and-swap, so a concurrent push
   * between reading the head and moving the branch fails instead of being overwritten.
   */
  async commitFiles(repo: RepoState, change: FileCommit): Promise<string> {
    const ref = `refs/heads/${change.branch}`
    const head = await repo.git.readRef(ref)
    if (!head) throw unprocessable(`A ref named "${ref}" does not exist in ${repo.fullName}.`)
    if (change.expectedHead !== undefined && change.expectedHead !== head) {
      throw new ApiError(
        409,
        `Expected branch to point to "${change.expectedHead}" but it did not. Pull and try again.`,
        undefined,
        'STALE_DATA'
      )
    }
    const changes: TreeChange[] = []
    for (const path of change.deletions) {
      if (!(await repo.git.entryAt(head, path))) {
        throw unprocessable(
          `A path was requested for deletion which does not exist as of commit oid \`${head}\``
        )
      }
      changes.push({ path, sha: null })
    }
    for (const addition of change.additions) {
      changes.push({
        path: addition.path,
        mode: '100644',
        type: 'blob',
        sha: await repo.git.writeBlob(addition.content)
      })
    }
    const tree = await repo.git.writeTree(await repo.git.treeOf(head), changes)
    const committer = change.committer ?? { ...GITHUB_COMMITTER, date: change.author.date }
    const sha = await repo.git.commitTree({
      tree,
      parents: [head],
      message: change.message,
      author: change.author,
      committer
    })
    if (change.signedByGitHub) await this.markSigned(repo, sha)
    if (!(await repo.git.updateRef(ref, sha, head))) {
      throw new ApiError(
        409,
        `Expected branch to point to "${head}" but it did not. Pull and try again.`,
        undefined,
        'STALE_DATA'
      )
    }
    return sha
  }

  /** Record a commit as carrying GitHub's web-flow signature (verification is not computed from real GPG). */
  async markSigned(repo: RepoState, sha: string): Promise<void> {
    const payload = await repo.git.run(['cat-file', 'commit', sha])
    repo.verifications.set(sha, {
      verified: true,
      reason: 'valid',
      signature: '-----BEGIN PGP SIGNATURE-----\n\nlocal-github-web-flow\n-----END PGP SIGNATURE-----\n',
      payload,
      verifiedAt: now()
    })
  }
}
