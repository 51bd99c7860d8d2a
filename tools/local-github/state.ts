/** What the local GitHub holds besides git objects: users, tokens, repositories' settings, pulls, statuses. */
import { randomBytes } from 'node:crypto'
import type { BareRepo } from './git.js'

export type Level = 'read' | 'write'

/** A token's permissions on one repository, as a GitHub App installation or a fine-grained token grants them. */
export interface Permissions {
  contents?: Level
  pullRequests?: Level
  issues?: Level
  statuses?: Level
  checks?: Level
}

export type Scope = keyof Permissions

/**
 * - `app`: a GitHub App installation token (`ghs_…`), acting as `<app-slug>[bot]`.
 * - `user`: a fine-grained personal access token (`github_pat_…`), acting as a user.
 * - `workflow`: a workflow's `GITHUB_TOKEN` (`ghs_…`), acting as `github-actions[bot]`, for its own repository only,
 *   and bound by the repository's "Allow GitHub Actions to create and approve pull requests" setting.
 */
export type TokenKind = 'app' | 'user' | 'workflow'

export interface User {
  login: string
  id: number
  nodeId: string
  type: 'User' | 'Bot' | 'Organization'
  /** The commit identity GitHub gives this account. */
  name: string
  email: string
}

export interface TokenState {
  value: string
  /** How the call log names the token: never the secret. */
  name: string
  kind: TokenKind
  user: User
  repos: Map<string, Permissions>
}

export interface Protection {
  /** Approvals a pull request needs; reviews are not modelled, so any number above 0 keeps pulls blocked. */
  requiredApprovals: number
  /** Status contexts or check names that must succeed on a pull request's head. */
  requiredStatusChecks: string[]
}

export interface LabelState {
  id: number
  nodeId: string
  name: string
  color: string
  description: string | null
}

export interface AutoMergeState {
  enabledBy: User
  enabledAt: string
  mergeMethod: 'MERGE' | 'SQUASH' | 'REBASE'
  commitHeadline: string | null
  commitBody: string | null
  authorEmail: string | null
}

export interface PullState {
  id: number
  nodeId: string
  number: number
  title: string
  body: string | null
  state: 'open' | 'closed'
  draft: boolean
  head: string
  base: string
  /** The head commit, refreshed from the branch while the pull is open. */
  headSha: string
  user: User
  createdAt: string
  updatedAt: string
  closedAt: string | null
  mergedAt: string | null
  mergeCommitSha: string | null
  mergedBy: User | null
  labels: string[]
  /** Logins. */
  assignees: string[]
  requestedReviewers: string[]
  maintainerCanModify: boolean
  autoMerge: AutoMergeState | null
  comments: number
}

export interface CommentState {
  id: number
  nodeId: string
  issueNumber: number
  body: string
  user: User
  createdAt: string
}

export interface StatusState {
  id: number
  nodeId: string
  sha: string
  state: 'error' | 'failure' | 'pending' | 'success'
  targetUrl: string | null
  description: string | null
  context: string
  createdAt: string
  creator: User
}

export interface CheckRunState {
  id: number
  nodeId: string
  headSha: string
  name: string
  status: 'queued' | 'in_progress' | 'completed'
  conclusion:
    'success' | 'failure' | 'neutral' | 'cancelled' | 'skipped' | 'timed_out' | 'action_required' | null
  startedAt: string
  completedAt: string | null
  detailsUrl: string | null
}

export interface Verification {
  verified: boolean
  reason: string
  signature: string | null
  payload: string | null
  verifiedAt: string | null
}

export interface RepoState {
  id: number
  nodeId: string
  owner: User
  name: string
  fullName: string
  private: boolean
  defaultBranch: string
  createdAt: string
  git: BareRepo
  allowAutoMerge: boolean
  /** Undefined: the server-wide setting applies. */
  actionsCanCreatePullRequests?: boolean
  protections: Map<string, Protection>
  collaborators: Set<string>
  pulls: PullState[]
  /** Issues and pull requests share numbers. */
  nextNumber: number
  labels: Map<string, LabelState>
  comments: CommentState[]
  statuses: StatusState[]
  checkRuns: CheckRunState[]
  /** Signature verification of commits the server itself made (API commits signed by GitHub). */
  verifications: Map<string, Verification>
}

/** Who a request comes from. */
export type Caller = { kind: 'anonymous' } | { kind: 'invalid' } | { kind: 'token'; token: TokenState }

export type Access = 'ok' | 'not-found' | 'forbidden' | 'unauthenticated'

/** The ids, users and lookups the server shares between REST, GraphQL and git. */
export class Registry {
  private nextId = 1000
  readonly users = new Map<string, User>()
  readonly repos = new Map<string, RepoState>()
  readonly tokens = new Map<string, TokenState>()
  /** GraphQL global ids of the objects mutations take. */
  readonly nodes = new Map<string, { repo: RepoState; pull?: PullState }>()
  actionsCanCreatePullRequests = true

  id(): number {
    return this.nextId++
  }

  nodeId(prefix: string, id: number): string {
    return `${prefix}_kwDO${Buffer.from(`${prefix}:${id}`).toString('base64url')}`
  }

  user(login: string, type: User['type'] = 'User'): User {
    const key = login.toLowerCase()
    let user = this.users.get(key)
    if (!user) {
      const id = this.id()
      const prefix = type === 'Bot' ? 'BOT' : type === 'Organization' ? 'O' : 'U'
      user = {
        login,
        id,
        nodeId: this.nodeId(prefix, id),
        type,
        name: login,
        email: `${id}+${login}@users.noreply.github.com`
      }
      this.users.set(key, user)
    }
    return user
  }

  repo(owner: string, name: string): RepoState | undefined {
    return this.repos.get(`${owner}/${name.replace(/\.git$/, '')}`.toLowerCase())
  }

  createToken(options: {
    repos: Record<string, Permissions>
    kind?: TokenKind
    name?: string
    login?: string
  }): TokenState {
    const kind = options.kind ?? 'app'
    const entries = Object.entries(options.repos)
    if (kind === 'workflow' && entries.length !== 1) {
      throw new Error(`a workflow token belongs to exactly one repository, got ${entries.length}`)
    }
    const login =
      options.login ??
      (kind === 'workflow' ? 'github-actions[bot]' : kind === 'app' ? 'digest-delivery[bot]' : 'octocat')
    const user = this.user(login, kind === 'user' ? 'User' : 'Bot')
    const value =
      kind === 'user'
        ? `github_pat_${randomBytes(41).toString('base64url').slice(0, 82)}`
        : `ghs_${randomBytes(27).toString('base64url').replace(/[-_]/g, 'x').slice(0, 36)}`
    const token: TokenState = {
      value,
      name: options.name ?? `${kind}-token-${this.tokens.size + 1}`,
      kind,
      user,
      repos: new Map(entries.map(([fullName, permissions]) => [fullName.toLowerCase(), permissions]))
    }
    this.tokens.set(value, token)
    return token
  }

  /** Find the caller from an Authorization header (`token`, `bearer`, or git's basic `x-access-token:<token>`). */
  caller(authorization: string | undefined): Caller {
    if (!authorization) return { kind: 'anonymous' }
    const [scheme = '', credentials = ''] = authorization.trim().split(/\s+/, 2)
    let secret = credentials
    if (scheme.toLowerCase() === 'basic') {
      const decoded = Buffer.from(credentials, 'base64').toString('utf8')
      const colon = decoded.indexOf(':')
      const password = colon < 0 ? '' : decoded.slice(colon + 1)
      // GitHub takes the token as the password (any user name), or as the user name with no password.
      secret = password || (colon < 0 ? decoded : decoded.slice(0, colon))
    } else if (!['token', 'bearer'].includes(scheme.toLowerCase())) {
      return { kind: 'invalid' }
    }
    const token = this.tokens.get(secret)
    return token ? { kind: 'token', token } : { kind: 'invalid' }
  }

  /** May `caller` do `level` on `scope` of `repo`? Private repositories are invisible (404) without a grant. */
  access(caller: Caller, repo: RepoState, scope: Scope | 'metadata', level: Level): Access {
    if (caller.kind === 'invalid') return 'unauthenticated'
    const grant = caller.kind === 'token' ? caller.token.repos.get(repo.fullName.toLowerCase()) : undefined
    if (!grant) {
      if (repo.private) return 'not-found'
      if (level === 'read') return 'ok'
      return caller.kind === 'anonymous' ? 'unauthenticated' : 'forbidden'
    }
    if (scope === 'metadata') return 'ok'
    const granted = grant[scope]
    if (granted === 'write' || (granted === 'read' && level === 'read')) return 'ok'
    if (level === 'read' && !repo.private) return 'ok'
    return 'forbidden'
  }

  /** GitHub's 403 message for a token that lacks a permission. */
  forbiddenMessage(caller: Caller): string {
    if (caller.kind === 'token' && caller.token.kind === 'user') {
      return 'Resource not accessible by personal access token'
    }
    return 'Resource not accessible by integration'
  }

  actionsMayCreatePullRequests(repo: RepoState): boolean {
    return repo.actionsCanCreatePullRequests ?? this.actionsCanCreatePullRequests
  }
}

/** The identity GitHub commits as when it writes a commit for an API call. */
export const GITHUB_COMMITTER = { name: 'GitHub', email: 'noreply@github.com' }

/** ISO 8601 without milliseconds, as GitHub writes timestamps. */
export function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')
}
