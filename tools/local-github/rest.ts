/** The REST operations the local GitHub implements, by operation id of GitHub's description. */
import { ApiError, notFound, unprocessable, validationFailed, type Hub } from './hub.js'
import type { TreeChange } from './git.js'
import * as json from './representations.js'
import { now, type Caller, type Level, type PullState, type RepoState, type Scope } from './state.js'

/** A request that passed the contract check, for a repository the caller may see. */
export interface RestRequest {
  caller: Caller
  repo: RepoState
  params: Record<string, string | number>
  query: Record<string, unknown>
  // The body matched the operation's schema before it got here.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any
  accept: string
  url: URL
}

export interface RestAnswer {
  status: number
  body?: unknown
  headers?: Record<string, string>
  /** A non-JSON body (a raw media type), sent as is and not checked against a JSON schema. */
  raw?: { contentType: string; data: Buffer }
}

interface Operation {
  /** The permission the caller's token needs on the repository; any one of several scopes will do. */
  scope: Scope | 'metadata' | Scope[]
  level: Level
  handle(hub: Hub, request: RestRequest): Promise<RestAnswer>
}

const SHA = /^[0-9a-f]{40}$/

const ok = (body: unknown, headers?: Record<string, string>): RestAnswer => ({ status: 200, body, headers })
const created = (body: unknown, location: string): RestAnswer => ({
  status: 201,
  body,
  headers: { location }
})

/** One page of pull requests in the list shape (`pulls/list`, `commits/{sha}/pulls`). */
async function simplePulls(
  hub: Hub,
  repo: RepoState,
  pulls: PullState[],
  request: RestRequest
): Promise<RestAnswer> {
  const { items, headers } = pageOf(pulls, request)
  const out = []
  for (const pull of items) {
    out.push(
      json.pullRequestSimple(hub.urls, repo, pull, {
        baseSha: await hub.baseSha(repo, pull),
        reviewers: hub.reviewers(pull),
        assignees: hub.assignees(pull)
      })
    )
  }
  return ok(out, headers)
}

function pageOf<T>(items: T[], request: RestRequest): { items: T[]; headers: Record<string, string> } {
  const perPage = Math.min(Math.max(Number(request.query.per_page ?? 30), 1), 100)
  const page = Math.max(Number(request.query.page ?? 1), 1)
  const last = Math.max(Math.ceil(items.length / perPage), 1)
  const url = (n: number): string => {
    const target = new URL(request.url)
    target.searchParams.set('page', String(n))
    if (request.query.per_page !== undefined) target.searchParams.set('per_page', String(perPage))
    return `<${target.href}>`
  }
  const links: string[] = []
  if (page > 1) links.push(`${url(page - 1)}; rel="prev"`, `${url(1)}; rel="first"`)
  if (page < last) links.push(`${url(page + 1)}; rel="next"`, `${url(last)}; rel="last"`)
  return {
    items: items.slice((page - 1) * perPage, page * perPage),
    headers: links.length ? { link: links.join(', ') } : {}
  }
}

/** A branch, tag or sha as GitHub takes them in `ref`/`sha` parameters, or undefined. */
async function resolve(repo: RepoState, ref: string): Promise<string | undefined> {
  if (ref.startsWith('heads/') || ref.startsWith('tags/')) return repo.git.resolveCommit(`refs/${ref}`)
  return (
    (await repo.git.resolveCommit(`refs/heads/${ref}`)) ??
    (await repo.git.resolveCommit(`refs/tags/${ref}`)) ??
    (/^[0-9a-f]{7,40}$/.test(ref) ? await repo.git.resolveCommit(ref) : undefined)
  )
}

function pullByNumber(repo: RepoState, number: number): PullState {
  const pull = repo.pulls.find(candidate => candidate.number === number)
  if (!pull) throw notFound()
  return pull
}

function actor(request: RestRequest) {
  if (request.caller.kind !== 'token') throw new ApiError(401, 'Requires authentication')
  return request.caller.token.user
}

async function commitsJson(hub: Hub, repo: RepoState, shas: string[]) {
  const accounts = hub.accountsByEmail()
  const out = []
  for (const sha of shas) {
    const object = await repo.git.readCommit(sha)
    if (object) out.push(json.commit(hub.urls, repo, object, accounts))
  }
  return out
}

async function pullAnswer(hub: Hub, repo: RepoState, pull: PullState, status = 200): Promise<RestAnswer> {
  const facts = await hub.pullFacts(repo, pull)
  const body = json.pullRequest(hub.urls, repo, pull, facts)
  return status === 201 ? created(body, String(body.url)) : { status, body }
}

/** `owner:branch` or `branch` → the branch, for pulls within one repository. */
function headBranch(repo: RepoState, head: string): string | undefined {
  const colon = head.indexOf(':')
  if (colon < 0) return head
  return head.slice(0, colon).toLowerCase() === repo.owner.login.toLowerCase()
    ? head.slice(colon + 1)
    : undefined
}

export const OPERATIONS: Record<string, Operation> = {
  'repos/get': {
    scope: 'metadata',
    level: 'read',
    async handle(hub, { repo, caller }) {
      const grant = caller.kind === 'token' ? caller.token.repos.get(repo.fullName.toLowerCase()) : undefined
      return ok(json.fullRepository(hub.urls, repo, grant))
    }
  },

  // ---- git refs ----
  'git/get-ref': {
    scope: 'contents',
    level: 'read',
    async handle(hub, { repo, params }) {
      const ref = `refs/${String(params.ref)}`
      const found = (await repo.git.listRefs(ref)).find(entry => entry.ref === ref)
      if (!found) throw notFound()
      return ok(json.gitRef(hub.urls, repo, found.ref, found.sha, found.type))
    }
  },
  'git/list-matching-refs': {
    scope: 'contents',
    level: 'read',
    async handle(hub, { repo, params }) {
      const prefix = `refs/${String(params.ref)}`
      const refs = (await repo.git.listRefs(prefix.replace(/[^/]*$/, ''))).filter(entry =>
        entry.ref.startsWith(prefix)
      )
      return ok(refs.map(entry => json.gitRef(hub.urls, repo, entry.ref, entry.sha, entry.type)))
    }
  },
  'git/create-ref': {
    scope: 'contents',
    level: 'write',
    async handle(hub, { repo, body }) {
      const ref = String(body.ref)
      if (!ref.startsWith('refs/') || ref.split('/').length < 3) {
        throw unprocessable(`${ref} is not a valid ref name.`)
      }
      const type = await repo.git.objectType(String(body.sha))
      if (!type) throw unprocessable('Object does not exist')
      if (
        !(await repo.git.run(['check-ref-format', ref]).then(
          () => true,
          () => false
        ))
      ) {
        throw unprocessable(`${ref} is not a valid ref name.`)
      }
      if (!(await repo.git.updateRef(ref, String(body.sha), undefined)))
        throw unprocessable('Reference already exists')
      const answer = json.gitRef(hub.urls, repo, ref, String(body.sha), type)
      return created(answer, String(answer.url))
    }
  },
  'git/update-ref': {
    scope: 'contents',
    level: 'write',
    async handle(hub, { repo, params, body }) {
      const ref = `refs/${String(params.ref)}`
      const current = await repo.git.readRef(ref)
      if (!current) throw unprocessable('Reference does not exist')
      const sha = String(body.sha)
      const type = await repo.git.objectType(sha)
      if (!type) throw unprocessable('Object does not exist')
      if (ref.startsWith('refs/heads/') && repo.protections.has(ref.slice('refs/heads/'.length))) {
        throw unprocessable(`Protected branch update failed for ${ref}.`)
      }
      if (body.force !== true && !(await repo.git.isAncestor(current, sha))) {
        throw unprocessable('Update is not a fast forward')
      }
      // Compare-and-swap against what was read: a push in between is not overwritten.
      if (!(await repo.git.updateRef(ref, sha, current))) throw unprocessable('Update is not a fast forward')
      return ok(json.gitRef(hub.urls, repo, ref, sha, type))
    }
  },
  'git/delete-ref': {
    scope: 'contents',
    level: 'write',
    async handle(_hub, { repo, params }) {
      const ref = `refs/${String(params.ref)}`
      const current = await repo.git.readRef(ref)
      if (!current) throw unprocessable('Reference does not exist')
      if (ref === `refs/heads/${repo.defaultBranch}`) throw unprocessable('Cannot delete the default branch')
      if (ref.startsWith('refs/heads/') && repo.protections.has(ref.slice('refs/heads/'.length))) {
        throw unprocessable(`Protected branch update failed for ${ref}.`)
      }
      if (!(await repo.git.deleteRef(ref, current))) throw unprocessable('Reference does not exist')
      return { status: 204 }
    }
  },

  // ---- git objects ----
  'git/create-blob': {
    scope: 'contents',
    level: 'write',
    async handle(hub, { repo, body }) {
      const encoding = String(body.encoding ?? 'utf-8')
      if (encoding !== 'utf-8' && encoding !== 'utf8' && encoding !== 'base64') {
        throw validationFailed([{ resource: 'Blob', field: 'encoding', code: 'invalid' }])
      }
      const content = Buffer.from(String(body.content), encoding === 'base64' ? 'base64' : 'utf8')
      const sha = await repo.git.writeBlob(content)
      const url = `${hub.urls.api}/repos/${repo.fullName}/git/blobs/${sha}`
      return created({ url, sha }, url)
    }
  },
  'git/get-blob': {
    scope: 'contents',
    level: 'read',
    async handle(hub, { repo, params }) {
      const sha = String(params.file_sha)
      const content = await repo.git.readBlob(sha)
      if (!content) throw notFound()
      return ok({
        sha,
        node_id: Buffer.from(`BLOB:${repo.id}:${sha}`).toString('base64url'),
        size: content.length,
        url: `${hub.urls.api}/repos/${repo.fullName}/git/blobs/${sha}`,
        content: json.base64Lines(content),
        encoding: 'base64'
      })
    }
  },
  'git/create-tree': {
    scope: 'contents',
    level: 'write',
    async handle(hub, { repo, body }) {
      const base = body.base_tree === undefined ? undefined : String(body.base_tree)
      if (base !== undefined && (await repo.git.objectType(base)) !== 'tree') {
        throw validationFailed([{ resource: 'Tree', field: 'base_tree', code: 'invalid' }])
      }
      const changes: TreeChange[] = []
      for (const item of body.tree as Array<Record<string, unknown>>) {
        const path = String(item.path ?? '')
        if (!path || path.startsWith('/') || path.endsWith('/')) {
          throw unprocessable(`tree.path contains a malformed path component`)
        }
        if (item.content !== undefined && item.sha !== undefined) {
          throw unprocessable(
            `Must supply either tree.sha or tree.content. Request will be rejected if both are present.`
          )
        }
        if (item.sha === null) {
          changes.push({ path, sha: null })
          continue
        }
        const type = (item.type as 'blob' | 'tree' | 'commit' | undefined) ?? 'blob'
        const mode = String(item.mode ?? (type === 'tree' ? '040000' : '100644'))
        let sha: string
        if (item.content !== undefined) {
          sha = await repo.git.writeBlob(Buffer.from(String(item.content), 'utf8'))
        } else {
          sha = String(item.sha ?? '')
          if (type !== 'commit' && (await repo.git.objectType(sha)) !== type) {
            throw unprocessable(`tree.sha ${sha} is not a valid ${type}`)
          }
        }
        changes.push({ path, mode, type, sha })
      }
      const sha = await repo.git.writeTree(base, changes)
      const entries = await repo.git.listTree(sha)
      const url = `${hub.urls.api}/repos/${repo.fullName}/git/trees/${sha}`
      return created(
        { sha, url, truncated: false, tree: entries.map(e => json.treeEntry(hub.urls, repo, e)) },
        url
      )
    }
  },
  'git/get-tree': {
    scope: 'contents',
    level: 'read',
    async handle(hub, { repo, params, query }) {
      const treeish = String(params.tree_sha)
      const sha = SHA.test(treeish) ? treeish : await resolve(repo, treeish)
      const tree = sha
        ? await repo.git.run(['rev-parse', '--verify', '--quiet', `${sha}^{tree}`]).catch(() => '')
        : ''
      if (!tree.trim()) throw notFound()
      const recursive =
        query.recursive !== undefined && query.recursive !== '0' && query.recursive !== 'false'
      const entries = await repo.git.listTree(tree.trim(), { recursive })
      return ok({
        sha: tree.trim(),
        url: `${hub.urls.api}/repos/${repo.fullName}/git/trees/${tree.trim()}`,
        truncated: false,
        tree: entries.map(entry => json.treeEntry(hub.urls, repo, entry))
      })
    }
  },
  'git/create-commit': {
    scope: 'contents',
    level: 'write',
    async handle(hub, request) {
      const { repo, body } = request
      const account = actor(request)
      const tree = String(body.tree)
      if ((await repo.git.objectType(tree)) !== 'tree') {
        throw validationFailed([
          { resource: 'Commit', field: 'tree', code: 'invalid', message: 'Tree SHA does not exist' }
        ])
      }
      const parents = ((body.parents as string[] | undefined) ?? []).map(String)
      for (const parent of parents) {
        if ((await repo.git.objectType(parent)) !== 'commit') {
          throw validationFailed([
            {
              resource: 'Commit',
              field: 'parents',
              code: 'invalid',
              message: 'Parent SHA does not exist or is not a commit object'
            }
          ])
        }
      }
      const identity = hub.identity(account)
      const person = (given: Record<string, string> | undefined, fallback: typeof identity) =>
        given
          ? {
              name: given.name ?? fallback.name,
              email: given.email ?? fallback.email,
              date: given.date ?? fallback.date
            }
          : fallback
      const author = person(body.author, identity)
      const committer = person(body.committer, author)
      const sha = await repo.git.commitTree({
        tree,
        parents,
        message: String(body.message),
        author,
        committer
      })
      // GitHub signs API commits of apps when it chooses the identities itself.
      const kind = request.caller.kind === 'token' ? request.caller.token.kind : undefined
      if (kind !== 'user' && !body.author && !body.committer && !body.signature)
        await hub.markSigned(repo, sha)
      const object = await repo.git.readCommit(sha)
      if (!object) throw new Error(`commit ${sha} vanished`)
      const answer = json.gitCommit(hub.urls, repo, object)
      return created(answer, String(answer.url))
    }
  },
  'git/get-commit': {
    scope: 'contents',
    level: 'read',
    async handle(hub, { repo, params }) {
      const object = await repo.git.readCommit(String(params.commit_sha))
      if (!object) throw notFound()
      return ok(json.gitCommit(hub.urls, repo, object))
    }
  },

  // ---- contents, commits, compare ----
  'repos/get-content': {
    scope: 'contents',
    level: 'read',
    async handle(hub, { repo, params, query, accept }) {
      const ref = query.ref === undefined ? repo.defaultBranch : String(query.ref)
      const sha = await resolve(repo, ref)
      if (!sha) throw new ApiError(404, `No commit found for the ref ${ref}`)
      const path = String(params.path).replace(/^\/+|\/+$/g, '')
      const entry = await repo.git.entryAt(sha, path)
      if (!entry) throw notFound()
      if (entry.type === 'tree') {
        const children = await repo.git.listTree(`${sha}:${path}`)
        return ok(
          children.map(child =>
            json.contentItem(hub.urls, repo, ref, {
              ...child,
              path: path ? `${path}/${child.path}` : child.path
            })
          )
        )
      }
      const content = (await repo.git.readBlob(entry.sha)) ?? Buffer.alloc(0)
      if (/application\/vnd\.github(\.v3)?\.raw/.test(accept)) {
        return {
          status: 200,
          raw: { contentType: 'application/vnd.github.raw; charset=utf-8', data: content }
        }
      }
      return ok(json.contentFile(hub.urls, repo, ref, entry, content))
    }
  },
  'repos/list-commits': {
    scope: 'contents',
    level: 'read',
    async handle(hub, request) {
      const { repo, query } = request
      const ref = query.sha === undefined ? repo.defaultBranch : String(query.sha)
      const head = await resolve(repo, ref)
      if (!head) throw notFound()
      const shas = await repo.git.revList(head, {
        path: query.path === undefined ? undefined : String(query.path),
        since: query.since === undefined ? undefined : String(query.since),
        until: query.until === undefined ? undefined : String(query.until)
      })
      const { items, headers } = pageOf(shas, request)
      return ok(await commitsJson(hub, repo, items), headers)
    }
  },
  'repos/get-commit': {
    scope: 'contents',
    level: 'read',
    async handle(hub, { repo, params }) {
      const sha = await resolve(repo, String(params.ref))
      if (!sha) throw new ApiError(422, `No commit found for SHA: ${String(params.ref)}`)
      const [commit] = await commitsJson(hub, repo, [sha])
      const object = await repo.git.readCommit(sha)
      const parent = object?.parents[0]
      const files = parent ? await repo.git.diffFiles(parent, sha) : []
      return ok({
        ...commit,
        stats: {
          additions: files.reduce((n, f) => n + f.additions, 0),
          deletions: files.reduce((n, f) => n + f.deletions, 0),
          total: files.reduce((n, f) => n + f.additions + f.deletions, 0)
        },
        files: await diffEntries(hub, repo, parent ?? sha, sha, files)
      })
    }
  },
  'repos/list-pull-requests-associated-with-commit': {
    scope: 'pullRequests',
    level: 'read',
    async handle(hub, request) {
      const { repo, params } = request
      const sha = await resolve(repo, String(params.commit_sha))
      if (!sha) throw unprocessable(`No commit found for SHA: ${String(params.commit_sha)}`)
      const pulls = []
      for (const pull of repo.pulls) {
        await hub.refreshPull(repo, pull)
        // GitHub lists pulls whose head holds the commit, and merged pulls whose merge brought it in.
        if (pull.headSha === sha || (await repo.git.isAncestor(sha, pull.headSha))) pulls.push(pull)
        else if (pull.mergeCommitSha === sha) pulls.push(pull)
      }
      return simplePulls(hub, repo, pulls, request)
    }
  },
  'issues/list-comments': {
    scope: ['issues', 'pullRequests'],
    level: 'read',
    async handle(hub, request) {
      const { repo, params } = request
      const pull = pullByNumber(repo, Number(params.issue_number))
      const comments = repo.comments.filter(comment => comment.issueNumber === pull.number)
      const { items, headers } = pageOf(comments, request)
      return ok(
        items.map(comment => json.issueComment(hub.urls, repo, comment)),
        headers
      )
    }
  },
  'repos/compare-commits-with-basehead': {
    scope: 'contents',
    level: 'read',
    async handle(hub, request) {
      return compare(hub, request.repo, String(request.params.basehead))
    }
  },

  // ---- pulls ----
  'pulls/list': {
    scope: 'pullRequests',
    level: 'read',
    async handle(hub, request) {
      const { repo, query } = request
      const state = String(query.state ?? 'open')
      // GitHub ignores a `head` filter without the `owner:` prefix: every pull comes back.
      const head =
        typeof query.head === 'string' && query.head.includes(':')
          ? (headBranch(repo, query.head) ?? '\0')
          : undefined
      const base = query.base === undefined ? undefined : String(query.base)
      for (const pull of repo.pulls) await hub.refreshPull(repo, pull)
      let pulls = repo.pulls.filter(
        pull =>
          (state === 'all' || pull.state === state) &&
          (head === undefined || pull.head === head) &&
          (base === undefined || pull.base === base)
      )
      const sort = String(query.sort ?? 'created')
      const key = (pull: PullState): string =>
        (sort === 'updated' ? pull.updatedAt : pull.createdAt) + String(pull.number).padStart(8, '0')
      const direction = String(query.direction ?? (sort === 'created' ? 'desc' : 'asc'))
      pulls = [...pulls].sort((a, b) =>
        direction === 'asc' ? key(a).localeCompare(key(b)) : key(b).localeCompare(key(a))
      )
      return simplePulls(hub, repo, pulls, request)
    }
  },
  'pulls/create': {
    scope: 'pullRequests',
    level: 'write',
    async handle(hub, request) {
      const { repo, body, caller } = request
      const account = actor(request)
      if (
        caller.kind === 'token' &&
        caller.token.kind === 'workflow' &&
        !hub.registry.actionsMayCreatePullRequests(repo)
      ) {
        throw new ApiError(403, 'GitHub Actions is not permitted to create or approve pull requests.')
      }
      if (body.title === undefined && body.issue === undefined) {
        throw validationFailed([{ resource: 'PullRequest', field: 'title', code: 'missing_field' }])
      }
      if (body.issue !== undefined)
        throw validationFailed([{ resource: 'PullRequest', field: 'issue', code: 'invalid' }])
      const head = headBranch(repo, String(body.head))
      const base = String(body.base)
      const headSha = head ? await repo.git.resolveCommit(`refs/heads/${head}`) : undefined
      const baseSha = await repo.git.resolveCommit(`refs/heads/${base}`)
      const errors: Array<Record<string, unknown>> = []
      if (!baseSha) errors.push({ resource: 'PullRequest', field: 'base', code: 'invalid' })
      if (!headSha) errors.push({ resource: 'PullRequest', field: 'head', code: 'invalid' })
      if (errors.length) throw validationFailed(errors)
      if (!head || !headSha || !baseSha) throw new Error('unreachable')
      if (await repo.git.isAncestor(headSha, baseSha)) {
        throw validationFailed([
          { resource: 'PullRequest', code: 'custom', message: `No commits between ${base} and ${head}` }
        ])
      }
      // Checked after the last await, so that two concurrent creates cannot both pass it (GitHub's is atomic).
      const existing = repo.pulls.find(
        pull => pull.state === 'open' && pull.head === head && pull.base === base
      )
      if (existing) {
        throw validationFailed([
          {
            resource: 'PullRequest',
            code: 'custom',
            message: `A pull request already exists for ${repo.owner.login}:${head}.`
          }
        ])
      }
      const id = hub.registry.id()
      const at = now()
      const pull: PullState = {
        id,
        nodeId: hub.registry.nodeId('PR', id),
        number: repo.nextNumber++,
        title: String(body.title),
        body: body.body === undefined ? null : String(body.body),
        state: 'open',
        draft: body.draft === true,
        head,
        base,
        headSha,
        user: account,
        createdAt: at,
        updatedAt: at,
        closedAt: null,
        mergedAt: null,
        mergeCommitSha: null,
        mergedBy: null,
        labels: [],
        assignees: [],
        requestedReviewers: [],
        maintainerCanModify: body.maintainer_can_modify !== false,
        autoMerge: null,
        comments: 0
      }
      repo.pulls.push(pull)
      hub.registry.nodes.set(pull.nodeId, { repo, pull })
      return pullAnswer(hub, repo, pull, 201)
    }
  },
  'pulls/get': {
    scope: 'pullRequests',
    level: 'read',
    async handle(hub, { repo, params }) {
      return pullAnswer(hub, repo, pullByNumber(repo, Number(params.pull_number)))
    }
  },
  'pulls/update': {
    scope: 'pullRequests',
    level: 'write',
    async handle(hub, { repo, params, body }) {
      const pull = pullByNumber(repo, Number(params.pull_number))
      if (body.base !== undefined) {
        if (!(await repo.git.resolveCommit(`refs/heads/${String(body.base)}`))) {
          throw validationFailed([{ resource: 'PullRequest', field: 'base', code: 'invalid' }])
        }
        pull.base = String(body.base)
      }
      if (body.title !== undefined) pull.title = String(body.title)
      if (body.body !== undefined) pull.body = String(body.body)
      if (body.maintainer_can_modify !== undefined)
        pull.maintainerCanModify = body.maintainer_can_modify === true
      if (body.state === 'closed' && pull.state === 'open') {
        await hub.refreshPull(repo, pull)
        pull.state = 'closed'
        pull.closedAt = now()
        pull.autoMerge = null
      } else if (body.state === 'open' && pull.state === 'closed') {
        if (pull.mergedAt)
          throw validationFailed([
            { resource: 'PullRequest', code: 'custom', message: 'Cannot reopen a merged pull request' }
          ])
        const other = repo.pulls.find(
          p => p !== pull && p.state === 'open' && p.head === pull.head && p.base === pull.base
        )
        if (other) {
          throw validationFailed([
            {
              resource: 'PullRequest',
              code: 'custom',
              message: `A pull request already exists for ${repo.owner.login}:${pull.head}.`
            }
          ])
        }
        pull.state = 'open'
        pull.closedAt = null
      }
      pull.updatedAt = now()
      return pullAnswer(hub, repo, pull)
    }
  },
  'pulls/request-reviewers': {
    scope: 'pullRequests',
    level: 'write',
    async handle(hub, { repo, params, body }) {
      const pull = pullByNumber(repo, Number(params.pull_number))
      const reviewers = ((body.reviewers as string[] | undefined) ?? []).map(String)
      const teams = (body.team_reviewers as string[] | undefined) ?? []
      if (reviewers.some(login => login.toLowerCase() === pull.user.login.toLowerCase())) {
        throw unprocessable('Review cannot be requested from pull request author.')
      }
      const collaborators = new Set([...repo.collaborators].map(login => login.toLowerCase()))
      if (teams.length > 0 || reviewers.some(login => !collaborators.has(login.toLowerCase()))) {
        throw unprocessable(
          `Reviews may only be requested from collaborators. One or more of the users or teams you specified is not a collaborator of the ${repo.fullName} repository.`
        )
      }
      for (const login of reviewers) {
        const account = hub.registry.user(login)
        if (!pull.requestedReviewers.includes(account.login)) pull.requestedReviewers.push(account.login)
      }
      pull.updatedAt = now()
      await hub.refreshPull(repo, pull)
      const body201 = json.pullRequestSimple(hub.urls, repo, pull, {
        baseSha: await hub.baseSha(repo, pull),
        reviewers: hub.reviewers(pull),
        assignees: hub.assignees(pull)
      })
      return { status: 201, body: body201 }
    }
  },

  // ---- issues (of pulls) ----
  'issues/add-labels': {
    scope: ['issues', 'pullRequests'],
    level: 'write',
    async handle(hub, { repo, params, body }) {
      const pull = pullByNumber(repo, Number(params.issue_number))
      const names = ((body.labels as Array<string | { name: string }> | undefined) ?? []).map(item =>
        typeof item === 'string' ? item : item.name
      )
      for (const name of names) {
        let found = repo.labels.get(name.toLowerCase())
        if (!found) {
          const id = hub.registry.id()
          found = { id, nodeId: hub.registry.nodeId('LA', id), name, color: 'ededed', description: null }
          repo.labels.set(name.toLowerCase(), found)
        }
        if (!pull.labels.some(existing => existing.toLowerCase() === name.toLowerCase()))
          pull.labels.push(found.name)
      }
      pull.updatedAt = now()
      return ok(pull.labels.map(name => json.label(hub.urls, repo, repo.labels.get(name.toLowerCase())!)))
    }
  },
  'issues/add-assignees': {
    scope: ['issues', 'pullRequests'],
    level: 'write',
    async handle(hub, { repo, params, body }) {
      const pull = pullByNumber(repo, Number(params.issue_number))
      // GitHub silently leaves out logins that may not be assigned (not collaborators).
      const collaborators = new Set([...repo.collaborators].map(login => login.toLowerCase()))
      for (const login of ((body.assignees as string[] | undefined) ?? []).map(String)) {
        if (!collaborators.has(login.toLowerCase())) continue
        const account = hub.registry.user(login)
        if (!pull.assignees.includes(account.login)) pull.assignees.push(account.login)
      }
      pull.updatedAt = now()
      return { status: 201, body: json.issueOfPull(hub.urls, repo, pull, hub.registry) }
    }
  },
  'issues/create-comment': {
    scope: ['issues', 'pullRequests'],
    level: 'write',
    async handle(hub, request) {
      const { repo, params, body } = request
      const pull = pullByNumber(repo, Number(params.issue_number))
      const id = hub.registry.id()
      const comment = {
        id,
        nodeId: hub.registry.nodeId('IC', id),
        issueNumber: pull.number,
        body: String(body.body),
        user: actor(request),
        createdAt: now()
      }
      repo.comments.push(comment)
      pull.comments += 1
      const answer = json.issueComment(hub.urls, repo, comment)
      return created(answer, String(answer.url))
    }
  },

  // ---- statuses and checks ----
  'repos/create-commit-status': {
    scope: 'statuses',
    level: 'write',
    async handle(hub, request) {
      const { repo, params, body } = request
      const sha = String(params.sha)
      if (!SHA.test(sha) || (await repo.git.objectType(sha)) !== 'commit') {
        throw unprocessable(`No commit found for SHA: ${sha}`)
      }
      const id = hub.registry.id()
      const state = {
        id,
        nodeId: hub.registry.nodeId('SC', id),
        sha,
        state: body.state,
        targetUrl: body.target_url ?? null,
        description: body.description ?? null,
        context: String(body.context ?? 'default'),
        createdAt: now(),
        creator: actor(request)
      }
      repo.statuses.push(state)
      const answer = json.status(hub.urls, repo, state)
      return created(answer, String(answer.url))
    }
  },
  'repos/list-commit-statuses-for-ref': {
    scope: 'statuses',
    level: 'read',
    async handle(hub, request) {
      const { repo, params } = request
      const sha = await resolve(repo, String(params.ref))
      if (!sha) throw notFound()
      const statuses = repo.statuses.filter(entry => entry.sha === sha).reverse()
      const { items, headers } = pageOf(statuses, request)
      return ok(
        items.map(entry => json.status(hub.urls, repo, entry)),
        headers
      )
    }
  },
  'repos/get-combined-status-for-ref': {
    scope: 'statuses',
    level: 'read',
    async handle(hub, request) {
      const { repo, params } = request
      const sha = await resolve(repo, String(params.ref))
      if (!sha) throw notFound()
      // `statuses` pages (30 by default, 100 at most); a page past the last lists none.
      const latest = hub.latestStatuses(repo, sha)
      const { items, headers } = pageOf(latest, request)
      return ok(json.combinedStatus(hub.urls, repo, sha, latest, items), headers)
    }
  },
  'checks/list-for-ref': {
    scope: 'checks',
    level: 'read',
    async handle(hub, request) {
      const { repo, params, query } = request
      const sha = await resolve(repo, String(params.ref))
      if (!sha) throw notFound()
      let runs = repo.checkRuns.filter(run => run.headSha === sha).reverse()
      if (query.check_name !== undefined) runs = runs.filter(run => run.name === query.check_name)
      if (query.status !== undefined) runs = runs.filter(run => run.status === query.status)
      if ((query.filter ?? 'latest') === 'latest') {
        const seen = new Set<string>()
        runs = runs.filter(run => !seen.has(run.name) && seen.add(run.name))
      }
      const { items, headers } = pageOf(runs, request)
      const github = hub.registry.user('github', 'Organization')
      return ok(
        {
          total_count: runs.length,
          check_runs: items.map(run => json.checkRun(hub.urls, repo, run, github))
        },
        headers
      )
    }
  }
}

async function diffEntries(
  hub: Hub,
  repo: RepoState,
  from: string,
  to: string,
  files: Awaited<ReturnType<RepoState['git']['diffFiles']>>
) {
  const statusName: Record<string, string> = { A: 'added', D: 'removed', M: 'modified', T: 'changed' }
  const out = []
  for (const file of files) {
    const path = file.path.split('/').map(encodeURIComponent).join('/')
    const entry: Record<string, unknown> = {
      sha: file.sha,
      filename: file.path,
      status: statusName[file.status[0] ?? 'M'] ?? 'modified',
      additions: file.additions,
      deletions: file.deletions,
      changes: file.additions + file.deletions,
      blob_url: `${hub.urls.web}/${repo.fullName}/blob/${to}/${path}`,
      raw_url: `${hub.urls.web}/${repo.fullName}/raw/${to}/${path}`,
      contents_url: `${hub.urls.api}/repos/${repo.fullName}/contents/${path}?ref=${to}`
    }
    const patch = await repo.git.patch(from, to, file.path)
    if (patch) entry.patch = patch
    out.push(entry)
  }
  return out
}

async function compare(hub: Hub, repo: RepoState, basehead: string): Promise<RestAnswer> {
  const split = basehead.includes('...') ? basehead.split('...') : basehead.split('..')
  if (split.length !== 2) throw notFound()
  const [baseName = '', headName = ''] = split.map(name => headBranch(repo, name) ?? '')
  const base = await resolve(repo, baseName)
  const head = await resolve(repo, headName)
  if (!base || !head) throw notFound()
  const mergeBase = await repo.git.mergeBase(base, head)
  if (!mergeBase) throw notFound()
  const ahead = await repo.git.revList(head, { exclude: base })
  const behind = await repo.git.revList(base, { exclude: head })
  const status =
    ahead.length && behind.length
      ? 'diverged'
      : ahead.length
        ? 'ahead'
        : behind.length
          ? 'behind'
          : 'identical'
  const files = await repo.git.diffFiles(mergeBase, head)
  const [baseCommit] = await commitsJson(hub, repo, [base])
  const [mergeBaseCommit] = await commitsJson(hub, repo, [mergeBase])
  const web = `${hub.urls.web}/${repo.fullName}/compare/${basehead}`
  return ok({
    url: `${hub.urls.api}/repos/${repo.fullName}/compare/${basehead}`,
    html_url: web,
    permalink_url: `${hub.urls.web}/${repo.fullName}/compare/${base}...${head}`,
    diff_url: `${web}.diff`,
    patch_url: `${web}.patch`,
    base_commit: baseCommit,
    merge_base_commit: mergeBaseCommit,
    status,
    ahead_by: ahead.length,
    behind_by: behind.length,
    total_commits: ahead.length,
    commits: await commitsJson(hub, repo, ahead.slice(0, 250).reverse()),
    files: await diffEntries(hub, repo, mergeBase, head, files)
  })
}
