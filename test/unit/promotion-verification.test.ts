import { describe, expect, it } from '@jest/globals'
import {
  cleanPath,
  globMatches,
  hasImageTrailer,
  verifyUpstream,
  type UpstreamRequest
} from '../../src/actions/open-promotion-pr/verification.js'
import type { CommitStatus, CommitSummary } from '../../src/lib/github/index.js'

const DIGEST = `sha256:${'d'.repeat(64)}`
const NOW = new Date('2026-12-04T12:00:00Z')
const commit = (sha: string, message: string): CommitSummary => ({
  sha: sha.padEnd(40, '0'),
  message,
  date: '',
  author: '',
  url: ''
})

/** base: c3 (docs) → c2 (pins the digest, with our trailer) → c1 (older pin, touching dev too). */
function request(statuses: Record<string, CommitStatus[]>, extra: Partial<UpstreamRequest> = {}) {
  const history = [
    commit('c3', 'Docs\n'),
    commit('c2', `Pin web\n\nImage: ghcr.io/octo/web@${DIGEST}\n`),
    commit('c1', 'Older pin\n')
  ]
  const asked: string[] = []
  const req: UpstreamRequest = {
    api: {
      listCommits: async (_repo, _ref, options) =>
        options?.path ? history.filter(c => c.sha !== history[0]!.sha) : history,
      statuses: async (_repo, sha) => {
        asked.push(sha.slice(0, 2))
        return statuses[sha.slice(0, 2)] ?? []
      }
    },
    repo: { owner: 'octo', repo: 'gitops' },
    base: 'main',
    fromPaths: ['apps/web/overlays/dev'],
    image: 'ghcr.io/octo/web',
    aliases: [],
    digest: DIGEST,
    pinned: DIGEST,
    required: ['kustomization/apps-dev/*'],
    minSoakMs: 0,
    now: NOW,
    ...extra
  }
  return { req, asked }
}
const status = (context: string, state: string, at = '2026-12-04T09:00:00Z'): CommitStatus => ({
  context,
  state,
  at,
  kind: 'status'
})

describe('upstream verification', () => {
  it('finds the pinning commit by its trailer and accepts a success on a later commit', async () => {
    const { req, asked } = request({ c3: [status('kustomization/apps-dev/0c9c2e41', 'success')] })
    const result = await verifyUpstream(req)
    expect(result).toMatchObject({
      verified: true,
      commit: 'c3'.padEnd(40, '0'),
      pinnedBy: 'c2'.padEnd(40, '0')
    })
    expect(asked).toEqual(['c3'])
  })

  it('does not look before the pinning commit: a success there was for another digest', async () => {
    const { req, asked } = request({ c1: [status('kustomization/apps-dev/0c9c2e41', 'success')] })
    const result = await verifyUpstream(req)
    expect(result.verified).toBe(false)
    expect(asked).toEqual(['c3', 'c2'])
    expect(result.reason).toBe("no status or check matches 'kustomization/apps-dev/*'")
  })

  it('refuses a red context, and a green one younger than min-soak', async () => {
    const red = await verifyUpstream(
      request({ c2: [status('kustomization/apps-dev/0c9c2e41', 'failure')] }).req
    )
    expect(red).toMatchObject({
      verified: false,
      reason: "'kustomization/apps-dev/*': kustomization/apps-dev/0c9c2e41 is failure"
    })
    const fresh = await verifyUpstream(
      request(
        { c2: [status('kustomization/apps-dev/0c9c2e41', 'success', '2026-12-04T11:30:00Z')] },
        { minSoakMs: 3_600_000 }
      ).req
    )
    expect(fresh.reason).toBe("'kustomization/apps-dev/*': green for 30m, less than min-soak 1h")
    const soaked = await verifyUpstream(
      request(
        { c2: [status('kustomization/apps-dev/0c9c2e41', 'success', '2026-12-04T10:30:00Z')] },
        { minSoakMs: 3_600_000 }
      ).req
    )
    expect(soaked.verified).toBe(true)
  })

  it('needs every required pattern green on one commit', async () => {
    const { req } = request(
      {
        c3: [status('continuous-delivery/web-dev', 'success')],
        c2: [status('kustomization/apps-dev/0c9c2e41', 'success')]
      },
      { required: ['kustomization/apps-dev/*', 'continuous-delivery/web-dev'] }
    )
    expect((await verifyUpstream(req)).verified).toBe(false)
  })

  it('refuses a digest from-paths do not pin now, whatever succeeded on base', async () => {
    const other = `sha256:${'e'.repeat(64)}`
    const green = { c3: [status('kustomization/apps-dev/0c9c2e41', 'success')] }
    // image-ref names a digest dev never ran: the pinning commit of another digest must not vouch for it.
    const never = request(green, { digest: other, pinned: DIGEST })
    const result = await verifyUpstream(never.req)
    expect(result).toMatchObject({ verified: false, statuses: [] })
    expect(result.reason).toBe(
      `apps/web/overlays/dev on main pin ${DIGEST}, not this digest: the upstream environment does not run it, so ` +
        'its statuses say nothing about it'
    )
    expect(never.asked).toEqual([])
    // Dev ran it once (c2 has its trailer), but pins nothing now.
    const gone = request(green, { pinned: undefined })
    expect((await verifyUpstream(gone.req)).reason).toMatch(/pin no digest of the image, not this digest/)
  })

  it('counts only commits while the digest was pinned: from its pinning commit to the next change, and since the last', async () => {
    const other = `sha256:${'e'.repeat(64)}`
    // c6 docs, c5 pins the digest again by hand, c4 pins another digest, c3 docs, c2 pins the digest, c1 older.
    const history = [
      commit('c6', 'Docs\n'),
      commit('c5', 'Back to the release by hand\n'),
      commit('c4', `Pin web\n\nImage: ghcr.io/octo/web@${other}\n`),
      commit('c3', 'Docs\n'),
      commit('c2', `Pin web\n\nImage: ghcr.io/octo/web@${DIGEST}\n`),
      commit('c1', 'Older pin\n')
    ]
    const touching = new Set(['c5', 'c4', 'c2', 'c1'].map(sha => sha.padEnd(40, '0')))
    const run = async (statuses: Record<string, CommitStatus[]>) => {
      const asked: string[] = []
      const result = await verifyUpstream({
        ...request({}).req,
        api: {
          listCommits: async (_repo, _ref, options) =>
            options?.path ? history.filter(c => touching.has(c.sha)) : history,
          statuses: async (_repo, sha) => {
            asked.push(sha.slice(0, 2))
            return statuses[sha.slice(0, 2)] ?? []
          }
        }
      })
      return { result, asked }
    }
    // c4 ran the other digest: its success says nothing about this one.
    const during = await run({ c4: [status('kustomization/apps-dev/0c9c2e41', 'success')] })
    expect(during.result.verified).toBe(false)
    expect(during.asked).toEqual(['c6', 'c5', 'c3', 'c2'])
    // A success while it was pinned, before or after the other digest, counts.
    for (const sha of ['c3', 'c5']) {
      const pinned = await run({ [sha]: [status('kustomization/apps-dev/0c9c2e41', 'success')] })
      expect(pinned.result).toMatchObject({
        verified: true,
        commit: sha.padEnd(40, '0'),
        pinnedBy: 'c2'.padEnd(40, '0')
      })
    }
  })

  it('is verified without asking when nothing is required', async () => {
    const { req, asked } = request({}, { required: [] })
    expect((await verifyUpstream(req)).verified).toBe(true)
    expect(asked).toEqual([])
  })
})

describe('verification helpers', () => {
  it.each([
    ['kustomization/apps-dev/*', 'kustomization/apps-dev/0c9c2e41', true],
    ['kustomization/apps-dev/*', 'Kustomization/Apps-Dev/0C9C2E41', true],
    ['kustomization/apps-dev/*', 'kustomization/apps-prod/0c9c2e41', false],
    ['continuous-delivery/web-dev', 'continuous-delivery/web-dev', true],
    ['continuous-delivery/web-dev', 'continuous-delivery/web-dev2', false],
    ['a.b', 'axb', false],
    ['*/healthy', 'promoter/dev/healthy', true]
  ])('glob %s on %s is %s', (pattern, context, expected) =>
    expect(globMatches(pattern, context)).toBe(expected)
  )

  it('reads the Image trailer for one of the image names', () => {
    const message = `Pin\n\nImage: ghcr.io/octo/web@${DIGEST}\nSource-Commit: abc\n`
    expect(hasImageTrailer(message, ['ghcr.io/octo/web'], DIGEST)).toBe(true)
    expect(hasImageTrailer(message, ['ghcr.io/octo/api'], DIGEST)).toBe(false)
    expect(hasImageTrailer(message, ['ghcr.io/octo/web'], `sha256:${'e'.repeat(64)}`)).toBe(false)
  })

  it.each([
    ['apps/web/overlays/dev', 'apps/web/overlays/dev'],
    ['apps/web/overlays/dev/', 'apps/web/overlays/dev'],
    ['./apps/*/overlays/dev', 'apps'],
    ['apps/web/overlays/dev/*.yaml', 'apps/web/overlays/dev'],
    ['*.yaml', '']
  ])('filters commits of %s on %j', (path, expected) => expect(cleanPath(path)).toBe(expected))
})
