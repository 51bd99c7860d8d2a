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
