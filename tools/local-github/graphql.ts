/**
 * GitHub's GraphQL API, held to GitHub's published schema (npm `@octokit/graphql-schema`): every document is
 * validated against it (plus GitHub's rule that connections need `first` or `last`), then executed by resolvers
 * for the part our actions use. A field the schema has but these resolvers lack fails loudly, never as null.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  buildClientSchema,
  execute,
  getNamedType,
  GraphQLError,
  Kind,
  parse,
  specifiedRules,
  validate,
  type ASTVisitor,
  type DocumentNode,
  type GraphQLFieldResolver,
  type GraphQLSchema,
  type IntrospectionQuery,
  type OperationDefinitionNode,
  type ValidationContext
} from 'graphql'
import { ApiError, unprocessable, type Hub } from './hub.js'
import {
  now,
  type Caller,
  type Level,
  type PullState,
  type RepoState,
  type Scope,
  type User
} from './state.js'

let schema: GraphQLSchema | undefined

/** GitHub's schema, built on first use. */
export function githubSchema(): GraphQLSchema {
  if (!schema) {
    // The package exports only its entry point, which builds a second schema at import: read the file itself.
    const file = packageFile('@octokit/graphql-schema', 'schema.json')
    schema = buildClientSchema(JSON.parse(readFileSync(file, 'utf8')) as IntrospectionQuery)
  }
  return schema
}

/** A file of an installed package, found the way Node looks for packages (upwards through node_modules). */
function packageFile(name: string, file: string): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name, file)
    if (existsSync(candidate)) return candidate
    if (dirname(dir) === dir) throw new Error(`${name}/${file} is not installed`)
  }
}

/** GitHub refuses unbounded connections: "You must provide a `first` or `last` value…". */
function requirePaginationBoundaries(context: ValidationContext): ASTVisitor {
  return {
    Field(node) {
      const field = context.getFieldDef()
      if (!field || !getNamedType(field.type).name.endsWith('Connection')) return
      if (!field.args.some(arg => arg.name === 'first')) return
      const given = new Set(node.arguments?.map(arg => arg.name.value))
      if (!given.has('first') && !given.has('last')) {
        context.reportError(
          new GraphQLError(
            `You must provide a \`first\` or \`last\` value to properly paginate the \`${node.name.value}\` connection.`,
            { nodes: node }
          )
        )
      }
    }
  }
}

export interface ParsedDocument {
  document?: DocumentNode
  operation?: OperationDefinitionNode
  /** Root fields the operation selects (`createCommitOnBranch`, `repository`): for faults and the call log. */
  fields: string[]
  mutation: boolean
  /** Syntax and schema errors: a document outside the contract. */
  errors: GraphQLError[]
}

/** Parse and validate a document against GitHub's schema. */
export function checkDocument(query: unknown, operationName: unknown): ParsedDocument {
  if (typeof query !== 'string') {
    return {
      fields: [],
      mutation: false,
      errors: [new GraphQLError('A query attribute must be specified and must be a string.')]
    }
  }
  let document: DocumentNode
  try {
    document = parse(query)
  } catch (error) {
    return { fields: [], mutation: false, errors: [error as GraphQLError] }
  }
  const operations = document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION
  )
  const operation =
    typeof operationName === 'string'
      ? operations.find(op => op.name?.value === operationName)
      : operations[0]
  const fields = (operation?.selectionSet.selections ?? []).flatMap(selection =>
    selection.kind === Kind.FIELD ? [selection.name.value] : []
  )
  const errors = [...validate(githubSchema(), document, [...specifiedRules, requirePaginationBoundaries])]
  return { document, operation, fields, mutation: operation?.operation === 'mutation', errors }
}

export interface ExecutionOutcome {
  body: { data?: unknown; errors?: unknown[] }
  /** Fields the schema has and these resolvers do not implement. */
  unsupported: string[]
  /** Errors that are bugs of the server, not refusals GitHub would give. */
  failures: string[]
  /** Variables that do not fit the schema: the request is outside the contract. */
  invalid: string[]
}

class UnsupportedField extends Error {}

interface Context {
  hub: Hub
  caller: Caller & { kind: 'token' }
}

/** Execute a validated document as the caller. */
export async function executeDocument(
  hub: Hub,
  caller: Caller & { kind: 'token' },
  parsed: ParsedDocument,
  variables: unknown,
  operationName: unknown
): Promise<ExecutionOutcome> {
  const unsupported: string[] = []
  const fieldResolver: GraphQLFieldResolver<unknown, Context> = (source, args, context, info) => {
    if (source !== null && typeof source === 'object' && info.fieldName in source) {
      const value = (source as Record<string, unknown>)[info.fieldName]
      return typeof value === 'function'
        ? (value as (a: unknown, c: Context) => unknown).call(source, args, context)
        : value
    }
    throw new UnsupportedField(
      `${info.parentType.name}.${info.fieldName} is not implemented by the local GitHub`
    )
  }
  const result = await execute({
    schema: githubSchema(),
    document: parsed.document!,
    rootValue: parsed.mutation ? new MutationRoot() : new QueryRoot(),
    contextValue: { hub, caller } satisfies Context,
    variableValues: (variables ?? {}) as Record<string, unknown>,
    operationName: typeof operationName === 'string' ? operationName : undefined,
    fieldResolver,
    typeResolver: value => (value as { __typename: string }).__typename
  })
  const failures: string[] = []
  const invalid: string[] = []
  const errors = result.errors?.map(error => {
    const original = error.originalError
    const out: Record<string, unknown> = {
      message: error.message,
      locations: error.locations,
      path: error.path
    }
    if (original instanceof ApiError) {
      if (original.graphqlType !== null) out.type = original.graphqlType ?? 'UNPROCESSABLE'
    } else if (original instanceof UnsupportedField) unsupported.push(original.message)
    // Errors before execution (variables that do not fit their types) are the caller's, like validation errors.
    else if (!error.path) invalid.push(error.message)
    else failures.push(original?.stack ?? error.message)
    return out
  })
  return {
    body: errors ? { data: result.data ?? null, errors } : { data: result.data },
    unsupported,
    failures,
    invalid
  }
}

// ---- resolvers: plain objects whose fields are values or methods (args, context) ----

function requireAccess(context: Context, repo: RepoState, scope: Scope | 'metadata', level: Level): void {
  const access = context.hub.registry.access(context.caller, repo, scope, level)
  if (access === 'ok') return
  if (access === 'not-found') {
    throw new ApiError(
      404,
      `Could not resolve to a Repository with the name '${repo.fullName}'.`,
      undefined,
      'NOT_FOUND'
    )
  }
  throw new ApiError(403, context.hub.registry.forbiddenMessage(context.caller), undefined, 'FORBIDDEN')
}

function connection<T>(
  items: T[],
  args: { first?: number | null; last?: number | null; after?: string | null }
) {
  const start = args.after
    ? Number(Buffer.from(args.after, 'base64').toString().replace('cursor:', '')) + 1
    : 0
  let window = items.slice(start)
  let offset = start
  if (typeof args.first === 'number') window = window.slice(0, args.first)
  if (typeof args.last === 'number') {
    offset += Math.max(window.length - args.last, 0)
    window = window.slice(-args.last)
  }
  const cursor = (index: number): string => Buffer.from(`cursor:${offset + index}`).toString('base64')
  return {
    totalCount: items.length,
    nodes: window,
    edges: window.map((node, index) => ({ node, cursor: cursor(index) })),
    pageInfo: {
      hasNextPage: offset + window.length < items.length,
      hasPreviousPage: offset > 0,
      startCursor: window.length ? cursor(0) : null,
      endCursor: window.length ? cursor(window.length - 1) : null
    }
  }
}

function actorModel(hub: Hub, account: User) {
  return {
    __typename: account.type,
    id: account.nodeId,
    databaseId: account.id,
    login: account.login,
    name: account.name,
    url: `${hub.urls.web}/${account.type === 'Bot' ? `apps/${account.login.replace(/\[bot\]$/, '')}` : account.login}`,
    resourcePath: `/${account.login}`,
    avatarUrl: () => `${hub.urls.web}/avatars/u/${account.id}`
  }
}

function refId(repo: RepoState, ref: string): string {
  return `REF_${Buffer.from(`${repo.id}:${ref}`).toString('base64url')}`
}

class QueryRoot {
  async repository(args: { owner: string; name: string }, context: Context) {
    const repo = context.hub.registry.repo(args.owner, args.name)
    const missing = new ApiError(
      404,
      `Could not resolve to a Repository with the name '${args.owner}/${args.name}'.`,
      undefined,
      'NOT_FOUND'
    )
    if (!repo) throw missing
    requireAccess(context, repo, 'metadata', 'read')
    return new RepositoryModel(context.hub, repo)
  }

  node(args: { id: string }, context: Context) {
    const found = context.hub.registry.nodes.get(args.id)
    if (!found || context.hub.registry.access(context.caller, found.repo, 'metadata', 'read') !== 'ok') {
      throw new ApiError(
        404,
        `Could not resolve to a node with the global id of '${args.id}'`,
        undefined,
        'NOT_FOUND'
      )
    }
    return found.pull
      ? new PullRequestModel(context.hub, found.repo, found.pull)
      : new RepositoryModel(context.hub, found.repo)
  }

  viewer(_args: unknown, context: Context) {
    return actorModel(context.hub, context.caller.token.user)
  }
}

class RepositoryModel {
  readonly __typename = 'Repository'
  readonly id: string
  readonly databaseId: number
  readonly name: string
  readonly nameWithOwner: string
  readonly isPrivate: boolean
  readonly visibility: string
  readonly url: string
  readonly autoMergeAllowed: boolean
  readonly createdAt: string

  constructor(
    private readonly hub: Hub,
    private readonly repo: RepoState
  ) {
    this.id = repo.nodeId
    this.databaseId = repo.id
    this.name = repo.name
    this.nameWithOwner = repo.fullName
    this.isPrivate = repo.private
    this.visibility = repo.private ? 'PRIVATE' : 'PUBLIC'
    this.url = `${hub.urls.web}/${repo.fullName}`
    this.autoMergeAllowed = repo.allowAutoMerge
    this.createdAt = repo.createdAt
  }

  owner() {
    return actorModel(this.hub, this.repo.owner)
  }

  viewerPermission(_args: unknown, context: Context) {
    const grant = context.caller.token.repos.get(this.repo.fullName.toLowerCase())
    return grant?.contents === 'write' ? 'WRITE' : 'READ'
  }

  async defaultBranchRef(_args: unknown, context: Context) {
    requireAccess(context, this.repo, 'contents', 'read')
    const ref = `refs/heads/${this.repo.defaultBranch}`
    return (await this.repo.git.readRef(ref)) ? new RefModel(this.hub, this.repo, ref) : null
  }

  async ref(args: { qualifiedName: string }, context: Context) {
    requireAccess(context, this.repo, 'contents', 'read')
    const candidates = args.qualifiedName.startsWith('refs/')
      ? [args.qualifiedName]
      : [`refs/heads/${args.qualifiedName}`, `refs/tags/${args.qualifiedName}`]
    for (const ref of candidates) {
      if (await this.repo.git.readRef(ref)) return new RefModel(this.hub, this.repo, ref)
    }
    return null
  }

  async refs(
    args: { refPrefix: string; first?: number; last?: number; after?: string; query?: string },
    context: Context
  ) {
    requireAccess(context, this.repo, 'contents', 'read')
    const refs = (await this.repo.git.listRefs(args.refPrefix))
      .filter(entry => !args.query || entry.ref.slice(args.refPrefix.length).includes(args.query))
      .map(entry => new RefModel(this.hub, this.repo, entry.ref))
    return connection(refs, args)
  }

  async object(args: { expression?: string; oid?: string }, context: Context) {
    requireAccess(context, this.repo, 'contents', 'read')
    const spec = args.oid ?? args.expression ?? ''
    if (spec.startsWith('-')) return null
    const sha = await this.repo.git.readRef(spec)
    return sha ? objectModel(this.hub, this.repo, sha) : null
  }

  pullRequest(args: { number: number }, context: Context) {
    requireAccess(context, this.repo, 'pullRequests', 'read')
    const pull = this.repo.pulls.find(candidate => candidate.number === args.number)
    if (!pull) {
      throw new ApiError(
        404,
        `Could not resolve to a PullRequest with the number of ${args.number}.`,
        undefined,
        'NOT_FOUND'
      )
    }
    return new PullRequestModel(this.hub, this.repo, pull)
  }

  async pullRequests(
    args: {
      states?: string[]
      headRefName?: string
      baseRefName?: string
      first?: number
      last?: number
      after?: string
      labels?: string[]
    },
    context: Context
  ) {
    requireAccess(context, this.repo, 'pullRequests', 'read')
    for (const pull of this.repo.pulls) await this.hub.refreshPull(this.repo, pull)
    const pulls = this.repo.pulls.filter(
      pull =>
        (!args.states || args.states.includes(pullState(pull))) &&
        (!args.headRefName || pull.head === args.headRefName) &&
        (!args.baseRefName || pull.base === args.baseRefName) &&
        (!args.labels || args.labels.some(name => pull.labels.includes(name)))
    )
    return connection(
      pulls.map(pull => new PullRequestModel(this.hub, this.repo, pull)),
      args
    )
  }
}

function pullState(pull: PullState): string {
  return pull.mergedAt ? 'MERGED' : pull.state === 'open' ? 'OPEN' : 'CLOSED'
}

class RefModel {
  readonly __typename = 'Ref'
  readonly id: string
  readonly name: string
  readonly prefix: string

  constructor(
    private readonly hub: Hub,
    private readonly repo: RepoState,
    private readonly ref: string
  ) {
    this.id = refId(repo, ref)
    const match = /^(refs\/(?:heads|tags)\/)(.*)$/.exec(ref)
    this.prefix = match?.[1] ?? 'refs/'
    this.name = match?.[2] ?? ref.replace(/^refs\//, '')
  }

  repository() {
    return new RepositoryModel(this.hub, this.repo)
  }

  async target() {
    const sha = await this.repo.git.readRef(this.ref)
    return sha ? objectModel(this.hub, this.repo, sha) : null
  }

  associatedPullRequests(
    args: { states?: string[]; first?: number; last?: number; after?: string },
    context: Context
  ) {
    requireAccess(context, this.repo, 'pullRequests', 'read')
    const pulls = this.repo.pulls.filter(
      pull =>
        this.prefix === 'refs/heads/' &&
        pull.head === this.name &&
        (!args.states || args.states.includes(pullState(pull)))
    )
    return connection(
      pulls.map(pull => new PullRequestModel(this.hub, this.repo, pull)),
      args
    )
  }
}

async function objectModel(hub: Hub, repo: RepoState, sha: string) {
  const type = await repo.git.objectType(sha)
  if (type === 'commit') return new CommitModel(hub, repo, sha)
  if (type === 'tree') return new TreeModel(hub, repo, sha)
  if (type === 'blob') return new BlobModel(hub, repo, sha)
  return null
}

class CommitModel {
  readonly __typename = 'Commit'
  readonly id: string
  readonly oid: string
  readonly abbreviatedOid: string
  readonly url: string
  readonly commitUrl: string
  private loaded?: ReturnType<RepoState['git']['readCommit']>

  constructor(
    private readonly hub: Hub,
    private readonly repo: RepoState,
    sha: string
  ) {
    this.oid = sha
    this.id = `C_${Buffer.from(`${repo.id}:${sha}`).toString('base64url')}`
    this.abbreviatedOid = sha.slice(0, 7)
    this.url = `${hub.urls.web}/${repo.fullName}/commit/${sha}`
    this.commitUrl = this.url
  }

  private async object() {
    this.loaded ??= this.repo.git.readCommit(this.oid)
    const object = await this.loaded
    if (!object) throw new Error(`commit ${this.oid} is missing`)
    return object
  }

  async message() {
    return (await this.object()).message.replace(/\n$/, '')
  }

  async messageHeadline() {
    return (await this.message()).split('\n')[0] ?? ''
  }

  async messageBody() {
    return (await this.message()).split('\n').slice(1).join('\n').replace(/^\n+/, '')
  }

  async committedDate() {
    return (await this.object()).committer.date
  }

  async authoredDate() {
    return (await this.object()).author.date
  }

  async author() {
    return this.gitActor((await this.object()).author)
  }

  async committer() {
    return this.gitActor((await this.object()).committer)
  }

  private gitActor(person: { name: string; email: string; date: string }) {
    const account = this.hub.accountsByEmail().get(person.email.toLowerCase())
    return {
      name: person.name,
      email: person.email,
      date: person.date,
      user: account ? actorModel(this.hub, account) : null
    }
  }

  async tree() {
    return new TreeModel(this.hub, this.repo, (await this.object()).tree)
  }

  async parents(args: { first?: number; last?: number; after?: string }) {
    const parents = (await this.object()).parents.map(sha => new CommitModel(this.hub, this.repo, sha))
    return connection(parents, args)
  }

  async history(args: { first?: number; last?: number; after?: string; path?: string }) {
    const shas = await this.repo.git.revList(this.oid, { path: args.path })
    return connection(
      shas.map(sha => new CommitModel(this.hub, this.repo, sha)),
      args
    )
  }

  async file(args: { path: string }) {
    const entry = await this.repo.git.entryAt(this.oid, args.path)
    return entry ? treeEntryModel(this.hub, this.repo, entry) : null
  }

  signature() {
    const found = this.repo.verifications.get(this.oid)
    if (!found) return null
    return {
      __typename: 'GpgSignature',
      email: 'noreply@github.com',
      isValid: found.verified,
      state: found.verified ? 'VALID' : 'INVALID',
      payload: found.payload ?? '',
      signature: found.signature ?? '',
      signer: null,
      keyId: 'B5690EEEBB952194',
      verifiedAt: found.verifiedAt,
      wasSignedByGitHub: true
    }
  }

  associatedPullRequests(args: { first?: number; last?: number; after?: string }, context: Context) {
    requireAccess(context, this.repo, 'pullRequests', 'read')
    const pulls = this.repo.pulls.filter(pull => pull.headSha === this.oid)
    return connection(
      pulls.map(pull => new PullRequestModel(this.hub, this.repo, pull)),
      args
    )
  }
}

class TreeModel {
  readonly __typename = 'Tree'
  readonly id: string
  readonly abbreviatedOid: string

  constructor(
    private readonly hub: Hub,
    private readonly repo: RepoState,
    readonly oid: string
  ) {
    this.id = `T_${Buffer.from(`${repo.id}:${oid}`).toString('base64url')}`
    this.abbreviatedOid = oid.slice(0, 7)
  }

  async entries() {
    const entries = await this.repo.git.listTree(this.oid)
    return entries.map(entry => treeEntryModel(this.hub, this.repo, entry))
  }
}

function treeEntryModel(
  hub: Hub,
  repo: RepoState,
  entry: { mode: string; type: string; sha: string; path: string; size?: number }
) {
  const name = entry.path.split('/').pop() ?? entry.path
  return {
    name,
    path: entry.path,
    nameRaw: Buffer.from(name).toString('base64'),
    pathRaw: Buffer.from(entry.path).toString('base64'),
    type: entry.type,
    mode: Number.parseInt(entry.mode, 8),
    oid: entry.sha,
    size: entry.size ?? 0,
    extension: name.includes('.') ? name.slice(name.lastIndexOf('.')) : null,
    isGenerated: false,
    repository: () => new RepositoryModel(hub, repo),
    object: () => objectModel(hub, repo, entry.sha)
  }
}

class BlobModel {
  readonly __typename = 'Blob'
  readonly id: string
  readonly abbreviatedOid: string
  private loaded?: Promise<Buffer | undefined>

  constructor(
    private readonly hub: Hub,
    private readonly repo: RepoState,
    readonly oid: string
  ) {
    this.id = `B_${Buffer.from(`${repo.id}:${oid}`).toString('base64url')}`
    this.abbreviatedOid = oid.slice(0, 7)
  }

  private async content() {
    this.loaded ??= this.repo.git.readBlob(this.oid)
    return (await this.loaded) ?? Buffer.alloc(0)
  }

  async byteSize() {
    return (await this.content()).length
  }

  async isBinary() {
    return (await this.content()).includes(0)
  }

  async text() {
    const content = await this.content()
    return content.includes(0) ? null : content.toString('utf8')
  }

  isTruncated() {
    return false
  }

  repository() {
    return new RepositoryModel(this.hub, this.repo)
  }
}

class PullRequestModel {
  readonly __typename = 'PullRequest'
  readonly id: string
  readonly databaseId: number
  readonly number: number
  readonly url: string
  readonly permalink: string

  constructor(
    private readonly hub: Hub,
    private readonly repo: RepoState,
    private readonly pull: PullState
  ) {
    this.id = pull.nodeId
    this.databaseId = pull.id
    this.number = pull.number
    this.url = `${hub.urls.web}/${repo.fullName}/pull/${pull.number}`
    this.permalink = this.url
  }

  title = () => this.pull.title
  body = () => this.pull.body ?? ''
  state = () => pullState(this.pull)
  closed = () => this.pull.state === 'closed'
  merged = () => this.pull.mergedAt !== null
  mergedAt = () => this.pull.mergedAt
  isDraft = () => this.pull.draft
  createdAt = () => this.pull.createdAt
  updatedAt = () => this.pull.updatedAt
  headRefName = () => this.pull.head
  baseRefName = () => this.pull.base
  author = () => actorModel(this.hub, this.pull.user)
  repository = () => new RepositoryModel(this.hub, this.repo)

  async headRefOid() {
    return (await this.hub.refreshPull(this.repo, this.pull)).headSha
  }

  async baseRefOid() {
    return this.hub.baseSha(this.repo, this.pull)
  }

  async headRef() {
    const ref = `refs/heads/${this.pull.head}`
    return (await this.repo.git.readRef(ref)) ? new RefModel(this.hub, this.repo, ref) : null
  }

  async baseRef() {
    const ref = `refs/heads/${this.pull.base}`
    return (await this.repo.git.readRef(ref)) ? new RefModel(this.hub, this.repo, ref) : null
  }

  async mergeable() {
    await this.hub.refreshPull(this.repo, this.pull)
    const { mergeable } = await this.hub.mergeState(this.repo, this.pull)
    return mergeable === null ? 'UNKNOWN' : mergeable ? 'MERGEABLE' : 'CONFLICTING'
  }

  async mergeStateStatus() {
    await this.hub.refreshPull(this.repo, this.pull)
    return (await this.hub.mergeState(this.repo, this.pull)).state.toUpperCase()
  }

  labels(args: { first?: number; last?: number; after?: string }) {
    const labels = this.pull.labels.flatMap(name => {
      const found = this.repo.labels.get(name.toLowerCase())
      return found
        ? [
            {
              __typename: 'Label',
              id: found.nodeId,
              name: found.name,
              color: found.color,
              description: found.description
            }
          ]
        : []
    })
    return connection(labels, args)
  }

  autoMergeRequest() {
    const auto = this.pull.autoMerge
    if (!auto) return null
    return {
      enabledAt: auto.enabledAt,
      enabledBy: actorModel(this.hub, auto.enabledBy),
      mergeMethod: auto.mergeMethod,
      commitHeadline: auto.commitHeadline,
      commitBody: auto.commitBody,
      authorEmail: auto.authorEmail,
      pullRequest: () => this
    }
  }
}

interface CreateCommitOnBranchInput {
  branch: { repositoryNameWithOwner?: string; branchName?: string; id?: string }
  expectedHeadOid: string
  message: { headline: string; body?: string | null }
  fileChanges?: { additions?: Array<{ path: string; contents: string }>; deletions?: Array<{ path: string }> }
  clientMutationId?: string
}

interface AutoMergeInput {
  pullRequestId: string
  mergeMethod?: 'MERGE' | 'SQUASH' | 'REBASE'
  commitHeadline?: string
  commitBody?: string
  authorEmail?: string
  expectedHeadOid?: string
  clientMutationId?: string
}

/** A node of `kind` the caller may see; GitHub's NOT_FOUND otherwise. */
function visibleNode(
  context: Context,
  id: string,
  kind: 'repository' | 'pull'
): { repo: RepoState; pull?: PullState } {
  const found = context.hub.registry.nodes.get(id)
  if (
    !found ||
    (kind === 'pull') !== (found.pull !== undefined) ||
    context.hub.registry.access(context.caller, found.repo, 'metadata', 'read') !== 'ok'
  ) {
    throw new ApiError(
      404,
      `Could not resolve to a node with the global id of '${id}'`,
      undefined,
      'NOT_FOUND'
    )
  }
  return found
}

interface UpdateRefsInput {
  repositoryId: string
  refUpdates: Array<{ name: string; afterOid: string; beforeOid?: string | null; force?: boolean | null }>
  clientMutationId?: string
}

const NO_OID = '0'.repeat(40)

/** GitHub's answer when a mutation fails inside: no `type`, nothing to tell a stale lease from another failure. */
function somethingWentWrong(): ApiError {
  const id = randomBytes(8).toString('hex').toUpperCase()
  return new ApiError(
    500,
    `Something went wrong while executing your query. Please include \`${id.slice(0, 4)}:${id.slice(4, 10)}:${id.slice(10)}\` when reporting this issue.`,
    undefined,
    null
  )
}

class MutationRoot {
  /** All updates or none; a `beforeOid` that no longer holds fails the whole call with GitHub's generic error. */
  async updateRefs(args: { input: UpdateRefsInput }, context: Context) {
    const { input } = args
    const { repo } = visibleNode(context, input.repositoryId, 'repository')
    requireAccess(context, repo, 'contents', 'write')
    const transaction: Array<{ ref: string; sha: string | null; old: string | null }> = []
    for (const update of input.refUpdates) {
      const branch = update.name.startsWith('refs/heads/')
        ? update.name.slice('refs/heads/'.length)
        : undefined
      if (branch !== undefined && repo.protections.has(branch)) {
        throw unprocessable(`Protected branch update failed for ${update.name}.`)
      }
      const current = (await repo.git.readRef(update.name)) ?? null
      const after = update.afterOid === NO_OID ? null : update.afterOid
      if (after !== null && (await repo.git.objectType(after)) !== 'commit') throw somethingWentWrong()
      if (update.beforeOid !== undefined && update.beforeOid !== null) {
        if ((update.beforeOid === NO_OID ? null : update.beforeOid) !== current) throw somethingWentWrong()
      }
      if (
        !update.force &&
        current !== null &&
        after !== null &&
        !(await repo.git.isAncestor(current, after))
      ) {
        throw somethingWentWrong()
      }
      if (after === null && current === null) throw somethingWentWrong()
      // The transaction checks each ref against what was read here, so a push since then fails it as a whole.
      transaction.push({ ref: update.name, sha: after, old: current })
    }
    if (!(await repo.git.updateRefsAtomically(transaction))) throw somethingWentWrong()
    return { clientMutationId: input.clientMutationId ?? null }
  }

  async createCommitOnBranch(args: { input: CreateCommitOnBranchInput }, context: Context) {
    const { hub, caller } = context
    const { input } = args
    let repo: RepoState | undefined
    let branch = input.branch.branchName ?? ''
    if (input.branch.id) {
      const decoded = Buffer.from(input.branch.id.replace(/^REF_/, ''), 'base64url').toString()
      const [repoId, ref = ''] = [
        decoded.slice(0, decoded.indexOf(':')),
        decoded.slice(decoded.indexOf(':') + 1)
      ]
      repo = [...hub.registry.repos.values()].find(candidate => String(candidate.id) === repoId)
      branch = ref.replace(/^refs\/heads\//, '')
    } else if (input.branch.repositoryNameWithOwner) {
      const [owner = '', name = ''] = input.branch.repositoryNameWithOwner.split('/')
      repo = hub.registry.repo(owner, name)
    }
    if (!repo || hub.registry.access(caller, repo, 'metadata', 'read') !== 'ok') {
      throw new ApiError(
        404,
        `Could not resolve to a Repository with the name '${input.branch.repositoryNameWithOwner ?? input.branch.id}'.`,
        undefined,
        'NOT_FOUND'
      )
    }
    requireAccess(context, repo, 'contents', 'write')
    branch = branch.replace(/^refs\/heads\//, '')
    if (repo.protections.has(branch)) {
      throw new ApiError(
        422,
        `Protected branch update failed for refs/heads/${branch}.`,
        undefined,
        'UNPROCESSABLE'
      )
    }
    const headline = input.message.headline
    const message = input.message.body ? `${headline}\n\n${input.message.body}\n` : `${headline}\n`
    const sha = await hub.commitFiles(repo, {
      branch,
      expectedHead: input.expectedHeadOid,
      additions: (input.fileChanges?.additions ?? []).map(addition => ({
        path: addition.path,
        content: Buffer.from(addition.contents, 'base64')
      })),
      deletions: (input.fileChanges?.deletions ?? []).map(deletion => deletion.path),
      message,
      author: hub.identity(caller.token.user),
      signedByGitHub: caller.token.kind !== 'user'
    })
    return {
      clientMutationId: input.clientMutationId ?? null,
      commit: new CommitModel(hub, repo, sha),
      ref: new RefModel(hub, repo, `refs/heads/${branch}`)
    }
  }

  async enablePullRequestAutoMerge(args: { input: AutoMergeInput }, context: Context) {
    const { repo, pull } = this.pullFor(args.input.pullRequestId, context)
    const { hub } = context
    if (!repo.allowAutoMerge)
      throw new ApiError(422, 'Auto merge is not allowed for this repository', undefined, 'UNPROCESSABLE')
    if (pull.state !== 'open')
      throw new ApiError(422, 'Pull request is not in an open state', undefined, 'UNPROCESSABLE')
    await hub.refreshPull(repo, pull)
    if (args.input.expectedHeadOid && args.input.expectedHeadOid !== pull.headSha) {
      throw new ApiError(422, `Head sha didn't match expected head sha`, undefined, 'UNPROCESSABLE')
    }
    if (!repo.protections.has(pull.base)) {
      throw new ApiError(
        422,
        'Protected branch rules not configured for this branch',
        undefined,
        'UNPROCESSABLE'
      )
    }
    const { state } = await hub.mergeState(repo, pull)
    if (state === 'clean')
      throw new ApiError(422, 'Pull request is in clean status', undefined, 'UNPROCESSABLE')
    pull.autoMerge = {
      enabledBy: context.caller.token.user,
      enabledAt: now(),
      mergeMethod: args.input.mergeMethod ?? 'MERGE',
      commitHeadline: args.input.commitHeadline ?? null,
      commitBody: args.input.commitBody ?? null,
      authorEmail: args.input.authorEmail ?? null
    }
    pull.updatedAt = now()
    return {
      clientMutationId: args.input.clientMutationId ?? null,
      pullRequest: new PullRequestModel(hub, repo, pull),
      actor: actorModel(hub, context.caller.token.user)
    }
  }

  markPullRequestReadyForReview(
    args: { input: { pullRequestId: string; clientMutationId?: string } },
    context: Context
  ) {
    const { repo, pull } = this.pullFor(args.input.pullRequestId, context)
    if (pull.state !== 'open')
      throw new ApiError(422, 'Pull request is not in an open state', undefined, 'UNPROCESSABLE')
    pull.draft = false
    pull.updatedAt = now()
    return {
      clientMutationId: args.input.clientMutationId ?? null,
      pullRequest: new PullRequestModel(context.hub, repo, pull)
    }
  }

  convertPullRequestToDraft(
    args: { input: { pullRequestId: string; clientMutationId?: string } },
    context: Context
  ) {
    const { repo, pull } = this.pullFor(args.input.pullRequestId, context)
    if (pull.state !== 'open')
      throw new ApiError(422, 'Pull request is not in an open state', undefined, 'UNPROCESSABLE')
    pull.draft = true
    pull.updatedAt = now()
    return {
      clientMutationId: args.input.clientMutationId ?? null,
      pullRequest: new PullRequestModel(context.hub, repo, pull)
    }
  }

  disablePullRequestAutoMerge(
    args: { input: { pullRequestId: string; clientMutationId?: string } },
    context: Context
  ) {
    const { repo, pull } = this.pullFor(args.input.pullRequestId, context)
    pull.autoMerge = null
    pull.updatedAt = now()
    return {
      clientMutationId: args.input.clientMutationId ?? null,
      pullRequest: new PullRequestModel(context.hub, repo, pull),
      actor: actorModel(context.hub, context.caller.token.user)
    }
  }

  private pullFor(id: string, context: Context): { repo: RepoState; pull: PullState } {
    const found = visibleNode(context, id, 'pull')
    requireAccess(context, found.repo, 'pullRequests', 'write')
    requireAccess(context, found.repo, 'contents', 'write')
    return { repo: found.repo, pull: found.pull as PullState }
  }
}
