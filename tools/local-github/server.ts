/**
 * The local GitHub's HTTP front: routing (git smart HTTP, REST under `/api/v3`, GraphQL at `/api/graphql`, as
 * GitHub Enterprise Server lays them out), authentication, scripted faults, the contract checks and the call log.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { checkRequest, checkResponse, matchRoute, type Operation } from './contract.js'
import { initBareRepo, serveGit, writeProtectedRefs, type BareRepo } from './git.js'
import { checkDocument, executeDocument } from './graphql.js'
import { ApiError, Hub } from './hub.js'
import { OPERATIONS, type RestAnswer } from './rest.js'
import {
  GITHUB_COMMITTER,
  now,
  Registry,
  type Caller,
  type CheckRunState,
  type Permissions,
  type Protection,
  type RepoState,
  type StatusState,
  type TokenKind
} from './state.js'

export type { Permissions, Protection, TokenKind } from './state.js'

/** One request as the server saw it. */
export interface Call {
  method: string
  /**
   * The route: REST as the description names it ('POST /repos/{owner}/{repo}/pulls'), 'POST /graphql', or git's
   * ('GET /{owner}/{repo}.git/info/refs?service=git-receive-pack', 'POST /{owner}/{repo}.git/git-receive-pack').
   */
  route: string
  /** The request's path and query, as sent. */
  path: string
  /** REST operation id ('pulls/create'); for GraphQL the root fields ('mutation createCommitOnBranch'). */
  operation?: string
  /** 'owner/name', when the request addresses a repository. */
  repo?: string
  /** The token's name (never its value); undefined when anonymous, 'invalid' for an unknown token. */
  token?: string
  status: number
  /** A request that changes something: REST POST/PATCH/PUT/DELETE, a GraphQL mutation, a git push. */
  write: boolean
  /** The fault that answered instead of the server, if any. */
  fault?: string
}

/** A request or response outside GitHub's description, or a part the local GitHub does not implement. */
export interface Violation {
  kind: 'request' | 'response' | 'graphql' | 'unsupported' | 'server'
  /** 'POST /repos/{owner}/{repo}/pulls' or 'POST /graphql'. */
  route: string
  /** Operation id, or the GraphQL root fields. */
  operation?: string
  message: string
}

/** A scripted failure of the next matching requests. */
export type FaultSpec = {
  /** The route as the call log names it, e.g. 'POST /repos/{owner}/{repo}/pulls' or 'POST /graphql'. */
  route: string
  /** For 'POST /graphql': only documents selecting this root field (e.g. 'createCommitOnBranch'). */
  field?: string
  /** How many matching requests fail (default 1; Infinity for all). */
  times?: number
  /** Let this many matching requests through first (default 0). */
  after?: number
} & (
  | { kind?: 'status'; status: number; message?: string }
  /** 403 with `retry-after` and GitHub's secondary rate limit message. */
  | { kind: 'secondary-rate-limit'; retryAfter?: number }
  /** 422 as GitHub answers while a just-written object is not yet visible to the API. */
  | { kind: 'eventual-consistency' }
  /** Answer normally after a pause. */
  | { kind: 'delay'; ms: number }
  /** Close the connection without answering. */
  | { kind: 'drop' }
)

/**
 * Code run when a matching request arrives, before the server answers it: a test holds a request there (a barrier)
 * to force an interleaving of concurrent runs, or changes state between two requests.
 */
export interface HookSpec {
  /** The route as the call log names it. */
  route: string
  /** For 'POST /graphql': only documents selecting this root field. */
  field?: string
  /** How many matching requests run the hook (default 1; Infinity for all). */
  times?: number
  /** Let this many matching requests through first (default 0). */
  after?: number
  run(call: Readonly<Call>): Promise<void> | void
}

export interface StatusOptions {
  sha: string
  context: string
  state: StatusState['state']
  /** When it was posted (ISO 8601); default now. */
  createdAt?: string
  description?: string
  targetUrl?: string
  /** The account that posted it (default 'flux-bot'). */
  creator?: string
}

export interface CreateRepoOptions {
  defaultBranch?: string
  /** Files of the first commit on the default branch (default: a README). */
  files?: Record<string, string | Buffer>
  /** No commits at all. */
  empty?: boolean
  /** Default true: private repositories are invisible (404) to tokens without a grant. */
  private?: boolean
  /** GitHub's "Allow auto-merge" setting; off by default, as on GitHub. */
  allowAutoMerge?: boolean
  /** Users who may be requested as reviewers (the owner is one). */
  collaborators?: string[]
}

export interface RepoHandle {
  fullName: string
  owner: string
  name: string
  defaultBranch: string
  /** `${serverUrl}/owner/name.git` */
  cloneUrl: string
  nodeId: string
  /** The first commit, or undefined for an empty repository. */
  head?: string
}

export interface TokenOptions {
  /** Per-repository permissions ('owner/name' → permissions). */
  repos: Record<string, Permissions>
  /** Default 'app'. */
  kind?: TokenKind
  /** How the call log names the token (default '<kind>-token-<n>'). */
  name?: string
  /** The account the token acts as (defaults: 'digest-delivery[bot]', 'github-actions[bot]', 'octocat'). */
  login?: string
}

export interface CommitOptions {
  branch?: string
  files?: Record<string, string | Buffer>
  deletions?: string[]
  message?: string
  author?: { name: string; email: string }
}

export interface LogEntry {
  sha: string
  parents: string[]
  subject: string
  body: string
  author: { name: string; email: string; date: string }
  committer: { name: string; email: string; date: string }
}

export interface LocalGitHub {
  /** `http://127.0.0.1:PORT`: git remotes are `${serverUrl}/owner/name.git`. */
  serverUrl: string
  /** `${serverUrl}/api/v3`, what the actions read from GITHUB_API_URL. */
  apiUrl: string
  /** `${serverUrl}/api/graphql`, GITHUB_GRAPHQL_URL. */
  graphqlUrl: string
  /** Every request so far, in arrival order. */
  readonly calls: readonly Call[]
  /** Contract violations not yet taken. */
  readonly violations: readonly Violation[]
  createRepo(fullName: string, options?: CreateRepoOptions): Promise<RepoHandle>
  /** A token value to send as `Authorization: token …` or as git's basic-auth password. */
  createToken(options: TokenOptions): string
  /** Protect a branch: pushes and API ref updates to it are refused (GH006); pulls need `requiredApprovals`. */
  protectBranch(repo: string, branch: string, options?: Partial<Protection>): Promise<void>
  unprotectBranch(repo: string, branch: string): Promise<void>
  /** "Allow GitHub Actions to create and approve pull requests", server-wide or for one repository. */
  setActionsCanCreatePullRequests(allowed: boolean, repo?: string): void
  setAllowAutoMerge(repo: string, allowed: boolean): void
  /** Script a failure of the next requests on a route. */
  fault(spec: FaultSpec): void
  clearFaults(): void
  /** Run code when a matching request arrives, before it is answered (after any fault scheduled for it). */
  hook(spec: HookSpec): void
  clearHooks(): void
  /** Run git in the bare repository; returns stdout, throws on a non-zero exit. */
  git(repo: string, ...args: string[]): Promise<string>
  /** Commits reachable from a branch (default: the default branch), newest first. */
  log(repo: string, branch?: string): Promise<LogEntry[]>
  /** A branch's commit, or undefined. */
  ref(repo: string, branch: string): Promise<string | undefined>
  /** A file's content at a ref, or undefined. */
  readFile(repo: string, ref: string, path: string): Promise<string | undefined>
  /** Commit on a branch as someone else would (creating the branch from the default branch if missing). */
  commit(repo: string, options: CommitOptions): Promise<string>
  /** A check run on a commit, as a workflow would leave it. */
  addCheckRun(repo: string, run: Pick<CheckRunState, 'headSha' | 'name'> & Partial<CheckRunState>): void
  /** A commit status, as a controller (Flux, Argo CD) would post it, possibly back-dated. */
  addStatus(repo: string, status: StatusOptions): void
  /** Pull requests of a repository, as plain data. */
  pulls(repo: string): ReadonlyArray<Readonly<RepoState['pulls'][number]>>
  /** Comments left on pull requests of a repository. */
  comments(repo: string): ReadonlyArray<Readonly<RepoState['comments'][number]>>
  /** Take (and clear) the recorded violations. */
  takeViolations(): Violation[]
  /** Throw (and clear) if any request or response broke the contract: call it in afterEach. */
  assertNoViolations(): void
  stop(): Promise<void>
}

const GIT_PATH = /^\/([^/]+)\/([^/]+?)(?:\.git)?\/(info\/refs|git-upload-pack|git-receive-pack)$/
const DOCS = 'https://docs.github.com/rest'

interface ScheduledFault {
  spec: FaultSpec
  skip: number
  remaining: number
}

/** Start a local GitHub on a free loopback port, with its repositories in a fresh temporary directory. */
export async function startGitHub(): Promise<LocalGitHub> {
  const root = await mkdtemp(join(tmpdir(), 'local-github-'))
  const registry = new Registry()
  const calls: Call[] = []
  const violations: Violation[] = []
  const faults: ScheduledFault[] = []
  const hooks: Array<{ spec: HookSpec; skip: number; remaining: number }> = []
  const sockets = new Set<Socket>()

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      violations.push({
        kind: 'server',
        route: `${req.method} ${req.url}`,
        message: String((error as Error)?.stack ?? error)
      })
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ message: `local GitHub failed: ${String(error)}` }))
    })
  })
  server.on('connection', socket => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const port = (server.address() as AddressInfo).port
  const serverUrl = `http://127.0.0.1:${port}`
  const apiUrl = `${serverUrl}/api/v3`
  const graphqlUrl = `${serverUrl}/api/graphql`
  const hub = new Hub(registry, { api: apiUrl, web: serverUrl })

  function repoOrThrow(fullName: string): RepoState {
    const [owner = '', name = ''] = fullName.split('/')
    const repo = registry.repo(owner, name)
    if (!repo) throw new Error(`no repository ${fullName} on the local GitHub`)
    return repo
  }

  /** The first fault scheduled for this route (and GraphQL field), consumed. */
  function takeFault(route: string, fields: string[]): FaultSpec | undefined {
    for (const scheduled of faults) {
      if (scheduled.spec.route !== route) continue
      if (scheduled.spec.field && !fields.includes(scheduled.spec.field)) continue
      if (scheduled.remaining <= 0) continue
      if (scheduled.skip > 0) {
        scheduled.skip -= 1
        continue
      }
      scheduled.remaining -= 1
      return scheduled.spec
    }
    return undefined
  }

  /** Run the first hook scheduled for this route (and GraphQL field), consuming one of its turns. */
  async function runHook(call: Call, fields: string[]): Promise<void> {
    for (const scheduled of hooks) {
      if (scheduled.spec.route !== call.route) continue
      if (scheduled.spec.field && !fields.includes(scheduled.spec.field)) continue
      if (scheduled.remaining <= 0) continue
      if (scheduled.skip > 0) {
        scheduled.skip -= 1
        continue
      }
      scheduled.remaining -= 1
      await scheduled.spec.run(call)
      return
    }
  }

  /** Apply the fault scheduled for this call, if any; true when it answered (or dropped) the request. */
  async function faulted(call: Call, fields: string[], res: ServerResponse, docs: string): Promise<boolean> {
    const fault = takeFault(call.route, fields)
    if (!fault) return false
    call.fault = fault.kind === undefined || fault.kind === 'status' ? `status ${fault.status}` : fault.kind
    const answered = await applyFault(fault, res, docs)
    if (answered === undefined) return false
    call.status = answered === 'drop' ? 0 : answered
    return true
  }

  /** The status a fault answered with, 'drop', or undefined when the request goes on (after a delay). */
  async function applyFault(
    spec: FaultSpec,
    res: ServerResponse,
    docs: string
  ): Promise<number | 'drop' | undefined> {
    const send = (status: number, body: unknown, headers: Record<string, string> = {}): number => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers })
      res.end(JSON.stringify(body))
      return status
    }
    switch (spec.kind) {
      case 'delay':
        await new Promise(resolve => setTimeout(resolve, spec.ms))
        return undefined
      case 'drop':
        res.socket?.destroy()
        return 'drop'
      case 'secondary-rate-limit':
        return send(
          403,
          {
            message: `You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID ${requestId()}.`,
            documentation_url:
              'https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits',
            status: '403'
          },
          { 'retry-after': String(spec.retryAfter ?? 60), 'x-ratelimit-remaining': '4990' }
        )
      case 'eventual-consistency':
        return send(422, {
          message: 'Validation Failed',
          errors: [
            {
              resource: 'Object',
              code: 'invalid',
              message: 'The object does not exist yet; try again shortly.'
            }
          ],
          documentation_url: docs,
          status: '422'
        })
      default: {
        const text =
          spec.message ??
          (spec.status >= 500 ? (spec.status === 502 ? 'Server Error' : 'Internal Server Error') : 'Fault')
        return send(spec.status, { message: text, documentation_url: docs, status: String(spec.status) })
      }
    }
  }

  async function readBody(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks)
  }

  function tokenName(caller: Caller): string | undefined {
    return caller.kind === 'token' ? caller.token.name : caller.kind === 'invalid' ? 'invalid' : undefined
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', serverUrl)
    const method = req.method ?? 'GET'
    const body = await readBody(req)
    const caller = registry.caller(req.headers.authorization)
    const call: Call = {
      method,
      route: `${method} ${url.pathname}`,
      path: url.pathname + url.search,
      status: 0,
      write: false
    }
    call.token = tokenName(caller)
    calls.push(call)
    res.on('close', () => {
      if (call.status === 0 && res.headersSent) call.status = res.statusCode
    })

    const git = GIT_PATH.exec(url.pathname)
    if (git) {
      await handleGit(req, res, url, body, caller, call, git[1] ?? '', git[2] ?? '', git[3] ?? '')
    } else if (url.pathname === '/api/graphql') {
      await handleGraphql(req, res, body, caller, call)
    } else if (url.pathname === '/api/v3' || url.pathname.startsWith('/api/v3/')) {
      await handleRest(req, res, url, body, caller, call)
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' })
      res.end('Not Found')
      call.status = 404
    }
  }

  // ---- git smart HTTP ----

  async function handleGit(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    body: Buffer,
    caller: Caller,
    call: Call,
    owner: string,
    name: string,
    endpoint: string
  ): Promise<void> {
    const service = endpoint === 'info/refs' ? (url.searchParams.get('service') ?? '') : endpoint
    call.route =
      endpoint === 'info/refs'
        ? `GET /{owner}/{repo}.git/info/refs?service=${service}`
        : `POST /{owner}/{repo}.git/${endpoint}`
    const push = service === 'git-receive-pack'
    call.write = push && endpoint !== 'info/refs'
    const repo = registry.repo(owner, name)
    if (repo) call.repo = repo.fullName
    if (await faulted(call, [], res, 'https://docs.github.com/get-started/git-basics')) return
    await runHook(call, [])
    const text = (status: number, message: string, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers })
      res.end(message)
      call.status = status
    }
    const challenge = { 'www-authenticate': 'Basic realm="GitHub"' }
    if (caller.kind === 'invalid') {
      return text(
        401,
        'Invalid username or token. Password authentication is not supported for Git operations.\n',
        challenge
      )
    }
    if (!repo)
      return caller.kind === 'anonymous'
        ? text(401, 'Authentication required\n', challenge)
        : text(404, 'Repository not found.\n')
    const access = registry.access(caller, repo, 'contents', push ? 'write' : 'read')
    if (access === 'unauthenticated' || (access === 'not-found' && caller.kind === 'anonymous')) {
      return text(401, 'Authentication required\n', challenge)
    }
    if (access === 'not-found') return text(404, 'Repository not found.\n')
    if (access === 'forbidden') {
      const login = caller.kind === 'token' ? caller.token.user.login : 'anonymous'
      return text(403, `Permission to ${repo.fullName}.git denied to ${login}.\n`)
    }
    call.status = await serveGit(req, res, body, {
      projectRoot: root,
      pathInfo: `/${repo.fullName}.git/${endpoint}`,
      query: url.search.slice(1),
      remoteUser: caller.kind === 'token' ? caller.token.user.login : undefined
    })
  }

  // ---- REST ----

  async function handleRest(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    raw: Buffer,
    caller: Caller,
    call: Call
  ): Promise<void> {
    const method = call.method
    const path = url.pathname.slice('/api/v3'.length) || '/'
    const match = matchRoute(method, path)
    const send = (answer: RestAnswer, operation?: Operation): void => {
      const headers: Record<string, string> = {
        'x-github-media-type': 'github.v3; format=json',
        'x-github-request-id': requestId(),
        'x-ratelimit-limit': '5000',
        'x-ratelimit-remaining': String(Math.max(5000 - calls.length, 0)),
        'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600),
        'x-ratelimit-used': String(calls.length),
        'x-ratelimit-resource': 'core',
        ...answer.headers
      }
      let payload: Buffer | undefined
      let status = answer.status
      if (answer.raw) {
        headers['content-type'] = answer.raw.contentType
        payload = answer.raw.data
      } else if (answer.body !== undefined) {
        headers['content-type'] = 'application/json; charset=utf-8'
        if (operation) {
          const problems = checkResponse(operation, status, headers['content-type'], answer.body)
          if (problems.length > 0) {
            const message = `response ${status} of ${operation.operationId} does not match GitHub's description: ${problems.join('; ')}`
            violations.push({
              kind: 'response',
              route: operation.route,
              operation: operation.operationId,
              message
            })
            status = 500
            answer = { status, body: { message, documentation_url: DOCS, status: '500' } }
          }
        }
        payload = Buffer.from(JSON.stringify(answer.body))
      } else if (operation) {
        const problems = checkResponse(operation, status, undefined, undefined)
        if (problems.length > 0) {
          const message = `response ${status} of ${operation.operationId} does not match GitHub's description: ${problems.join('; ')}`
          violations.push({
            kind: 'response',
            route: operation.route,
            operation: operation.operationId,
            message
          })
        }
      }
      res.writeHead(status, headers)
      res.end(payload)
      call.status = status
    }
    const error = (
      status: number,
      message: string,
      extra: Record<string, unknown> = {},
      docs = DOCS
    ): RestAnswer => ({
      status,
      body: { message, documentation_url: docs, status: String(status), ...extra }
    })

    if (match.kind !== 'operation') {
      const message =
        match.kind === 'method'
          ? `${method} ${path} is not in GitHub's description (the path takes ${match.methods.join(', ')})`
          : `${method} ${path} is not in GitHub's description`
      violations.push({ kind: 'request', route: call.route, message })
      return send(error(404, 'Not Found'))
    }
    const operation = match.operation
    call.route = operation.route
    call.operation = operation.operationId
    call.write = method !== 'GET' && method !== 'HEAD'
    if (match.params.owner && match.params.repo) {
      call.repo =
        registry.repo(match.params.owner, match.params.repo)?.fullName ??
        `${match.params.owner}/${match.params.repo}`
    }
    const docs = operation.docs

    if (await faulted(call, [], res, docs)) return
    await runHook(call, [])

    const checked = checkRequest(operation, match.params, url.searchParams, raw, req.headers['content-type'])
    if (checked.errors.length > 0) {
      const message = `request to ${operation.operationId} does not match GitHub's description: ${checked.errors.join('; ')}`
      violations.push({ kind: 'request', route: operation.route, operation: operation.operationId, message })
      return send(error(422, message, {}, docs))
    }
    if (caller.kind === 'invalid') return send(error(401, 'Bad credentials', {}, DOCS))

    const implementation = OPERATIONS[operation.operationId]
    if (!implementation) {
      const message = `${operation.operationId} (${operation.route}) is not implemented by the local GitHub`
      violations.push({
        kind: 'unsupported',
        route: operation.route,
        operation: operation.operationId,
        message
      })
      return send(error(501, message, {}, docs))
    }
    const repo = registry.repo(String(checked.params.owner ?? ''), String(checked.params.repo ?? ''))
    if (!repo) return send(error(404, 'Not Found', {}, docs), operation)
    const scopes = Array.isArray(implementation.scope) ? implementation.scope : [implementation.scope]
    const verdicts = scopes.map(scope => registry.access(caller, repo, scope, implementation.level))
    if (!verdicts.includes('ok')) {
      const verdict = verdicts[0]
      if (verdict === 'not-found') return send(error(404, 'Not Found', {}, docs), operation)
      if (verdict === 'unauthenticated')
        return send(error(401, 'Requires authentication', {}, docs), operation)
      return send(error(403, registry.forbiddenMessage(caller), {}, docs), operation)
    }
    try {
      const answer = await implementation.handle(hub, {
        caller,
        repo,
        params: checked.params,
        query: checked.query,
        body: checked.body,
        accept: String(req.headers.accept ?? ''),
        url: new URL(`${apiUrl}${path}${url.search}`)
      })
      send(answer, operation)
    } catch (thrown) {
      if (!(thrown instanceof ApiError)) throw thrown
      const extra = thrown.errors ? { errors: thrown.errors } : {}
      send(error(thrown.status, thrown.message, extra, docs), operation)
    }
  }

  // ---- GraphQL ----

  async function handleGraphql(
    _req: IncomingMessage,
    res: ServerResponse,
    raw: Buffer,
    caller: Caller,
    call: Call
  ): Promise<void> {
    call.route = 'POST /graphql'
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, {
        'content-type': 'application/json; charset=utf-8',
        'x-github-request-id': requestId()
      })
      res.end(JSON.stringify(body))
      call.status = status
    }
    if (call.method !== 'POST')
      return send(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/graphql' })
    let request: { query?: unknown; variables?: unknown; operationName?: unknown } = {}
    try {
      request = JSON.parse(raw.toString('utf8')) as typeof request
    } catch {
      violations.push({ kind: 'graphql', route: call.route, message: 'the GraphQL request body is not JSON' })
      return send(400, {
        message: 'Problems parsing JSON',
        documentation_url: 'https://docs.github.com/graphql'
      })
    }
    const parsed = checkDocument(request.query, request.operationName)
    call.operation = `${parsed.mutation ? 'mutation' : 'query'} ${parsed.fields.join(' ')}`.trim()
    call.write = parsed.mutation

    if (await faulted(call, parsed.fields, res, 'https://docs.github.com/graphql')) return
    await runHook(call, parsed.fields)
    if (caller.kind === 'anonymous') {
      return send(401, {
        message: 'This endpoint requires you to be authenticated.',
        documentation_url:
          'https://docs.github.com/graphql/guides/forming-calls-with-graphql#authenticating-with-graphql'
      })
    }
    if (caller.kind === 'invalid')
      return send(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/graphql' })
    if (parsed.errors.length > 0) {
      const messages = parsed.errors.map(e => e.message)
      violations.push({
        kind: 'graphql',
        route: call.route,
        operation: call.operation,
        message: `GraphQL document does not match GitHub's schema: ${messages.join('; ')}`
      })
      return send(200, { errors: parsed.errors.map(e => ({ message: e.message, locations: e.locations })) })
    }
    const outcome = await executeDocument(hub, caller, parsed, request.variables, request.operationName)
    for (const message of outcome.unsupported) {
      violations.push({ kind: 'unsupported', route: call.route, operation: call.operation, message })
    }
    if (outcome.invalid.length > 0) {
      violations.push({
        kind: 'graphql',
        route: call.route,
        operation: call.operation,
        message: `GraphQL variables do not match GitHub's schema: ${outcome.invalid.join('; ')}`
      })
    }
    for (const message of outcome.failures) {
      violations.push({ kind: 'server', route: call.route, operation: call.operation, message })
    }
    send(200, outcome.body)
  }

  // ---- the test-facing API ----

  const gh: LocalGitHub = {
    serverUrl,
    apiUrl,
    graphqlUrl,
    calls,
    violations,

    async createRepo(fullName, options = {}) {
      const [owner, name, extra] = fullName.split('/')
      if (!owner || !name || extra !== undefined || !/^[A-Za-z0-9_.-]+$/.test(owner + name)) {
        throw new Error(`'${fullName}' is not owner/name`)
      }
      if (registry.repo(owner, name)) throw new Error(`${fullName} exists already`)
      const defaultBranch = options.defaultBranch ?? 'main'
      const git = await initBareRepo(join(root, owner, `${name}.git`), defaultBranch)
      const ownerAccount = registry.users.get(owner.toLowerCase()) ?? registry.user(owner, 'Organization')
      const id = registry.id()
      const repo: RepoState = {
        id,
        nodeId: registry.nodeId('R', id),
        owner: ownerAccount,
        name,
        fullName,
        private: options.private ?? true,
        defaultBranch,
        createdAt: now(),
        git,
        allowAutoMerge: options.allowAutoMerge ?? false,
        protections: new Map(),
        collaborators: new Set([owner, ...(options.collaborators ?? [])]),
        pulls: [],
        nextNumber: 1,
        labels: new Map(),
        comments: [],
        statuses: [],
        checkRuns: [],
        verifications: new Map()
      }
      registry.repos.set(fullName.toLowerCase(), repo)
      registry.nodes.set(repo.nodeId, { repo })
      let head: string | undefined
      if (!options.empty) {
        head = await commitFiles(git, {
          parent: undefined,
          files: options.files ?? { 'README.md': `# ${name}\n` },
          deletions: [],
          message: 'Initial commit\n',
          author: { name: 'Octo Cat', email: 'octocat@users.noreply.github.com' }
        })
        await git.updateRef(`refs/heads/${defaultBranch}`, head, undefined)
      }
      return {
        fullName,
        owner,
        name,
        defaultBranch,
        cloneUrl: `${serverUrl}/${fullName}.git`,
        nodeId: repo.nodeId,
        head
      }
    },

    createToken(options) {
      for (const fullName of Object.keys(options.repos)) repoOrThrow(fullName)
      return registry.createToken(options).value
    },

    async protectBranch(fullName, branch, options = {}) {
      const repo = repoOrThrow(fullName)
      repo.protections.set(branch, {
        requiredApprovals: options.requiredApprovals ?? 1,
        requiredStatusChecks: options.requiredStatusChecks ?? []
      })
      await writeProtectedRefs(
        repo.git,
        [...repo.protections.keys()].map(name => `refs/heads/${name}`)
      )
    },

    async unprotectBranch(fullName, branch) {
      const repo = repoOrThrow(fullName)
      repo.protections.delete(branch)
      await writeProtectedRefs(
        repo.git,
        [...repo.protections.keys()].map(name => `refs/heads/${name}`)
      )
    },

    setActionsCanCreatePullRequests(allowed, fullName) {
      if (fullName) repoOrThrow(fullName).actionsCanCreatePullRequests = allowed
      else registry.actionsCanCreatePullRequests = allowed
    },

    setAllowAutoMerge(fullName, allowed) {
      repoOrThrow(fullName).allowAutoMerge = allowed
    },

    fault(spec) {
      faults.push({ spec, skip: spec.after ?? 0, remaining: spec.times ?? 1 })
    },

    clearFaults() {
      faults.length = 0
    },

    hook(spec) {
      hooks.push({ spec, skip: spec.after ?? 0, remaining: spec.times ?? 1 })
    },

    clearHooks() {
      hooks.length = 0
    },

    async git(fullName, ...args) {
      return repoOrThrow(fullName).git.run(args)
    },

    async log(fullName, branch) {
      const repo = repoOrThrow(fullName)
      const head = await repo.git.resolveCommit(`refs/heads/${branch ?? repo.defaultBranch}`)
      if (!head) return []
      const entries: LogEntry[] = []
      for (const sha of await repo.git.revList(head)) {
        const object = await repo.git.readCommit(sha)
        if (!object) continue
        const [subject = '', ...rest] = object.message.replace(/\n$/, '').split('\n')
        entries.push({
          sha,
          parents: object.parents,
          subject,
          body: rest.join('\n').replace(/^\n+/, ''),
          author: object.author,
          committer: object.committer
        })
      }
      return entries
    },

    async ref(fullName, branch) {
      return repoOrThrow(fullName).git.resolveCommit(`refs/heads/${branch}`)
    },

    async readFile(fullName, ref, path) {
      const repo = repoOrThrow(fullName)
      const sha = (await repo.git.resolveCommit(`refs/heads/${ref}`)) ?? (await repo.git.resolveCommit(ref))
      const entry = sha ? await repo.git.entryAt(sha, path) : undefined
      if (!entry || entry.type !== 'blob') return undefined
      return (await repo.git.readBlob(entry.sha))?.toString('utf8')
    },

    async commit(fullName, options) {
      const repo = repoOrThrow(fullName)
      const branch = options.branch ?? repo.defaultBranch
      const ref = `refs/heads/${branch}`
      const parent =
        (await repo.git.readRef(ref)) ?? (await repo.git.readRef(`refs/heads/${repo.defaultBranch}`))
      const sha = await commitFiles(repo.git, {
        parent,
        files: options.files ?? {},
        deletions: options.deletions ?? [],
        message: options.message ?? `Update ${Object.keys(options.files ?? {}).join(', ') || 'files'}\n`,
        author: options.author ?? { name: 'Octo Cat', email: 'octocat@users.noreply.github.com' }
      })
      const current = await repo.git.readRef(ref)
      if (!(await repo.git.updateRef(ref, sha, current))) throw new Error(`${ref} moved while committing`)
      return sha
    },

    addCheckRun(fullName, run) {
      const repo = repoOrThrow(fullName)
      const id = registry.id()
      repo.checkRuns.push({
        id,
        nodeId: registry.nodeId('CR', id),
        status: 'completed',
        conclusion: run.status && run.status !== 'completed' ? null : 'success',
        startedAt: now(),
        completedAt: run.status && run.status !== 'completed' ? null : now(),
        detailsUrl: `${serverUrl}/${repo.fullName}/actions/runs/${id}`,
        ...run
      })
    },

    addStatus(fullName, options) {
      const repo = repoOrThrow(fullName)
      const id = registry.id()
      repo.statuses.push({
        id,
        nodeId: registry.nodeId('SC', id),
        sha: options.sha,
        state: options.state,
        targetUrl: options.targetUrl ?? null,
        description: options.description ?? null,
        context: options.context,
        createdAt: options.createdAt ?? now(),
        creator: registry.user(options.creator ?? 'flux-bot', 'Bot')
      })
    },

    pulls(fullName) {
      return repoOrThrow(fullName).pulls
    },

    comments(fullName) {
      return repoOrThrow(fullName).comments
    },

    takeViolations() {
      return violations.splice(0, violations.length)
    },

    assertNoViolations() {
      const taken = violations.splice(0, violations.length)
      if (taken.length === 0) return
      const lines = taken.map(v => `- [${v.kind}] ${v.operation ?? v.route}: ${v.message}`)
      throw new Error(`The local GitHub saw ${taken.length} contract violation(s):\n${lines.join('\n')}`)
    },

    async stop() {
      await new Promise<void>(resolve => {
        server.close(() => resolve())
        for (const socket of sockets) socket.destroy()
      })
      await rm(root, { recursive: true, force: true })
    }
  }
  return gh
}

/** Commit files on top of `parent` (or as a root commit) without touching any ref. */
async function commitFiles(
  git: BareRepo,
  options: {
    parent: string | undefined
    files: Record<string, string | Buffer>
    deletions: string[]
    message: string
    author: { name: string; email: string }
  }
): Promise<string> {
  const changes = []
  for (const path of options.deletions) changes.push({ path, sha: null })
  for (const [path, content] of Object.entries(options.files)) {
    const sha = await git.writeBlob(Buffer.isBuffer(content) ? content : Buffer.from(content))
    changes.push({ path, mode: '100644', type: 'blob' as const, sha })
  }
  const tree = await git.writeTree(options.parent ? await git.treeOf(options.parent) : undefined, changes)
  const date = now()
  return git.commitTree({
    tree,
    parents: options.parent ? [options.parent] : [],
    message: options.message,
    author: { ...options.author, date },
    committer: { ...GITHUB_COMMITTER, ...options.author, date }
  })
}

function requestId(): string {
  const hex = randomBytes(10).toString('hex').toUpperCase()
  return `${hex.slice(0, 4)}:${hex.slice(4, 8)}:${hex.slice(8, 14)}:${hex.slice(14, 20)}`
}
