import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { getOctokit } from '@actions/github'
import { startGitHub, type LocalGitHub } from '../../tools/local-github/index.js'
import { OPERATIONS } from '../../tools/local-github/rest.js'

type Octokit = ReturnType<typeof getOctokit>

let gh: LocalGitHub
let counter = 0

/** A fresh repository per test, so tests share the server but not state. */
async function repo(
  options: Parameters<LocalGitHub['createRepo']>[1] = {}
): Promise<{ r: { owner: string; repo: string }; full: string }> {
  counter += 1
  const full = `octo/gitops-${counter}`
  await gh.createRepo(full, options)
  return { r: { owner: 'octo', repo: `gitops-${counter}` }, full }
}

function client(token: string): Octokit {
  return getOctokit(token, { baseUrl: gh.apiUrl })
}

/** The HTTP error a call failed with. */
async function failure(promise: Promise<unknown>): Promise<{
  status: number
  message: string
  response?: { data?: unknown; headers: Record<string, string> }
}> {
  const thrown = await promise.then(
    () => undefined,
    (error: unknown) => error
  )
  if (!thrown || typeof thrown !== 'object' || !('status' in thrown))
    throw new Error(`expected an HTTP error, got ${String(thrown)}`)
  return thrown as never
}

beforeAll(async () => {
  gh = await startGitHub()
})

afterEach(() => {
  gh.clearFaults()
  gh.clearHooks()
  gh.assertNoViolations()
})

afterAll(async () => {
  await gh?.stop()
})

describe('repository and git data', () => {
  it('answers repos.get with the default branch and the caller’s permissions', async () => {
    const { r, full } = await repo({ defaultBranch: 'trunk' })
    const token = gh.createToken({ repos: { [full]: { contents: 'read' } } })
    const { data } = await client(token).rest.repos.get(r)
    expect(data).toMatchObject({ full_name: full, default_branch: 'trunk', private: true })
    expect(data.permissions).toMatchObject({ push: false, pull: true })
    expect(data.clone_url).toBe(`${gh.serverUrl}/${full}.git`)
  })

  it('reads, creates, moves and deletes refs with GitHub’s refusals', async () => {
    const { r, full } = await repo({ files: { 'a.txt': 'one\n' } })
    const octokit = client(gh.createToken({ repos: { [full]: { contents: 'write' } } }))
    const main = (await octokit.rest.git.getRef({ ...r, ref: 'heads/main' })).data
    expect(main.object.sha).toBe(await gh.ref(full, 'main'))

    await octokit.rest.git.createRef({ ...r, ref: 'refs/heads/feature', sha: main.object.sha })
    const again = await failure(
      octokit.rest.git.createRef({ ...r, ref: 'refs/heads/feature', sha: main.object.sha })
    )
    expect([again.status, again.message]).toEqual([422, expect.stringContaining('Reference already exists')])
    const missingObject = await failure(
      octokit.rest.git.createRef({ ...r, ref: 'refs/heads/x', sha: 'f'.repeat(40) })
    )
    expect(missingObject.message).toContain('Object does not exist')

    const ahead = await gh.commit(full, { branch: 'feature', files: { 'b.txt': 'two\n' } })
    const moved = await octokit.rest.git.updateRef({ ...r, ref: 'heads/main', sha: ahead })
    expect(moved.data.object.sha).toBe(ahead)
    expect(await gh.ref(full, 'main')).toBe(ahead)

    const back = await failure(octokit.rest.git.updateRef({ ...r, ref: 'heads/main', sha: main.object.sha }))
    expect([back.status, back.message]).toEqual([
      422,
      expect.stringContaining('Update is not a fast forward')
    ])
    expect(await gh.ref(full, 'main')).toBe(ahead)
    await octokit.rest.git.updateRef({ ...r, ref: 'heads/main', sha: main.object.sha, force: true })
    expect(await gh.ref(full, 'main')).toBe(main.object.sha)

    const matching = await octokit.rest.git.listMatchingRefs({ ...r, ref: 'heads/feat' })
    expect(matching.data.map(ref => ref.ref)).toEqual(['refs/heads/feature'])
    await octokit.rest.git.deleteRef({ ...r, ref: 'heads/feature' })
    expect(await gh.ref(full, 'feature')).toBeUndefined()
    expect((await failure(octokit.rest.git.getRef({ ...r, ref: 'heads/feature' }))).status).toBe(404)
  })

  it('builds a commit from blobs and trees that git then shows, signed for an app token', async () => {
    const { r, full } = await repo({ files: { 'apps/x.yaml': 'image: x:1\n', 'keep.txt': 'keep\n' } })
    const octokit = client(gh.createToken({ repos: { [full]: { contents: 'write' } } }))
    const head = (await octokit.rest.git.getRef({ ...r, ref: 'heads/main' })).data.object.sha
    const base = (await octokit.rest.git.getCommit({ ...r, commit_sha: head })).data
    const blob = await octokit.rest.git.createBlob({
      ...r,
      content: Buffer.from('image: x@sha256:ab\n').toString('base64'),
      encoding: 'base64'
    })
    expect(
      (await octokit.rest.git.getBlob({ ...r, file_sha: blob.data.sha })).data.content.replace(/\n/g, '')
    ).toBe(Buffer.from('image: x@sha256:ab\n').toString('base64'))
    const tree = await octokit.rest.git.createTree({
      ...r,
      base_tree: base.tree.sha,
      tree: [
        { path: 'apps/x.yaml', mode: '100644', type: 'blob', sha: blob.data.sha },
        { path: 'apps/new.yaml', mode: '100644', type: 'blob', content: 'new: true\n' },
        { path: 'keep.txt', mode: '100644', type: 'blob', sha: null }
      ]
    })
    const listed = await octokit.rest.git.getTree({ ...r, tree_sha: tree.data.sha, recursive: 'true' })
    expect(listed.data.tree.map(entry => `${entry.type} ${entry.path}`)).toEqual([
      'tree apps',
      'blob apps/new.yaml',
      'blob apps/x.yaml'
    ])

    const commit = await octokit.rest.git.createCommit({
      ...r,
      message: 'Pin x\n\nby digest',
      tree: tree.data.sha,
      parents: [head]
    })
    expect(commit.data.verification.verified).toBe(true)
    expect(commit.data.author.name).toBe('digest-delivery[bot]')
    await octokit.rest.git.updateRef({ ...r, ref: 'heads/main', sha: commit.data.sha })

    const log = await gh.log(full)
    expect(log.map(entry => entry.subject)).toEqual(['Pin x', 'Initial commit'])
    expect(await gh.git(full, 'show', '--name-status', '--format=', 'main')).toBe(
      'A\tapps/new.yaml\nM\tapps/x.yaml\nD\tkeep.txt\n'
    )
    expect(await gh.readFile(full, 'main', 'apps/x.yaml')).toBe('image: x@sha256:ab\n')

    const bad = await failure(
      octokit.rest.git.createCommit({ ...r, message: 'x', tree: 'e'.repeat(40), parents: [head] })
    )
    expect(bad.status).toBe(422)
  })

  it('does not sign commits whose author the caller chose, nor those of user tokens', async () => {
    const { r, full } = await repo()
    const head = (await gh.ref(full, 'main'))!
    const tree = (await gh.git(full, 'rev-parse', 'main^{tree}')).trim()
    const app = client(gh.createToken({ repos: { [full]: { contents: 'write' } } }))
    const authored = await app.rest.git.createCommit({
      ...r,
      message: 'x',
      tree,
      parents: [head],
      author: { name: 'Someone', email: 'someone@example.com', date: '2024-01-01T00:00:00Z' }
    })
    expect(authored.data.verification).toMatchObject({ verified: false, reason: 'unsigned' })
    expect(authored.data.author).toEqual({
      name: 'Someone',
      email: 'someone@example.com',
      date: '2024-01-01T00:00:00Z'
    })
    const user = client(gh.createToken({ kind: 'user', repos: { [full]: { contents: 'write' } } }))
    const byUser = await user.rest.git.createCommit({ ...r, message: 'y', tree, parents: [head] })
    expect(byUser.data.verification.verified).toBe(false)
  })

  it('serves contents as files, directories and raw bytes', async () => {
    const { r, full } = await repo({
      files: { 'apps/x.yaml': 'a: 1\n', 'apps/y.yaml': 'b: 2\n', 'README.md': 'hi\n' }
    })
    const octokit = client(gh.createToken({ repos: { [full]: { contents: 'read' } } }))
    const file = (await octokit.rest.repos.getContent({ ...r, path: 'apps/x.yaml' })).data
    if (Array.isArray(file) || file.type !== 'file') throw new Error('expected a file')
    expect(Buffer.from(file.content, 'base64').toString()).toBe('a: 1\n')
    expect(file.sha).toBe((await gh.git(full, 'rev-parse', 'main:apps/x.yaml')).trim())

    const dir = (await octokit.rest.repos.getContent({ ...r, path: 'apps' })).data
    expect(Array.isArray(dir) && dir.map(item => `${item.type} ${item.path}`)).toEqual([
      'file apps/x.yaml',
      'file apps/y.yaml'
    ])
    const root = (await octokit.rest.repos.getContent({ ...r, path: '' })).data
    expect(Array.isArray(root) && root.map(item => item.name)).toEqual(['README.md', 'apps'])

    const raw = await octokit.rest.repos.getContent({
      ...r,
      path: 'apps/y.yaml',
      mediaType: { format: 'raw' }
    })
    expect(String(raw.data)).toBe('b: 2\n')

    await gh.commit(full, { branch: 'next', files: { 'apps/x.yaml': 'a: 2\n' } })
    const atRef = (await octokit.rest.repos.getContent({ ...r, path: 'apps/x.yaml', ref: 'next' })).data
    expect(
      !Array.isArray(atRef) && atRef.type === 'file' && Buffer.from(atRef.content, 'base64').toString()
    ).toBe('a: 2\n')
    expect((await failure(octokit.rest.repos.getContent({ ...r, path: 'nope.txt' }))).status).toBe(404)
  })

  it('lists commits by branch and path, paginated, and compares', async () => {
    const { r, full } = await repo({ files: { 'apps/x.yaml': 'v: 0\n' } })
    const octokit = client(gh.createToken({ repos: { [full]: { contents: 'read' } } }))
    const first = await gh.commit(full, { files: { 'apps/x.yaml': 'v: 1\n' }, message: 'x one' })
    await gh.commit(full, { files: { 'other.txt': 'o\n' }, message: 'other' })
    await gh.commit(full, { branch: 'env/prod', files: { 'apps/x.yaml': 'v: 2\n' }, message: 'x two' })

    const onMain = await octokit.rest.repos.listCommits({ ...r })
    expect(onMain.data.map(c => c.commit.message)).toEqual(['other', 'x one', 'Initial commit'])
    const touchingX = await octokit.rest.repos.listCommits({ ...r, sha: 'env/prod', path: 'apps/x.yaml' })
    expect(touchingX.data.map(c => c.commit.message)).toEqual(['x two', 'x one', 'Initial commit'])
    expect(touchingX.data[1]!.sha).toBe(first)

    const pages = await octokit.paginate(octokit.rest.repos.listCommits, {
      ...r,
      sha: 'env/prod',
      per_page: 2
    })
    expect(pages.map(c => c.commit.message)).toEqual(['x two', 'other', 'x one', 'Initial commit'])
    expect(
      gh.calls.filter(call => call.operation === 'repos/list-commits' && call.path.includes('per_page=2'))
    ).toHaveLength(2)

    const compared = (
      await octokit.rest.repos.compareCommitsWithBasehead({ ...r, basehead: 'main...env/prod' })
    ).data
    expect(compared).toMatchObject({ status: 'ahead', ahead_by: 1, behind_by: 0, total_commits: 1 })
    expect(compared.files?.map(f => [f.filename, f.status, f.additions, f.deletions])).toEqual([
      ['apps/x.yaml', 'modified', 1, 1]
    ])
    expect(compared.files?.[0]?.patch).toBe('@@ -1 +1 @@\n-v: 1\n+v: 2')
    await gh.commit(full, { files: { 'late.txt': 'l\n' } })
    const diverged = (
      await octokit.rest.repos.compareCommitsWithBasehead({ ...r, basehead: 'main...env/prod' })
    ).data
    expect([diverged.status, diverged.ahead_by, diverged.behind_by]).toEqual(['diverged', 1, 1])

    const one = (await octokit.rest.repos.getCommit({ ...r, ref: 'env/prod' })).data
    expect(one).toMatchObject({ sha: await gh.ref(full, 'env/prod'), commit: { message: 'x two' } })
    expect(one.files?.map(f => [f.filename, f.patch])).toEqual([['apps/x.yaml', '@@ -1 +1 @@\n-v: 1\n+v: 2']])
  })
})

describe('pull requests', () => {
  async function withBranch(files: Record<string, string> = { 'apps/x.yaml': 'v: 2\n' }) {
    const { r, full } = await repo({ files: { 'apps/x.yaml': 'v: 1\n' }, collaborators: ['alice'] })
    await gh.commit(full, { branch: 'promote/prod', files })
    const token = gh.createToken({ repos: { [full]: { contents: 'write', pullRequests: 'write' } } })
    return { r, full, octokit: client(token) }
  }

  it('opens one pull per head and base, and refuses a second one as GitHub does', async () => {
    const { r, full, octokit } = await withBranch()
    const created = await octokit.rest.pulls.create({
      ...r,
      title: 'Promote',
      head: 'promote/prod',
      base: 'main',
      body: 'digest'
    })
    expect(created.status).toBe(201)
    expect(created.data).toMatchObject({
      number: 1,
      state: 'open',
      title: 'Promote',
      commits: 1,
      changed_files: 1,
      mergeable: true
    })
    expect(created.data.head).toMatchObject({
      ref: 'promote/prod',
      sha: await gh.ref(full, 'promote/prod'),
      label: 'octo:promote/prod'
    })

    const twice = await failure(
      octokit.rest.pulls.create({ ...r, title: 'Again', head: 'octo:promote/prod', base: 'main' })
    )
    expect(twice.status).toBe(422)
    expect(twice.response?.data).toMatchObject({
      message: 'Validation Failed',
      errors: [
        {
          resource: 'PullRequest',
          code: 'custom',
          message: 'A pull request already exists for octo:promote/prod.'
        }
      ]
    })
    const noBranch = await failure(
      octokit.rest.pulls.create({ ...r, title: 'x', head: 'nope', base: 'main' })
    )
    expect(noBranch.response?.data).toMatchObject({ errors: [{ field: 'head', code: 'invalid' }] })
    await gh.commit(full, { branch: 'same' })
    await gh.git(full, 'update-ref', 'refs/heads/same', 'main')
    const empty = await failure(octokit.rest.pulls.create({ ...r, title: 'x', head: 'same', base: 'main' }))
    expect(empty.response?.data).toMatchObject({ errors: [{ message: 'No commits between main and same' }] })
    expect(gh.pulls(full)).toHaveLength(1)
  })

  it('lists by head (with owner), base and state, and updates', async () => {
    const { r, full, octokit } = await withBranch()
    const { data: pull } = await octokit.rest.pulls.create({
      ...r,
      title: 'Promote',
      head: 'promote/prod',
      base: 'main'
    })
    await gh.commit(full, { branch: 'other', files: { 'o.txt': 'o\n' } })
    await octokit.rest.pulls.create({ ...r, title: 'Other', head: 'other', base: 'main' })

    const byHead = await octokit.rest.pulls.list({
      ...r,
      head: 'octo:promote/prod',
      base: 'main',
      state: 'open'
    })
    expect(byHead.data.map(p => p.number)).toEqual([pull.number])
    // GitHub ignores a head filter without the owner: both come back.
    expect((await octokit.rest.pulls.list({ ...r, head: 'promote/prod' })).data).toHaveLength(2)
    expect((await octokit.rest.pulls.list({ ...r, base: 'nope' })).data).toHaveLength(0)

    const moved = await gh.commit(full, { branch: 'promote/prod', files: { 'apps/x.yaml': 'v: 3\n' } })
    const fetched = (await octokit.rest.pulls.get({ ...r, pull_number: pull.number })).data
    expect(fetched.head.sha).toBe(moved)

    const closed = await octokit.rest.pulls.update({
      ...r,
      pull_number: pull.number,
      state: 'closed',
      title: 'Promote (superseded)'
    })
    expect(closed.data).toMatchObject({ state: 'closed', title: 'Promote (superseded)', merged: false })
    expect(closed.data.closed_at).not.toBeNull()
    expect((await octokit.rest.pulls.list({ ...r, head: 'octo:promote/prod' })).data).toHaveLength(0)
    expect(
      (await octokit.rest.pulls.list({ ...r, head: 'octo:promote/prod', state: 'closed' })).data
    ).toHaveLength(1)
    await octokit.rest.pulls.create({ ...r, title: 'Promote again', head: 'promote/prod', base: 'main' })
  })

  it('adds labels, requests reviewers and comments', async () => {
    const { r, full, octokit } = await withBranch()
    const { data: pull } = await octokit.rest.pulls.create({
      ...r,
      title: 'Promote',
      head: 'promote/prod',
      base: 'main'
    })
    const labels = await octokit.rest.issues.addLabels({
      ...r,
      issue_number: pull.number,
      labels: ['promotion', 'env/prod']
    })
    expect(labels.data.map(l => l.name)).toEqual(['promotion', 'env/prod'])
    await octokit.rest.issues.addLabels({ ...r, issue_number: pull.number, labels: ['promotion'] })
    expect(
      (await octokit.rest.pulls.get({ ...r, pull_number: pull.number })).data.labels.map(l => l.name)
    ).toEqual(['promotion', 'env/prod'])

    const requested = await octokit.rest.pulls.requestReviewers({
      ...r,
      pull_number: pull.number,
      reviewers: ['alice']
    })
    expect(requested.data.requested_reviewers?.map(u => u.login)).toEqual(['alice'])
    const stranger = await failure(
      octokit.rest.pulls.requestReviewers({ ...r, pull_number: pull.number, reviewers: ['mallory'] })
    )
    expect([stranger.status, stranger.message]).toEqual([
      422,
      expect.stringContaining('Reviews may only be requested from collaborators')
    ])

    const comment = await octokit.rest.issues.createComment({
      ...r,
      issue_number: pull.number,
      body: 'Deploys sha256:ab'
    })
    expect(comment.data).toMatchObject({
      body: 'Deploys sha256:ab',
      user: { login: 'digest-delivery[bot]', type: 'Bot' }
    })
    expect(gh.comments(full).map(c => c.body)).toEqual(['Deploys sha256:ab'])
    expect(
      (await failure(octokit.rest.issues.createComment({ ...r, issue_number: 99, body: 'x' }))).status
    ).toBe(404)
  })
})

describe('pull requests of a commit, comments, hooks', () => {
  it('lists the open pulls whose head holds a commit, and the comments of a pull', async () => {
    const { r, full } = await repo({ files: { 'apps/x.yaml': 'v: 1\n' } })
    const first = await gh.commit(full, { branch: 'promote/dev', files: { 'apps/x.yaml': 'v: 2\n' } })
    const second = await gh.commit(full, { branch: 'promote/dev', files: { 'apps/x.yaml': 'v: 3\n' } })
    const elsewhere = await gh.commit(full, { branch: 'other', files: { 'apps/y.yaml': 'w: 1\n' } })
    const octokit = client(
      gh.createToken({ repos: { [full]: { contents: 'write', pullRequests: 'write' } } })
    )
    const { data: pull } = await octokit.rest.pulls.create({
      ...r,
      title: 'P',
      head: 'promote/dev',
      base: 'main'
    })
    for (const sha of [first, second]) {
      const { data } = await octokit.rest.repos.listPullRequestsAssociatedWithCommit({
        ...r,
        commit_sha: sha
      })
      expect([sha, data.map(p => p.number)]).toEqual([sha, [pull.number]])
    }
    const none = await octokit.rest.repos.listPullRequestsAssociatedWithCommit({
      ...r,
      commit_sha: elsewhere
    })
    expect(none.data).toEqual([])
    const missing = await failure(
      octokit.rest.repos.listPullRequestsAssociatedWithCommit({ ...r, commit_sha: 'f'.repeat(40) })
    )
    expect(missing.status).toBe(422)

    await octokit.rest.issues.createComment({ ...r, issue_number: pull.number, body: 'one' })
    await octokit.rest.issues.createComment({ ...r, issue_number: pull.number, body: 'two' })
    const comments = await octokit.rest.issues.listComments({ ...r, issue_number: pull.number })
    expect(comments.data.map(c => c.body)).toEqual(['one', 'two'])

    // A login that may not be assigned is left out silently, as GitHub does.
    const assigned = await octokit.rest.issues.addAssignees({
      ...r,
      issue_number: pull.number,
      assignees: ['octo', 'mallory']
    })
    expect([assigned.status, assigned.data.assignees?.map(u => u.login)]).toEqual([201, ['octo']])
    const listed = await octokit.rest.pulls.list({ ...r, head: `octo:promote/dev` })
    expect(listed.data.map(p => p.assignees?.map(u => u.login))).toEqual([['octo']])
  })

  it('runs a hook before answering the matching request only, holding it until the hook resolves', async () => {
    const { r, full } = await repo()
    const octokit = client(gh.createToken({ repos: { [full]: { contents: 'read', pullRequests: 'read' } } }))
    let release: () => void = () => undefined
    const held = new Promise<void>(resolve => (release = resolve))
    const seen: string[] = []
    gh.hook({
      route: 'GET /repos/{owner}/{repo}/pulls',
      after: 1,
      run: async call => {
        seen.push(call.path)
        await held
      }
    })
    await octokit.rest.pulls.list({ ...r, state: 'open' })
    let answered = false
    const second = octokit.rest.pulls.list({ ...r, state: 'closed' }).then(() => (answered = true))
    // The repository answers while the pull list is held: the hook holds only its own request.
    await octokit.rest.repos.get(r)
    await new Promise(resolve => setImmediate(resolve))
    expect([seen, answered]).toEqual([[expect.stringContaining('state=closed')], false])
    release()
    await second
    await octokit.rest.pulls.list({ ...r })
    expect(seen).toHaveLength(1)
  })

  it('records back-dated statuses as a controller would post them', async () => {
    const { r, full } = await repo()
    const sha = (await gh.ref(full, 'main'))!
    gh.addStatus(full, {
      sha,
      context: 'kustomization/apps-dev/0c9c2e41',
      state: 'success',
      createdAt: '2026-01-02T03:04:05Z'
    })
    const octokit = client(gh.createToken({ repos: { [full]: { statuses: 'read' } } }))
    const { data } = await octokit.rest.repos.listCommitStatusesForRef({ ...r, ref: sha })
    expect(data.map(s => [s.context, s.state, s.created_at, s.creator?.login])).toEqual([
      ['kustomization/apps-dev/0c9c2e41', 'success', '2026-01-02T03:04:05Z', 'flux-bot']
    ])
  })
})

describe('statuses and checks', () => {
  it('creates statuses and combines the latest per context; lists check runs', async () => {
    const { r, full } = await repo()
    const octokit = client(gh.createToken({ repos: { [full]: { statuses: 'write', checks: 'read' } } }))
    const sha = (await gh.ref(full, 'main'))!
    expect((await octokit.rest.repos.getCombinedStatusForRef({ ...r, ref: 'main' })).data).toMatchObject({
      state: 'pending',
      total_count: 0
    })
    await octokit.rest.repos.createCommitStatus({ ...r, sha, state: 'pending', context: 'scan' })
    await octokit.rest.repos.createCommitStatus({
      ...r,
      sha,
      state: 'success',
      context: 'scan',
      description: 'clean'
    })
    await octokit.rest.repos.createCommitStatus({
      ...r,
      sha,
      state: 'success',
      context: 'build',
      target_url: 'https://ci.example/1'
    })
    const combined = (await octokit.rest.repos.getCombinedStatusForRef({ ...r, ref: 'main' })).data
    expect(combined).toMatchObject({ state: 'success', sha, total_count: 2 })
    expect(combined.statuses.map(s => `${s.context}=${s.state}`)).toEqual(['build=success', 'scan=success'])
    const all = (await octokit.rest.repos.listCommitStatusesForRef({ ...r, ref: sha })).data
    expect(all.map(s => `${s.context}=${s.state}`)).toEqual(['build=success', 'scan=success', 'scan=pending'])
    await octokit.rest.repos.createCommitStatus({ ...r, sha, state: 'failure', context: 'build' })
    expect((await octokit.rest.repos.getCombinedStatusForRef({ ...r, ref: 'main' })).data.state).toBe(
      'failure'
    )
    const noCommit = await failure(
      octokit.rest.repos.createCommitStatus({ ...r, sha: 'main', state: 'success' })
    )
    expect([noCommit.status, noCommit.message]).toEqual([
      422,
      expect.stringContaining('No commit found for SHA: main')
    ])

    gh.addCheckRun(full, { headSha: sha, name: 'test', conclusion: 'failure' })
    gh.addCheckRun(full, { headSha: sha, name: 'test', conclusion: 'success' })
    gh.addCheckRun(full, { headSha: sha, name: 'lint', status: 'in_progress' })
    const runs = (await octokit.rest.checks.listForRef({ ...r, ref: 'main' })).data
    expect(runs.check_runs.map(run => `${run.name}:${run.status}:${run.conclusion}`)).toEqual([
      'lint:in_progress:null',
      'test:completed:success'
    ])
    expect((await octokit.rest.checks.listForRef({ ...r, ref: sha, filter: 'all' })).data.total_count).toBe(3)
  })

  it('pages the statuses of the combined status as GitHub does: 30 by default, 100 at most, totals over all', async () => {
    const { r, full } = await repo()
    const octokit = client(gh.createToken({ repos: { [full]: { statuses: 'read' } } }))
    const sha = (await gh.ref(full, 'main'))!
    // The oldest context fails; latest first, it is the last of 130.
    gh.addStatus(full, { sha, context: 'deploy/dev', state: 'failure' })
    for (let i = 1; i < 130; i++) gh.addStatus(full, { sha, context: `lint/${i}`, state: 'success' })
    gh.addStatus(full, { sha, context: 'lint/1', state: 'success' })
    const first = await octokit.rest.repos.getCombinedStatusForRef({ ...r, ref: sha })
    expect(first.data).toMatchObject({ state: 'failure', total_count: 130 })
    expect(first.data.statuses).toHaveLength(30)
    expect(first.data.statuses[0]!.context).toBe('lint/1')
    expect(first.headers.link).toContain('rel="next"')
    const pages = await Promise.all(
      [1, 2, 3].map(page =>
        octokit.rest.repos.getCombinedStatusForRef({ ...r, ref: sha, per_page: 500, page })
      )
    )
    expect(pages.map(p => [p.data.statuses.length, p.data.total_count, p.data.state])).toEqual([
      [100, 130, 'failure'],
      [30, 130, 'failure'],
      [0, 130, 'failure']
    ])
    expect(pages[1]!.data.statuses.at(-1)!.context).toBe('deploy/dev')
    expect(new Set(pages.flatMap(p => p.data.statuses.map(s => s.context))).size).toBe(130)
  })
})

describe('permissions and settings', () => {
  it('hides private repositories from tokens without a grant and refuses missing permissions', async () => {
    const { r, full } = await repo()
    const { r: other } = await repo()
    const reader = client(gh.createToken({ repos: { [full]: { contents: 'read', pullRequests: 'read' } } }))
    expect((await failure(reader.rest.repos.get(other))).status).toBe(404)
    expect((await failure(client('ghs_not_a_token').rest.repos.get(r))).message).toContain('Bad credentials')
    const anonymous = await fetch(`${gh.apiUrl}/repos/${full}`)
    expect([anonymous.status, ((await anonymous.json()) as { message: string }).message]).toEqual([
      404,
      'Not Found'
    ])

    const write = await failure(
      reader.rest.git.createRef({ ...r, ref: 'refs/heads/x', sha: (await gh.ref(full, 'main'))! })
    )
    expect([write.status, write.message]).toEqual([
      403,
      expect.stringContaining('Resource not accessible by integration')
    ])
    const user = client(gh.createToken({ kind: 'user', repos: { [full]: { contents: 'read' } } }))
    const byUser = await failure(user.rest.pulls.create({ ...r, title: 't', head: 'main', base: 'main' }))
    expect([byUser.status, byUser.message]).toEqual([
      403,
      expect.stringContaining('Resource not accessible by personal access token')
    ])
    expect(await gh.ref(full, 'x')).toBeUndefined()
  })

  it('gives a workflow token its own repository only, and obeys the Actions pull request setting', async () => {
    const { r: own, full: ownFull } = await repo()
    const { r: gitops } = await repo()
    await gh.commit(ownFull, { branch: 'feature', files: { 'f.txt': 'f\n' } })
    const workflow = client(
      gh.createToken({ kind: 'workflow', repos: { [ownFull]: { contents: 'write', pullRequests: 'write' } } })
    )
    expect((await failure(workflow.rest.repos.get(gitops))).status).toBe(404)

    gh.setActionsCanCreatePullRequests(false, ownFull)
    const refused = await failure(
      workflow.rest.pulls.create({ ...own, title: 't', head: 'feature', base: 'main' })
    )
    expect([refused.status, refused.message]).toEqual([
      403,
      expect.stringContaining('GitHub Actions is not permitted to create or approve pull requests.')
    ])
    // An app token is not bound by the setting.
    const app = client(gh.createToken({ repos: { [ownFull]: { pullRequests: 'write' } } }))
    expect((await app.rest.pulls.create({ ...own, title: 't', head: 'feature', base: 'main' })).status).toBe(
      201
    )
    gh.setActionsCanCreatePullRequests(true, ownFull)
  })

  it('refuses API updates of a protected branch', async () => {
    const { r, full } = await repo()
    await gh.protectBranch(full, 'main')
    const next = await gh.commit(full, { branch: 'next', files: { 'n.txt': 'n\n' } })
    const octokit = client(gh.createToken({ repos: { [full]: { contents: 'write' } } }))
    const refused = await failure(octokit.rest.git.updateRef({ ...r, ref: 'heads/main', sha: next }))
    expect([refused.status, refused.message]).toEqual([
      422,
      expect.stringContaining('Protected branch update failed for refs/heads/main.')
    ])
    expect(await gh.ref(full, 'main')).not.toBe(next)
  })
})

describe('faults', () => {
  it('fails a route with a scripted 502 the given number of times, after letting some through', async () => {
    const { r, full } = await repo()
    const octokit = client(gh.createToken({ repos: { [full]: { contents: 'read' } } }))
    gh.fault({ route: 'GET /repos/{owner}/{repo}', status: 502, times: 2, after: 1 })
    expect((await octokit.rest.repos.get(r)).status).toBe(200)
    expect((await failure(octokit.rest.repos.get(r))).status).toBe(502)
    expect((await failure(octokit.rest.repos.get(r))).status).toBe(502)
    expect((await octokit.rest.repos.get(r)).status).toBe(200)
    const mine = gh.calls.filter(call => call.repo === full)
    expect(mine.map(call => [call.status, call.fault])).toEqual([
      [200, undefined],
      [502, 'status 502'],
      [502, 'status 502'],
      [200, undefined]
    ])
  })

  it('answers a secondary rate limit with retry-after, and eventual consistency with 422', async () => {
    const { r, full } = await repo()
    const octokit = client(
      gh.createToken({ repos: { [full]: { contents: 'write', pullRequests: 'write' } } })
    )
    gh.fault({ route: 'POST /repos/{owner}/{repo}/pulls', kind: 'secondary-rate-limit', retryAfter: 7 })
    const limited = await failure(octokit.rest.pulls.create({ ...r, title: 't', head: 'main', base: 'main' }))
    expect(limited.status).toBe(403)
    expect(limited.message).toMatch(/secondary rate limit/)
    expect(limited.response?.headers['retry-after']).toBe('7')

    gh.fault({ route: 'GET /repos/{owner}/{repo}/git/ref/{ref}', kind: 'eventual-consistency' })
    const early = await failure(octokit.rest.git.getRef({ ...r, ref: 'heads/main' }))
    expect(early.status).toBe(422)
    expect((await octokit.rest.git.getRef({ ...r, ref: 'heads/main' })).status).toBe(200)
    expect(gh.pulls(full)).toHaveLength(0)
  })

  it('delays and drops connections', async () => {
    const { r, full } = await repo()
    const octokit = client(gh.createToken({ repos: { [full]: { contents: 'read' } } }))
    gh.fault({ route: 'GET /repos/{owner}/{repo}', kind: 'delay', ms: 300 })
    const started = Date.now()
    expect((await octokit.rest.repos.get(r)).status).toBe(200)
    expect(Date.now() - started).toBeGreaterThanOrEqual(290)

    gh.fault({ route: 'GET /repos/{owner}/{repo}', kind: 'drop' })
    const dropped = await octokit.rest.repos.get(r).then(
      () => 'answered',
      (error: Error) => error.message
    )
    expect(dropped).not.toBe('answered')
    expect(gh.calls.at(-1)).toMatchObject({ fault: 'drop', status: 0 })
    expect((await octokit.rest.repos.get(r)).status).toBe(200)
  })
})

describe('the call log', () => {
  it('records method, route, status and token name, and tells writes from reads', async () => {
    const { r, full } = await repo()
    const token = gh.createToken({ name: 'bump-token', repos: { [full]: { contents: 'write' } } })
    const octokit = client(token)
    const before = gh.calls.length
    await octokit.rest.repos.get(r)
    const sha = (await octokit.rest.git.getRef({ ...r, ref: 'heads/main' })).data.object.sha
    await octokit.rest.git.createRef({ ...r, ref: 'refs/heads/x', sha })
    const calls = gh.calls.slice(before)
    expect(calls.map(c => [c.method, c.route, c.status, c.token, c.write])).toEqual([
      ['GET', 'GET /repos/{owner}/{repo}', 200, 'bump-token', false],
      ['GET', 'GET /repos/{owner}/{repo}/git/ref/{ref}', 200, 'bump-token', false],
      ['POST', 'POST /repos/{owner}/{repo}/git/refs', 201, 'bump-token', true]
    ])
    expect(JSON.stringify(gh.calls)).not.toContain(token)
  })
})

describe('the contract', () => {
  it('catches a misspelt body field, naming the operation and the schema error', async () => {
    const { r, full } = await repo()
    await gh.commit(full, { branch: 'feature', files: { 'f.txt': 'f\n' } })
    const octokit = client(gh.createToken({ repos: { [full]: { pullRequests: 'write' } } }))
    const answer = await failure(
      octokit.request('POST /repos/{owner}/{repo}/pulls', {
        ...r,
        title: 't',
        head: 'feature',
        base: 'main',
        draft_: true
      })
    )
    expect(answer.status).toBe(422)
    expect(answer.message).toContain('pulls/create')
    expect(answer.message).toContain("body must NOT have additional properties: 'draft_'")
    const [violation, ...rest] = gh.takeViolations()
    expect(rest).toEqual([])
    expect(violation).toMatchObject({
      kind: 'request',
      operation: 'pulls/create',
      route: 'POST /repos/{owner}/{repo}/pulls'
    })
    expect(gh.pulls(full)).toHaveLength(0)
  })

  it('catches a missing required field, a wrong type and an unknown query parameter', async () => {
    const { r, full } = await repo()
    const octokit = client(
      gh.createToken({ repos: { [full]: { pullRequests: 'write', contents: 'write' } } })
    )
    // Deliberately outside Octokit's types, as a careless caller would be.
    await failure(
      octokit.request('POST /repos/{owner}/{repo}/pulls', { ...r, title: 't', base: 'main' } as never)
    )
    await failure(
      octokit.request('PATCH /repos/{owner}/{repo}/git/refs/{ref}', {
        ...r,
        ref: 'heads/main',
        sha: 'abc',
        force: 'yes'
      } as never)
    )
    await failure(octokit.request('GET /repos/{owner}/{repo}/pulls', { ...r, per_page: 'many' } as never))
    await failure(octokit.request('GET /repos/{owner}/{repo}/pulls', { ...r, heads: 'octo:x' }))
    const messages = gh.takeViolations().map(v => `${v.operation}: ${v.message}`)
    expect(messages).toEqual([
      expect.stringMatching(/^pulls\/create: .*body must have required property 'head'/),
      expect.stringMatching(/^git\/update-ref: .*body\/force must be boolean/),
      expect.stringMatching(/^pulls\/list: .*query.per_page must be integer/),
      expect.stringMatching(/^pulls\/list: .*query parameter 'heads' is not in the description/)
    ])
  })

  it('catches a request outside the description, and one it describes but the local GitHub does not implement', async () => {
    const { r, full } = await repo()
    const octokit = client(gh.createToken({ repos: { [full]: { contents: 'write' } } }))
    expect((await failure(octokit.request('GET /repos/{owner}/{repo}/no-such-thing', r))).status).toBe(404)
    expect((await failure(octokit.rest.repos.listBranches(r))).status).toBe(501)
    expect(gh.takeViolations().map(v => [v.kind, v.operation ?? v.route])).toEqual([
      ['request', `GET /api/v3/repos/${full}/no-such-thing`],
      ['unsupported', 'repos/list-branches']
    ])
  })
})

// Runs last: it reads the call log every test above left behind.
describe('coverage of the contract', () => {
  it('has answered every implemented operation with a success that was checked against its schema', () => {
    const answered = new Set(
      gh.calls.filter(call => call.status >= 200 && call.status < 300).map(call => call.operation)
    )
    expect(Object.keys(OPERATIONS).filter(id => !answered.has(id))).toEqual([])
  })
})
