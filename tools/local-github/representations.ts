/** The JSON GitHub's REST API answers with, filled the way GitHub fills it, with URLs on the local server. */
import type { CommitObject, TreeEntry } from './git.js'
import type {
  CheckRunState,
  CommentState,
  LabelState,
  Permissions,
  PullState,
  RepoState,
  StatusState,
  User,
  Verification
} from './state.js'

export interface Urls {
  /** `http://127.0.0.1:PORT/api/v3` */
  api: string
  /** `http://127.0.0.1:PORT` */
  web: string
}

type Json = Record<string, unknown>

const at = (login: string): string => encodeURIComponent(login)

export function user(urls: Urls, account: User): Json {
  const api = `${urls.api}/users/${at(account.login)}`
  return {
    login: account.login,
    id: account.id,
    node_id: account.nodeId,
    avatar_url: `${urls.web}/avatars/u/${account.id}`,
    gravatar_id: '',
    url: api,
    html_url:
      account.type === 'Bot'
        ? `${urls.web}/apps/${at(account.login.replace(/\[bot\]$/, ''))}`
        : `${urls.web}/${at(account.login)}`,
    followers_url: `${api}/followers`,
    following_url: `${api}/following{/other_user}`,
    gists_url: `${api}/gists{/gist_id}`,
    starred_url: `${api}/starred{/owner}{/repo}`,
    subscriptions_url: `${api}/subscriptions`,
    organizations_url: `${api}/orgs`,
    repos_url: `${api}/repos`,
    events_url: `${api}/events{/privacy}`,
    received_events_url: `${api}/received_events`,
    type: account.type,
    user_view_type: 'public',
    site_admin: false
  }
}

function repoUrls(urls: Urls, repo: RepoState): Json {
  const api = `${urls.api}/repos/${repo.fullName}`
  return {
    url: api,
    html_url: `${urls.web}/${repo.fullName}`,
    archive_url: `${api}/{archive_format}{/ref}`,
    assignees_url: `${api}/assignees{/user}`,
    blobs_url: `${api}/git/blobs{/sha}`,
    branches_url: `${api}/branches{/branch}`,
    collaborators_url: `${api}/collaborators{/collaborator}`,
    comments_url: `${api}/comments{/number}`,
    commits_url: `${api}/commits{/sha}`,
    compare_url: `${api}/compare/{base}...{head}`,
    contents_url: `${api}/contents/{+path}`,
    contributors_url: `${api}/contributors`,
    deployments_url: `${api}/deployments`,
    downloads_url: `${api}/downloads`,
    events_url: `${api}/events`,
    forks_url: `${api}/forks`,
    git_commits_url: `${api}/git/commits{/sha}`,
    git_refs_url: `${api}/git/refs{/sha}`,
    git_tags_url: `${api}/git/tags{/sha}`,
    hooks_url: `${api}/hooks`,
    issue_comment_url: `${api}/issues/comments{/number}`,
    issue_events_url: `${api}/issues/events{/number}`,
    issues_url: `${api}/issues{/number}`,
    keys_url: `${api}/keys{/key_id}`,
    labels_url: `${api}/labels{/name}`,
    languages_url: `${api}/languages`,
    merges_url: `${api}/merges`,
    milestones_url: `${api}/milestones{/number}`,
    notifications_url: `${api}/notifications{?since,all,participating}`,
    pulls_url: `${api}/pulls{/number}`,
    releases_url: `${api}/releases{/id}`,
    stargazers_url: `${api}/stargazers`,
    statuses_url: `${api}/statuses/{sha}`,
    subscribers_url: `${api}/subscribers`,
    subscription_url: `${api}/subscription`,
    tags_url: `${api}/tags`,
    teams_url: `${api}/teams`,
    trees_url: `${api}/git/trees{/sha}`
  }
}

/** `minimal-repository`. */
export function minimalRepository(urls: Urls, repo: RepoState): Json {
  return {
    id: repo.id,
    node_id: repo.nodeId,
    name: repo.name,
    full_name: repo.fullName,
    owner: user(urls, repo.owner),
    private: repo.private,
    description: null,
    fork: false,
    ...repoUrls(urls, repo)
  }
}

/** `repository` (inside pull requests). */
export function repository(urls: Urls, repo: RepoState): Json {
  const host = new URL(urls.web).host
  return {
    ...minimalRepository(urls, repo),
    clone_url: `${urls.web}/${repo.fullName}.git`,
    git_url: `git://${host}/${repo.fullName}.git`,
    ssh_url: `git@${host}:${repo.fullName}.git`,
    svn_url: `${urls.web}/${repo.fullName}`,
    mirror_url: null,
    homepage: null,
    language: null,
    forks: 0,
    forks_count: 0,
    stargazers_count: 0,
    watchers_count: 0,
    watchers: 0,
    size: 0,
    default_branch: repo.defaultBranch,
    open_issues: repo.pulls.filter(pull => pull.state === 'open').length,
    open_issues_count: repo.pulls.filter(pull => pull.state === 'open').length,
    is_template: false,
    topics: [],
    has_issues: true,
    has_projects: true,
    has_wiki: true,
    has_pages: false,
    has_downloads: true,
    has_discussions: false,
    archived: false,
    disabled: false,
    visibility: repo.private ? 'private' : 'public',
    pushed_at: repo.createdAt,
    created_at: repo.createdAt,
    updated_at: repo.createdAt,
    allow_auto_merge: repo.allowAutoMerge,
    license: null
  }
}

/** `full-repository`, with the caller's `permissions` as GitHub adds them for an authenticated request. */
export function fullRepository(urls: Urls, repo: RepoState, grant: Permissions | undefined): Json {
  const push = grant?.contents === 'write'
  return {
    ...repository(urls, repo),
    network_count: 0,
    subscribers_count: 0,
    allow_merge_commit: true,
    allow_squash_merge: true,
    allow_rebase_merge: true,
    delete_branch_on_merge: false,
    ...(grant ? { permissions: { admin: false, maintain: false, push, triage: push, pull: true } } : {})
  }
}

export function gitRef(urls: Urls, repo: RepoState, ref: string, sha: string, type: string): Json {
  const api = `${urls.api}/repos/${repo.fullName}`
  return {
    ref,
    node_id: Buffer.from(`REF:${repo.id}:${ref}`).toString('base64url'),
    url: `${api}/git/${ref}`,
    object: { sha, type, url: `${api}/git/${type === 'tag' ? 'tags' : 'commits'}/${sha}` }
  }
}

const UNSIGNED: Verification = {
  verified: false,
  reason: 'unsigned',
  signature: null,
  payload: null,
  verifiedAt: null
}

function verification(repo: RepoState, sha: string): Json {
  const found = repo.verifications.get(sha) ?? UNSIGNED
  return {
    verified: found.verified,
    reason: found.reason,
    signature: found.signature,
    payload: found.payload,
    verified_at: found.verifiedAt
  }
}

/** `git-commit`. */
export function gitCommit(urls: Urls, repo: RepoState, commit: CommitObject): Json {
  const api = `${urls.api}/repos/${repo.fullName}`
  return {
    sha: commit.sha,
    node_id: commitNodeId(repo, commit.sha),
    url: `${api}/git/commits/${commit.sha}`,
    html_url: `${urls.web}/${repo.fullName}/commit/${commit.sha}`,
    author: commit.author,
    committer: commit.committer,
    tree: { sha: commit.tree, url: `${api}/git/trees/${commit.tree}` },
    message: commit.message.replace(/\n$/, ''),
    parents: commit.parents.map(sha => ({
      sha,
      url: `${api}/git/commits/${sha}`,
      html_url: `${urls.web}/${repo.fullName}/commit/${sha}`
    })),
    verification: verification(repo, commit.sha)
  }
}

export function commitNodeId(repo: RepoState, sha: string): string {
  return `C_kwDO${Buffer.from(`${repo.id}:${sha}`).toString('base64url')}`
}

/**
 * `commit` (commits list, compare). `author`/`committer` are the GitHub accounts whose commit email matches, else
 * null, as GitHub leaves them for unknown emails.
 */
export function commit(urls: Urls, repo: RepoState, object: CommitObject, accounts: Map<string, User>): Json {
  const api = `${urls.api}/repos/${repo.fullName}`
  const account = (email: string): Json | null => {
    const found = accounts.get(email.toLowerCase())
    return found ? user(urls, found) : null
  }
  return {
    sha: object.sha,
    node_id: commitNodeId(repo, object.sha),
    url: `${api}/commits/${object.sha}`,
    html_url: `${urls.web}/${repo.fullName}/commit/${object.sha}`,
    comments_url: `${api}/commits/${object.sha}/comments`,
    commit: {
      url: `${api}/git/commits/${object.sha}`,
      author: object.author,
      committer: object.committer,
      message: object.message.replace(/\n$/, ''),
      comment_count: 0,
      tree: { sha: object.tree, url: `${api}/git/trees/${object.tree}` },
      verification: verification(repo, object.sha)
    },
    author: account(object.author.email),
    committer: account(object.committer.email),
    parents: object.parents.map(sha => ({
      sha,
      url: `${api}/commits/${sha}`,
      html_url: `${urls.web}/${repo.fullName}/commit/${sha}`
    }))
  }
}

export function treeEntry(urls: Urls, repo: RepoState, entry: TreeEntry): Json {
  const api = `${urls.api}/repos/${repo.fullName}`
  const out: Json = { path: entry.path, mode: entry.mode, type: entry.type, sha: entry.sha }
  if (entry.type === 'blob') {
    out.size = entry.size
    out.url = `${api}/git/blobs/${entry.sha}`
  } else if (entry.type === 'tree') {
    out.url = `${api}/git/trees/${entry.sha}`
  }
  return out
}

/** Base64 broken into 60-character lines, as GitHub sends file contents. */
export function base64Lines(content: Buffer): string {
  const encoded = content.toString('base64')
  return (encoded.match(/.{1,60}/g) ?? ['']).join('\n') + (encoded ? '\n' : '')
}

function contentUrls(urls: Urls, repo: RepoState, ref: string, entry: TreeEntry): Json {
  const api = `${urls.api}/repos/${repo.fullName}`
  const self = `${api}/contents/${entry.path.split('/').map(encodeURIComponent).join('/')}?ref=${encodeURIComponent(ref)}`
  const git =
    entry.type === 'commit' ? null : `${api}/git/${entry.type === 'tree' ? 'trees' : 'blobs'}/${entry.sha}`
  const html =
    entry.type === 'commit'
      ? null
      : `${urls.web}/${repo.fullName}/${entry.type === 'tree' ? 'tree' : 'blob'}/${ref}/${entry.path}`
  return {
    url: self,
    git_url: git,
    html_url: html,
    download_url: entry.type === 'blob' ? `${urls.web}/${repo.fullName}/raw/${ref}/${entry.path}` : null,
    _links: { self, git, html }
  }
}

/** `content-file`. */
export function contentFile(
  urls: Urls,
  repo: RepoState,
  ref: string,
  entry: TreeEntry,
  content: Buffer
): Json {
  return {
    type: 'file',
    encoding: 'base64',
    size: content.length,
    name: entry.path.split('/').pop(),
    path: entry.path,
    content: base64Lines(content),
    sha: entry.sha,
    ...contentUrls(urls, repo, ref, entry)
  }
}

/** One item of `content-directory`. */
export function contentItem(urls: Urls, repo: RepoState, ref: string, entry: TreeEntry): Json {
  const type =
    entry.type === 'tree'
      ? 'dir'
      : entry.type === 'commit'
        ? 'submodule'
        : entry.mode === '120000'
          ? 'symlink'
          : 'file'
  return {
    type,
    size: entry.size ?? 0,
    name: entry.path.split('/').pop(),
    path: entry.path,
    sha: entry.sha,
    ...contentUrls(urls, repo, ref, entry)
  }
}

export function label(urls: Urls, repo: RepoState, state: LabelState): Json {
  return {
    id: state.id,
    node_id: state.nodeId,
    url: `${urls.api}/repos/${repo.fullName}/labels/${encodeURIComponent(state.name)}`,
    name: state.name,
    description: state.description,
    color: state.color,
    default: false
  }
}

function link(href: string): Json {
  return { href }
}

/** `pull-request-simple`. */
export function pullRequestSimple(
  urls: Urls,
  repo: RepoState,
  pull: PullState,
  facts: Pick<PullFacts, 'baseSha' | 'reviewers' | 'assignees'>
): Json {
  const api = `${urls.api}/repos/${repo.fullName}`
  const html = `${urls.web}/${repo.fullName}/pull/${pull.number}`
  const branch = (ref: string, sha: string): Json => ({
    label: `${repo.owner.login}:${ref}`,
    ref,
    sha,
    user: user(urls, repo.owner),
    repo: repository(urls, repo)
  })
  return {
    url: `${api}/pulls/${pull.number}`,
    id: pull.id,
    node_id: pull.nodeId,
    html_url: html,
    diff_url: `${html}.diff`,
    patch_url: `${html}.patch`,
    issue_url: `${api}/issues/${pull.number}`,
    commits_url: `${api}/pulls/${pull.number}/commits`,
    review_comments_url: `${api}/pulls/${pull.number}/comments`,
    review_comment_url: `${api}/pulls/comments{/number}`,
    comments_url: `${api}/issues/${pull.number}/comments`,
    statuses_url: `${api}/statuses/${pull.headSha}`,
    number: pull.number,
    state: pull.state,
    locked: false,
    title: pull.title,
    user: user(urls, pull.user),
    body: pull.body,
    // The description has a label's description non-null inside pull-request-simple (nullable elsewhere).
    labels: pull.labels.flatMap(name => {
      const found = repo.labels.get(name.toLowerCase())
      return found ? [{ ...label(urls, repo, found), description: found.description ?? '' }] : []
    }),
    milestone: null,
    active_lock_reason: null,
    created_at: pull.createdAt,
    updated_at: pull.updatedAt,
    closed_at: pull.closedAt,
    merged_at: pull.mergedAt,
    merge_commit_sha: pull.mergeCommitSha,
    assignee: facts.assignees[0] ? user(urls, facts.assignees[0]) : null,
    assignees: facts.assignees.map(account => user(urls, account)),
    requested_reviewers: facts.reviewers.map(account => user(urls, account)),
    requested_teams: [],
    head: branch(pull.head, pull.headSha),
    base: branch(pull.base, facts.baseSha),
    _links: {
      self: link(`${api}/pulls/${pull.number}`),
      html: link(html),
      issue: link(`${api}/issues/${pull.number}`),
      comments: link(`${api}/issues/${pull.number}/comments`),
      review_comments: link(`${api}/pulls/${pull.number}/comments`),
      review_comment: link(`${api}/pulls/comments{/number}`),
      commits: link(`${api}/pulls/${pull.number}/commits`),
      statuses: link(`${api}/statuses/${pull.headSha}`)
    },
    author_association: pull.user.login === repo.owner.login ? 'OWNER' : 'CONTRIBUTOR',
    auto_merge: pull.autoMerge
      ? {
          enabled_by: user(urls, pull.autoMerge.enabledBy),
          merge_method: pull.autoMerge.mergeMethod.toLowerCase(),
          commit_title: pull.autoMerge.commitHeadline ?? '',
          commit_message: pull.autoMerge.commitBody ?? ''
        }
      : null,
    draft: pull.draft
  }
}

/** `issue`: a pull request seen as the issue it also is. */
export function issueOfPull(
  urls: Urls,
  repo: RepoState,
  pull: PullState,
  registry: { user(login: string): User }
): Json {
  const api = `${urls.api}/repos/${repo.fullName}`
  const html = `${urls.web}/${repo.fullName}/pull/${pull.number}`
  const account = (login: string) => user(urls, registry.user(login))
  return {
    id: pull.id,
    node_id: pull.nodeId,
    url: `${api}/issues/${pull.number}`,
    repository_url: api,
    labels_url: `${api}/issues/${pull.number}/labels{/name}`,
    comments_url: `${api}/issues/${pull.number}/comments`,
    events_url: `${api}/issues/${pull.number}/events`,
    html_url: html,
    number: pull.number,
    state: pull.state,
    title: pull.title,
    body: pull.body,
    user: user(urls, pull.user),
    labels: pull.labels.flatMap(name => {
      const found = repo.labels.get(name.toLowerCase())
      return found ? [label(urls, repo, found)] : []
    }),
    assignee: pull.assignees[0] ? account(pull.assignees[0]) : null,
    assignees: pull.assignees.map(account),
    milestone: null,
    locked: false,
    active_lock_reason: null,
    comments: pull.comments,
    pull_request: {
      url: `${api}/pulls/${pull.number}`,
      html_url: html,
      diff_url: `${html}.diff`,
      patch_url: `${html}.patch`,
      merged_at: pull.mergedAt
    },
    closed_at: pull.closedAt,
    created_at: pull.createdAt,
    updated_at: pull.updatedAt,
    draft: pull.draft,
    author_association: pull.user.login === repo.owner.login ? 'OWNER' : 'CONTRIBUTOR'
  }
}

export interface PullFacts {
  baseSha: string
  commits: number
  additions: number
  deletions: number
  changedFiles: number
  mergeable: boolean | null
  mergeableState: string
  reviewers: User[]
  assignees: User[]
}

/** `pull-request`: the simple form plus what GitHub computes from git. */
export function pullRequest(urls: Urls, repo: RepoState, pull: PullState, facts: PullFacts): Json {
  return {
    ...pullRequestSimple(urls, repo, pull, facts),
    merged: pull.mergedAt !== null,
    mergeable: facts.mergeable,
    rebaseable: facts.mergeable,
    mergeable_state: facts.mergeableState,
    merged_by: pull.mergedBy ? user(urls, pull.mergedBy) : null,
    comments: pull.comments,
    review_comments: 0,
    maintainer_can_modify: pull.maintainerCanModify,
    commits: facts.commits,
    additions: facts.additions,
    deletions: facts.deletions,
    changed_files: facts.changedFiles
  }
}

export function issueComment(urls: Urls, repo: RepoState, comment: CommentState): Json {
  const api = `${urls.api}/repos/${repo.fullName}`
  return {
    id: comment.id,
    node_id: comment.nodeId,
    url: `${api}/issues/comments/${comment.id}`,
    html_url: `${urls.web}/${repo.fullName}/pull/${comment.issueNumber}#issuecomment-${comment.id}`,
    issue_url: `${api}/issues/${comment.issueNumber}`,
    body: comment.body,
    user: user(urls, comment.user),
    created_at: comment.createdAt,
    updated_at: comment.createdAt,
    author_association: comment.user.login === repo.owner.login ? 'OWNER' : 'NONE',
    reactions: {
      url: `${api}/issues/comments/${comment.id}/reactions`,
      total_count: 0,
      '+1': 0,
      '-1': 0,
      laugh: 0,
      confused: 0,
      heart: 0,
      hooray: 0,
      eyes: 0,
      rocket: 0
    }
  }
}

export function status(urls: Urls, repo: RepoState, state: StatusState): Json {
  return {
    url: `${urls.api}/repos/${repo.fullName}/statuses/${state.sha}`,
    avatar_url: `${urls.web}/avatars/u/${state.creator.id}`,
    id: state.id,
    node_id: state.nodeId,
    state: state.state,
    description: state.description,
    target_url: state.targetUrl,
    context: state.context,
    created_at: state.createdAt,
    updated_at: state.createdAt,
    creator: user(urls, state.creator)
  }
}

/**
 * `combined-commit-status`: the latest status per context, `shown` (one page of `latest`) listed; the state and
 * `total_count` are over all of them, as GitHub's are on every page.
 */
export function combinedStatus(
  urls: Urls,
  repo: RepoState,
  sha: string,
  latest: StatusState[],
  shown: StatusState[] = latest
): Json {
  const states = latest.map(entry => entry.state)
  const state = states.some(s => s === 'error' || s === 'failure')
    ? 'failure'
    : states.length === 0 || states.includes('pending')
      ? 'pending'
      : 'success'
  const api = `${urls.api}/repos/${repo.fullName}`
  return {
    state,
    statuses: shown.map(entry => {
      const full = status(urls, repo, entry)
      delete full.creator
      return full
    }),
    sha,
    total_count: latest.length,
    repository: minimalRepository(urls, repo),
    commit_url: `${api}/commits/${sha}`,
    url: `${api}/commits/${sha}/status`
  }
}

/** The app GitHub Actions check runs come from. */
export function actionsApp(urls: Urls, owner: User): Json {
  return {
    id: 15368,
    slug: 'github-actions',
    node_id: 'MDM6QXBwMTUzNjg=',
    owner: user(urls, owner),
    name: 'GitHub Actions',
    description: 'Automate your workflow from idea to production',
    external_url: 'https://help.github.com/en/actions',
    html_url: `${urls.web}/apps/github-actions`,
    created_at: '2018-07-30T09:30:17Z',
    updated_at: '2024-04-10T20:33:16Z',
    permissions: {
      checks: 'write',
      contents: 'write',
      metadata: 'read',
      pull_requests: 'write',
      statuses: 'write'
    },
    events: ['check_run', 'pull_request', 'push']
  }
}

export function checkRun(urls: Urls, repo: RepoState, run: CheckRunState, github: User): Json {
  const api = `${urls.api}/repos/${repo.fullName}`
  return {
    id: run.id,
    head_sha: run.headSha,
    node_id: run.nodeId,
    external_id: '',
    url: `${api}/check-runs/${run.id}`,
    html_url: `${urls.web}/${repo.fullName}/runs/${run.id}`,
    details_url: run.detailsUrl,
    status: run.status,
    conclusion: run.conclusion,
    started_at: run.startedAt,
    completed_at: run.completedAt,
    output: {
      title: null,
      summary: null,
      text: null,
      annotations_count: 0,
      annotations_url: `${api}/check-runs/${run.id}/annotations`
    },
    name: run.name,
    check_suite: { id: run.id + 1 },
    app: actionsApp(urls, github),
    pull_requests: []
  }
}
