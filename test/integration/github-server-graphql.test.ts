import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { getOctokit } from '@actions/github'
import { startGitHub, type LocalGitHub } from '../../tools/local-github/index.js'

let gh: LocalGitHub
let counter = 0

async function newRepo(options: Parameters<LocalGitHub['createRepo']>[1] = {}): Promise<string> {
  counter += 1
  const full = `octo/gitops-${counter}`
  await gh.createRepo(full, {
    files: { 'apps/x.yaml': 'image: x:1\n', 'apps/old.yaml': 'old\n' },
    ...options
  })
  return full
}

function client(token: string) {
  return getOctokit(token, { baseUrl: gh.apiUrl })
}

const base64 = (text: string): string => Buffer.from(text).toString('base64')

const CREATE_COMMIT = `
  mutation($input: CreateCommitOnBranchInput!) {
    createCommitOnBranch(input: $input) {
      commit { oid url messageHeadline signature { isValid wasSignedByGitHub } }
      ref { name target { oid } }
    }
  }`

interface GraphqlFailure {
  errors: Array<{ type?: string; message: string; path?: string[] }>
  data?: unknown
}

/** The errors of a GraphQL call that failed, as Octokit reports them. */
async function graphqlFailure(promise: Promise<unknown>): Promise<GraphqlFailure> {
  const thrown = (await promise.then(
    () => undefined,
    (error: unknown) => error
  )) as GraphqlFailure | undefined
  if (!thrown?.errors) throw new Error(`expected GraphQL errors, got ${String(thrown)}`)
  return thrown
}

function commitInput(full: string, expectedHeadOid: string, extra: Record<string, unknown> = {}) {
  return {
    input: {
      branch: { repositoryNameWithOwner: full, branchName: 'main' },
      expectedHeadOid,
      message: { headline: 'Pin x', body: 'image: x@sha256:ab' },
      fileChanges: {
        additions: [{ path: 'apps/x.yaml', contents: base64('image: x@sha256:ab\n') }],
        deletions: [{ path: 'apps/old.yaml' }]
      },
      ...extra
    }
  }
}

beforeAll(async () => {
  gh = await startGitHub()
})

afterEach(() => {
  gh.clearFaults()
  gh.assertNoViolations()
})

afterAll(async () => {
  await gh?.stop()
})

describe('queries', () => {
  it('answers the repository and ref queries the actions use', async () => {
    const full = await newRepo()
    await gh.commit(full, { branch: 'promote/prod', files: { 'apps/x.yaml': 'image: x:2\n' } })
    const octokit = client(gh.createToken({ repos: { [full]: { contents: 'read', pullRequests: 'read' } } }))
    const answer = await octokit.graphql<{
      repository: {
        id: string
        nameWithOwner: string
        defaultBranchRef: { name: string; target: { oid: string } }
        ref: { name: string; prefix: string; target: { oid: string; tree: { oid: string } } } | null
        missing: null
        file: { text: string; byteSize: number } | null
        pullRequests: { totalCount: number }
      }
    }>(
      `query($owner: String!, $name: String!, $ref: String!) {
        repository(owner: $owner, name: $name) {
          id nameWithOwner
          defaultBranchRef { name target { oid } }
          ref(qualifiedName: $ref) { name prefix target { oid ... on Commit { tree { oid } } } }
          missing: ref(qualifiedName: "refs/heads/nope") { name }
          file: object(expression: "promote/prod:apps/x.yaml") { ... on Blob { text byteSize } }
          pullRequests(first: 5, states: OPEN) { totalCount }
        }
      }`,
      { owner: 'octo', name: full.split('/')[1], ref: 'refs/heads/promote/prod' }
    )
    const repo = answer.repository
    expect(repo.nameWithOwner).toBe(full)
    expect(repo.defaultBranchRef).toEqual({ name: 'main', target: { oid: await gh.ref(full, 'main') } })
    expect(repo.ref?.target.oid).toBe(await gh.ref(full, 'promote/prod'))
    expect(repo.ref?.target.tree.oid).toBe((await gh.git(full, 'rev-parse', 'promote/prod^{tree}')).trim())
    expect([repo.ref?.name, repo.ref?.prefix, repo.missing]).toEqual(['promote/prod', 'refs/heads/', null])
    expect(repo.file).toEqual({ text: 'image: x:2\n', byteSize: 11 })
    expect(repo.pullRequests.totalCount).toBe(0)
  })

  it('cannot see a private repository without a grant, and wants a token at all', async () => {
    const full = await newRepo()
    const stranger = client(gh.createToken({ repos: { [await newRepo()]: { contents: 'read' } } }))
    const hidden = await graphqlFailure(
      stranger.graphql(`{ repository(owner: "octo", name: "${full.split('/')[1]}") { id } }`)
    )
    expect(hidden.errors).toEqual([
      expect.objectContaining({
        type: 'NOT_FOUND',
        path: ['repository'],
        message: `Could not resolve to a Repository with the name '${full}'.`
      })
    ])
    const anonymous = await fetch(gh.graphqlUrl, {
      method: 'POST',
      body: JSON.stringify({ query: '{ viewer { login } }' })
    })
    expect(anonymous.status).toBe(401)
  })
})

describe('createCommitOnBranch', () => {
  it('commits file changes on the branch the lock names, signed by GitHub for an app token', async () => {
    const full = await newRepo()
    const octokit = client(gh.createToken({ repos: { [full]: { contents: 'write' } } }))
    const head = (await gh.ref(full, 'main'))!
    const answer = await octokit.graphql<{
      createCommitOnBranch: {
        commit: {
          oid: string
          messageHeadline: string
          signature: { isValid: boolean; wasSignedByGitHub: boolean } | null
        }
        ref: { name: string; target: { oid: string } }
      }
    }>(CREATE_COMMIT, commitInput(full, head))
    const { commit, ref } = answer.createCommitOnBranch
    expect(commit.signature).toEqual({ isValid: true, wasSignedByGitHub: true })
    expect(ref).toEqual({ name: 'main', target: { oid: commit.oid } })
    expect(await gh.ref(full, 'main')).toBe(commit.oid)

    const [entry] = await gh.log(full)
    expect(entry).toMatchObject({
      sha: commit.oid,
      parents: [head],
      subject: 'Pin x',
      body: 'image: x@sha256:ab'
    })
    expect(entry?.author.name).toBe('digest-delivery[bot]')
    expect(entry?.committer).toMatchObject({ name: 'GitHub', email: 'noreply@github.com' })
    expect(await gh.git(full, 'show', '--name-status', '--format=', 'main')).toBe(
      'D\tapps/old.yaml\nM\tapps/x.yaml\n'
    )
    expect(await gh.readFile(full, 'main', 'apps/x.yaml')).toBe('image: x@sha256:ab\n')
    const rest = await octokit.rest.git.getCommit({
      owner: 'octo',
      repo: full.split('/')[1]!,
      commit_sha: commit.oid
    })
    expect(rest.data.verification.verified).toBe(true)
  })

  it('refuses a stale expectedHeadOid and leaves the branch alone', async () => {
    const full = await newRepo()
    const octokit = client(gh.createToken({ repos: { [full]: { contents: 'write' } } }))
    const stale = (await gh.ref(full, 'main'))!
    const moved = await gh.commit(full, { files: { 'other.txt': 'someone else\n' } })
    const refused = await graphqlFailure(octokit.graphql(CREATE_COMMIT, commitInput(full, stale)))
    expect(refused.errors).toEqual([
      expect.objectContaining({
        type: 'STALE_DATA',
        path: ['createCommitOnBranch'],
        message: `Expected branch to point to "${stale}" but it did not. Pull and try again.`
      })
    ])
    expect(refused.data).toEqual({ createCommitOnBranch: null })
    expect(await gh.ref(full, 'main')).toBe(moved)
  })

  it('lets exactly one of two racing commits with the same lock through', async () => {
    const full = await newRepo()
    const octokit = client(gh.createToken({ repos: { [full]: { contents: 'write' } } }))
    const head = (await gh.ref(full, 'main'))!
    const outcomes = await Promise.allSettled([
      octokit.graphql(CREATE_COMMIT, commitInput(full, head)),
      octokit.graphql(CREATE_COMMIT, commitInput(full, head, { message: { headline: 'Second' } }))
    ])
    expect(outcomes.map(outcome => outcome.status).sort()).toEqual(['fulfilled', 'rejected'])
    const log = await gh.log(full)
    expect(log).toHaveLength(2)
    expect(log[1]?.sha).toBe(head)
  })

  it('refuses deleting a missing file, a protected branch, and a token that may only read', async () => {
    const full = await newRepo()
    const head = (await gh.ref(full, 'main'))!
    const writer = client(gh.createToken({ repos: { [full]: { contents: 'write' } } }))
    const missing = await graphqlFailure(
      writer.graphql(
        CREATE_COMMIT,
        commitInput(full, head, { fileChanges: { deletions: [{ path: 'nope.yaml' }] } })
      )
    )
    expect(missing.errors[0]?.message).toBe(
      `A path was requested for deletion which does not exist as of commit oid \`${head}\``
    )

    const reader = client(gh.createToken({ repos: { [full]: { contents: 'read' } } }))
    const forbidden = await graphqlFailure(reader.graphql(CREATE_COMMIT, commitInput(full, head)))
    expect(forbidden.errors[0]).toMatchObject({
      type: 'FORBIDDEN',
      message: 'Resource not accessible by integration'
    })

    await gh.protectBranch(full, 'main')
    const protectedBranch = await graphqlFailure(writer.graphql(CREATE_COMMIT, commitInput(full, head)))
    expect(protectedBranch.errors[0]?.message).toContain(
      'Protected branch update failed for refs/heads/main.'
    )
    expect(await gh.ref(full, 'main')).toBe(head)
  })

  it('does not mark the commits of a user token as verified', async () => {
    const full = await newRepo()
    const user = client(
      gh.createToken({ kind: 'user', login: 'alice', repos: { [full]: { contents: 'write' } } })
    )
    const answer = await user.graphql<{ createCommitOnBranch: { commit: { signature: null } } }>(
      CREATE_COMMIT,
      commitInput(full, (await gh.ref(full, 'main'))!)
    )
    expect(answer.createCommitOnBranch.commit.signature).toBeNull()
    expect((await gh.log(full))[0]?.author.name).toBe('alice')
  })
})

describe('updateRefs', () => {
  const UPDATE_REFS = `
    mutation($input: UpdateRefsInput!) { updateRefs(input: $input) { clientMutationId } }`
  const ZERO = '0'.repeat(40)

  /** A repository with `main` at its first commit and `topic` one commit further, and a writer's client. */
  async function twoBranches() {
    const full = await newRepo()
    const token = gh.createToken({ repos: { [full]: { contents: 'write' } } })
    const octokit = client(token)
    const id = (
      await octokit.graphql<{ repository: { id: string } }>(
        `{ repository(owner: "octo", name: "${full.split('/')[1]}") { id } }`
      )
    ).repository.id
    const main = (await gh.ref(full, 'main'))!
    const topic = await gh.commit(full, { branch: 'topic', files: { 'apps/x.yaml': 'image: x:2\n' } })
    return { full, octokit, id, main, topic }
  }

  it('moves one branch back (forced) and deletes another in one call', async () => {
    const { full, octokit, id, main, topic } = await twoBranches()
    await gh.commit(full, { branch: 'scratch', files: { 'tmp.txt': 'x\n' } })
    const scratch = (await gh.ref(full, 'scratch'))!
    const answer = await octokit.graphql(UPDATE_REFS, {
      input: {
        repositoryId: id,
        clientMutationId: 'swap',
        refUpdates: [
          { name: 'refs/heads/topic', beforeOid: topic, afterOid: main, force: true },
          { name: 'refs/heads/scratch', beforeOid: scratch, afterOid: ZERO }
        ]
      }
    })
    expect(answer).toEqual({ updateRefs: { clientMutationId: 'swap' } })
    expect(await gh.ref(full, 'topic')).toBe(main)
    expect(await gh.ref(full, 'scratch')).toBeUndefined()
  })

  it('answers a stale beforeOid with the generic error and changes no ref of the call', async () => {
    const { full, octokit, id, main, topic } = await twoBranches()
    const moved = await gh.commit(full, { files: { 'other.txt': 'someone else\n' } })
    const stale = await graphqlFailure(
      octokit.graphql(UPDATE_REFS, {
        input: {
          repositoryId: id,
          refUpdates: [
            { name: 'refs/heads/topic', beforeOid: topic, afterOid: main, force: true },
            { name: 'refs/heads/main', beforeOid: main, afterOid: topic }
          ]
        }
      })
    )
    expect(stale.errors).toHaveLength(1)
    expect(stale.errors[0]!.type).toBeUndefined()
    expect(stale.errors[0]!.message).toMatch(/^Something went wrong while executing your query\./)
    expect(stale.data).toEqual({ updateRefs: null })
    expect([await gh.ref(full, 'topic'), await gh.ref(full, 'main')]).toEqual([topic, moved])

    // A ref that must not exist, but does: the same answer, and the other update is not applied either.
    const exists = await graphqlFailure(
      octokit.graphql(UPDATE_REFS, {
        input: {
          repositoryId: id,
          refUpdates: [
            { name: 'refs/heads/fresh', beforeOid: ZERO, afterOid: topic },
            { name: 'refs/heads/topic', beforeOid: ZERO, afterOid: main }
          ]
        }
      })
    )
    expect(exists.errors[0]!.type).toBeUndefined()
    expect([await gh.ref(full, 'fresh'), await gh.ref(full, 'topic')]).toEqual([undefined, topic])
  })

  it('refuses a non-fast-forward without force, a protected branch, and a token that may only read', async () => {
    const { full, octokit, id, main, topic } = await twoBranches()
    const back = {
      repositoryId: id,
      refUpdates: [{ name: 'refs/heads/topic', beforeOid: topic, afterOid: main }]
    }
    expect(
      (await graphqlFailure(octokit.graphql(UPDATE_REFS, { input: back }))).errors[0]!.type
    ).toBeUndefined()
    expect(await gh.ref(full, 'topic')).toBe(topic)

    const reader = client(gh.createToken({ repos: { [full]: { contents: 'read' } } }))
    const forbidden = await graphqlFailure(reader.graphql(UPDATE_REFS, { input: back }))
    expect(forbidden.errors[0]).toMatchObject({ type: 'FORBIDDEN' })

    await gh.protectBranch(full, 'topic')
    const forced = { ...back, refUpdates: [{ ...back.refUpdates[0], force: true }] }
    const refused = await graphqlFailure(octokit.graphql(UPDATE_REFS, { input: forced }))
    expect(refused.errors[0]!.message).toBe('Protected branch update failed for refs/heads/topic.')
    expect(await gh.ref(full, 'topic')).toBe(topic)
  })
})

describe('markPullRequestReadyForReview', () => {
  it('turns a draft into a pull request ready for review', async () => {
    const full = await newRepo()
    await gh.commit(full, { branch: 'promote/prod', files: { 'apps/x.yaml': 'image: x:2\n' } })
    const octokit = client(
      gh.createToken({ repos: { [full]: { contents: 'write', pullRequests: 'write' } } })
    )
    const r = { owner: 'octo', repo: full.split('/')[1]! }
    const { data } = await octokit.rest.pulls.create({
      ...r,
      title: 'P',
      head: 'promote/prod',
      base: 'main',
      draft: true
    })
    const answer = await octokit.graphql<{
      markPullRequestReadyForReview: { pullRequest: { isDraft: boolean } }
    }>(
      `mutation($id: ID!) { markPullRequestReadyForReview(input: { pullRequestId: $id }) { pullRequest { isDraft } } }`,
      { id: data.node_id }
    )
    expect(answer.markPullRequestReadyForReview.pullRequest.isDraft).toBe(false)
    expect((await octokit.rest.pulls.get({ ...r, pull_number: data.number })).data.draft).toBe(false)
  })
})

describe('enablePullRequestAutoMerge', () => {
  const ENABLE = `mutation($id: ID!) {
    enablePullRequestAutoMerge(input: { pullRequestId: $id, mergeMethod: SQUASH }) {
      pullRequest { number autoMergeRequest { mergeMethod enabledBy { login } } }
    }
  }`

  async function openPull(options: Parameters<LocalGitHub['createRepo']>[1] = {}) {
    const full = await newRepo(options)
    await gh.commit(full, { branch: 'promote/prod', files: { 'apps/x.yaml': 'image: x:2\n' } })
    const octokit = client(
      gh.createToken({ repos: { [full]: { contents: 'write', pullRequests: 'write' } } })
    )
    const r = { owner: 'octo', repo: full.split('/')[1]! }
    const { data } = await octokit.rest.pulls.create({
      ...r,
      title: 'Promote',
      head: 'promote/prod',
      base: 'main'
    })
    return { full, r, octokit, pull: data }
  }

  it('refuses a repository without auto-merge, an unprotected base and a pull that could merge now', async () => {
    const closed = await openPull()
    const notAllowed = await graphqlFailure(closed.octokit.graphql(ENABLE, { id: closed.pull.node_id }))
    expect(notAllowed.errors[0]?.message).toBe('Auto merge is not allowed for this repository')

    const { full, octokit, pull } = await openPull({ allowAutoMerge: true })
    const unprotected = await graphqlFailure(octokit.graphql(ENABLE, { id: pull.node_id }))
    expect(unprotected.errors[0]?.message).toBe('Protected branch rules not configured for this branch')
    await gh.protectBranch(full, 'main', { requiredApprovals: 0 })
    const clean = await graphqlFailure(octokit.graphql(ENABLE, { id: pull.node_id }))
    expect(clean.errors[0]?.message).toBe('Pull request is in clean status')
  })

  it('enables auto-merge on a pull that waits for a required check, visible over REST', async () => {
    const { full, r, octokit, pull } = await openPull({ allowAutoMerge: true })
    await gh.protectBranch(full, 'main', { requiredApprovals: 0, requiredStatusChecks: ['scan'] })
    const answer = await octokit.graphql<{
      enablePullRequestAutoMerge: {
        pullRequest: {
          number: number
          autoMergeRequest: { mergeMethod: string; enabledBy: { login: string } }
        }
      }
    }>(ENABLE, { id: pull.node_id })
    expect(answer.enablePullRequestAutoMerge.pullRequest).toEqual({
      number: pull.number,
      autoMergeRequest: { mergeMethod: 'SQUASH', enabledBy: { login: 'digest-delivery[bot]' } }
    })
    const rest = (await octokit.rest.pulls.get({ ...r, pull_number: pull.number })).data
    expect(rest.auto_merge).toMatchObject({
      merge_method: 'squash',
      enabled_by: { login: 'digest-delivery[bot]' }
    })
    expect(rest.mergeable_state).toBe('blocked')
  })
})

describe('the schema', () => {
  it('catches a field GitHub does not have and an unbounded connection', async () => {
    const full = await newRepo()
    const octokit = client(gh.createToken({ repos: { [full]: { contents: 'read', pullRequests: 'read' } } }))
    const name = full.split('/')[1]
    const unknown = await graphqlFailure(
      octokit.graphql(`{ repository(owner: "octo", name: "${name}") { defaultBranch } }`)
    )
    expect(unknown.errors[0]?.message).toContain('Cannot query field "defaultBranch" on type "Repository"')
    const unbounded = await graphqlFailure(
      octokit.graphql(`{ repository(owner: "octo", name: "${name}") { pullRequests { totalCount } } }`)
    )
    expect(unbounded.errors[0]?.message).toBe(
      'You must provide a `first` or `last` value to properly paginate the `pullRequests` connection.'
    )
    const wrongVariable = await graphqlFailure(
      octokit.graphql(CREATE_COMMIT, { input: { branch: {}, message: {} } })
    )
    expect(wrongVariable.errors.map(error => error.message).join('\n')).toMatch(
      /"expectedHeadOid" of required type "GitObjectID!"/
    )
    const violations = gh.takeViolations()
    expect(violations.map(v => v.kind)).toEqual(['graphql', 'graphql', 'graphql'])
    expect(violations[0]?.message).toContain('Cannot query field "defaultBranch"')
    expect(gh.calls.filter(call => call.route === 'POST /graphql').at(-1)).toMatchObject({
      operation: 'mutation createCommitOnBranch',
      write: true
    })
  })

  it('fails loudly on a field GitHub has and the local GitHub does not answer', async () => {
    const full = await newRepo()
    const octokit = client(gh.createToken({ repos: { [full]: { contents: 'read' } } }))
    await graphqlFailure(
      octokit.graphql(`{ repository(owner: "octo", name: "${full.split('/')[1]}") { stargazerCount } }`)
    )
    expect(gh.takeViolations()).toEqual([
      expect.objectContaining({
        kind: 'unsupported',
        message: 'Repository.stargazerCount is not implemented by the local GitHub'
      })
    ])
  })

  it('fails a scripted fault on one mutation only', async () => {
    const full = await newRepo()
    const octokit = client(gh.createToken({ repos: { [full]: { contents: 'write' } } }))
    gh.fault({ route: 'POST /graphql', field: 'createCommitOnBranch', status: 502 })
    const head = (
      await octokit.graphql<{ repository: { defaultBranchRef: { target: { oid: string } } } }>(
        `{ repository(owner: "octo", name: "${full.split('/')[1]}") { defaultBranchRef { target { oid } } } }`
      )
    ).repository.defaultBranchRef.target.oid
    const failed = await octokit.graphql(CREATE_COMMIT, commitInput(full, head)).then(
      () => 0,
      (error: { status?: number }) => error.status
    )
    expect(failed).toBe(502)
    expect(await gh.ref(full, 'main')).toBe(head)
    await octokit.graphql(CREATE_COMMIT, commitInput(full, head))
    expect(await gh.ref(full, 'main')).not.toBe(head)
  })
})
