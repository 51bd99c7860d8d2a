import { describe, expect, it } from '@jest/globals'
import { openPromotionPr, type Collaborators } from '../../src/actions/open-promotion-pr/main.js'
import { renderStateBlock, type PromotionState } from '../../src/actions/open-promotion-pr/state-block.js'
import { createCommandRunner } from '../../src/lib/exec.js'
import type { GitHubApi, PullRequest, PullRequestApi } from '../../src/lib/github/index.js'
import { mapInputs } from '../../src/lib/inputs.js'

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

/** Pull requests made by hand or by older tools beside ours: GitHub lists them oldest first. */
function run(pulls: PullRequest[], inputs: Record<string, string> = {}) {
  const writes: string[] = []
  const outputs: Record<string, string> = {}
  const unexpected = async () => {
    throw new Error('not expected in this test')
  }
  const api: PullRequestApi = {
    defaultBranch: async () => 'main',
    listOpenPulls: async () => pulls,
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
  const deps: Collaborators = {
    inputs: mapInputs({
      environment: 'staging',
      repository: 'octo/gitops',
      token: 't',
      'image-ref': `ghcr.io/octo/web@${DIGEST}`,
      ...inputs
    }),
    env: {},
    runner: createCommandRunner(),
    github: () => ({ pulls: api, commits: {} as GitHubApi }),
    registry: () => {
      throw new Error('a re-run with nothing new reads no registry')
    },
    setOutput: (name, value) => void (outputs[name] = value),
    writeSummary: async () => undefined,
    now: () => new Date('2026-12-04T00:00:00Z')
  }
  return openPromotionPr(deps).then(() => ({ writes, outputs }))
}

describe('duplicate promotion pull requests', () => {
  it('keeps the oldest and closes the others with a comment naming it', async () => {
    const { writes, outputs } = await run([
      pull(3, `ours\n\n${renderStateBlock(state)}`),
      pull(5, 'made by hand'),
      pull(7, 'made by an older tool')
    ])
    expect(outputs).toMatchObject({ operation: 'unchanged', 'pull-request-number': '3' })
    expect(writes).toEqual([
      'comment #5 Closing as a duplicate of #3, the promotion pull request for staging and `ghcr.io/octo/web`.',
      'update #5 {"state":"closed"}',
      'comment #7 Closing as a duplicate of #3, the promotion pull request for staging and `ghcr.io/octo/web`.',
      'update #7 {"state":"closed"}'
    ])
  })

  it('leaves them open with close-superseded: false', async () => {
    const { writes } = await run([pull(3, renderStateBlock(state)), pull(5, 'by hand')], {
      'close-superseded': 'false'
    })
    expect(writes).toEqual([])
  })
})
