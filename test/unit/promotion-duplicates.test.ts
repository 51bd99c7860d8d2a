import { describe, expect, it } from '@jest/globals'
import { forImage, readInputs } from '../../src/actions/open-promotion-pr/inputs.js'
import type { Collaborators } from '../../src/actions/open-promotion-pr/main.js'
import type { Context } from '../../src/actions/open-promotion-pr/promotion.js'
import { closeDuplicates, unchanged } from '../../src/actions/open-promotion-pr/pull-request.js'
import {
  readStateBlock,
  renderStateBlock,
  type PromotionState
} from '../../src/actions/open-promotion-pr/state-block.js'
import type { GitHubApi, PullRequest, PullRequestApi } from '../../src/lib/github/index.js'
import { mapInputs } from '../../src/lib/inputs.js'

// GitHub (and the local GitHub) refuse a second open pull request for one head and base, so duplicates, which other
// tools or people leave in odd cases, are seeded here through a fake PullRequestApi.
const DIGEST = `sha256:${'a'.repeat(64)}`
const state: PromotionState = {
  v: 1,
  environment: 'staging',
  image: 'ghcr.io/octo/web',
  to: { digest: DIGEST },
  files: [],
  verification: { required: [], verified: true, statuses: [], minSoakMs: 0 },
  proposedAt: '2026-12-01T00:00:00Z'
}
const pull = (number: number, body: string): PullRequest => ({
  number,
  nodeId: `PR_${number}`,
  url: `https://github.com/octo/gitops/pull/${number}`,
  title: 't',
  body,
  headSha: 'h'.repeat(40),
  draft: false,
  autoMerge: false,
  createdAt: `2026-12-0${number}T00:00:00Z`
})

/** A context whose API records every write and refuses any other call. */
function contextWith(inputs: Record<string, string> = {}): { context: Context; writes: string[] } {
  const writes: string[] = []
  const unexpected = async (): Promise<never> => {
    throw new Error('not expected in this test')
  }
  const api: PullRequestApi = {
    defaultBranch: unexpected,
    listOpenPulls: unexpected,
    createPull: unexpected,
    mergeable: unexpected,
    updatePull: async (_repo, number, change) =>
      void writes.push(`update #${number} ${JSON.stringify(change)}`),
    comment: async (_repo, number, body) => void writes.push(`comment #${number} ${body}`),
    addLabels: unexpected,
    addAssignees: unexpected,
    requestReviewers: unexpected,
    enableAutoMerge: unexpected,
    markReady: unexpected,
    readPull: unexpected,
    convertToDraft: unexpected,
    disableAutoMerge: unexpected,
    deleteBranch: unexpected,
    compare: unexpected,
    listCommits: unexpected,
    statuses: unexpected
  }
  const commitApi: GitHubApi = {
    createBranch: unexpected,
    createCommitOnBranch: unexpected,
    branchHead: unexpected,
    updateBranches: unexpected
  }
  const read = readInputs(
    mapInputs({
      environment: 'staging',
      repository: 'octo/gitops',
      token: 't',
      'image-ref': `ghcr.io/octo/web@${DIGEST}`,
      ...inputs
    }),
    {}
  )
  const context: Context = {
    deps: {} as Collaborators,
    inputs: forImage(read, read.images[0]!),
    repo: { owner: 'octo', repo: 'gitops' },
    api,
    commitApi,
    base: 'main',
    serverUrl: 'https://github.com'
  }
  return { context, writes }
}

describe('duplicate promotion pull requests', () => {
  it('keeps the oldest and closes the others with a comment naming it', async () => {
    const { context, writes } = contextWith()
    const kept = pull(3, `ours\n\n${renderStateBlock(state)}`)
    const closed = await closeDuplicates(context, kept, [
      pull(5, 'made by hand'),
      pull(7, 'made by an older tool')
    ])
    expect(closed).toBe(2)
    expect(unchanged(kept, DIGEST, readStateBlock(kept.body)!, closed)).toMatchObject({
      operation: 'unchanged',
      pull: { number: 3, url: kept.url },
      to: DIGEST
    })
    expect(writes).toEqual([
      'comment #5 Closing as a duplicate of #3, the promotion pull request for staging and `ghcr.io/octo/web`.',
      'update #5 {"state":"closed"}',
      'comment #7 Closing as a duplicate of #3, the promotion pull request for staging and `ghcr.io/octo/web`.',
      'update #7 {"state":"closed"}'
    ])
  })

  it('leaves them open with close-superseded: false', async () => {
    const { context, writes } = contextWith({ 'close-superseded': 'false' })
    const kept = pull(3, renderStateBlock(state))
    expect(await closeDuplicates(context, kept, [pull(5, 'by hand')])).toBe(0)
    expect(writes).toEqual([])
  })
})
