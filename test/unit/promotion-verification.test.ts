import { describe, expect, it } from '@jest/globals'
import {
  cleanPath,
  globMatches,
  hasImageTrailer,
  MAX_COMMITS_CHECKED,
  MAX_PIN_READS,
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

const OTHER = `sha256:${'e'.repeat(64)}`

/** A commit of base, newest first: whether it touches from-paths, and what they pin once it is made. */
interface BaseCommit {
  sha: string
  message: string
  touches: boolean
  pins?: string
}

/**
 * base as `commits` say (newest first), listed from the tip the pins were read at; records the statuses asked for
 * and the commits whose parent was read.
 */
function fakeBase(commits: BaseCommit[], statuses: Record<string, CommitStatus[]>) {
  const history = commits.map(c => commit(c.sha, c.message))
  const asked: string[] = []
  const readBefore: string[] = []
  const readAt: string[] = []
  const tips: string[] = []
  const parts: Pick<UpstreamRequest, 'api' | 'history'> = {
    api: {
      listCommits: async (_repo, ref, options) => {
        tips.push(ref)
        return (options?.path ? history.filter((_c, i) => commits[i]!.touches) : history).slice(
          0,
          options?.max ?? 100
        )
      },
      statuses: async (_repo, sha) => {
        asked.push(sha.slice(0, 2))
        return statuses[sha.slice(0, 2)] ?? []
      }
    },
    history: {
      tip: history[0]!.sha,
      pinnedBefore: async (sha, index) => {
        expect(history[index]!.sha).toBe(sha)
        readBefore.push(sha.slice(0, 2))
        const parent = commits[index + 1]
        return parent?.pins ? [parent.pins] : undefined
      },
      pinnedAt: async (sha, index) => {
        expect(history[index]!.sha).toBe(sha)
        readAt.push(sha.slice(0, 2))
        const at = commits[index]
        return at?.pins ? [at.pins] : undefined
      }
    }
  }
  return { parts, asked, readBefore, readAt, tips }
}

/** base: c3 (docs) → c2 (pins the digest, with our trailer) → c1 (older pin, touching dev too). */
function request(statuses: Record<string, CommitStatus[]>, extra: Partial<UpstreamRequest> = {}) {
  const { parts, asked } = fakeBase(
    [
      { sha: 'c3', message: 'Docs\n', touches: false, pins: DIGEST },
      { sha: 'c2', message: `Pin web\n\nImage: ghcr.io/octo/web@${DIGEST}\n`, touches: true, pins: DIGEST },
      { sha: 'c1', message: 'Older pin\n', touches: true, pins: OTHER }
    ],
    statuses
  )
  const req: UpstreamRequest = {
    ...parts,
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
    const other = OTHER
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

  it('finds the pinning commit without a trailer in the history of from-paths, past a later change that kept the digest', async () => {
    // c4 docs, c3 scales dev (touches from-paths, same digest), c2 pins the digest by hand, c1 an older pin.
    const base = (statuses: Record<string, CommitStatus[]>) =>
      fakeBase(
        [
          { sha: 'c4', message: 'Docs\n', touches: false, pins: DIGEST },
          { sha: 'c3', message: 'Scale dev to 3 replicas\n', touches: true, pins: DIGEST },
          { sha: 'c2', message: 'Pin web by hand\n', touches: true, pins: DIGEST },
          { sha: 'c1', message: 'Older pin\n', touches: true, pins: OTHER }
        ],
        statuses
      )
    const green = base({ c2: [status('kustomization/apps-dev/0c9c2e41', 'success')] })
    const result = await verifyUpstream({ ...request({}).req, ...green.parts })
    expect(result).toMatchObject({
      verified: true,
      commit: 'c2'.padEnd(40, '0'),
      pinnedBy: 'c2'.padEnd(40, '0')
    })
    expect(green.asked).toEqual(['c4', 'c3', 'c2'])
    expect(green.readBefore).toEqual(['c3', 'c2'])
    // Listed from the commit the pins were read at, not from the branch, which may have moved since.
    expect(new Set(green.tips)).toEqual(new Set(['c4'.padEnd(40, '0')]))
    // Before c2 dev ran another digest: a success there says nothing about this one.
    const before = base({ c1: [status('kustomization/apps-dev/0c9c2e41', 'success')] })
    expect((await verifyUpstream({ ...request({}).req, ...before.parts })).verified).toBe(false)
    expect(before.asked).toEqual(['c4', 'c3', 'c2'])
  })

  it('counts only the latest run of the digest: a pin changed away and back starts again', async () => {
    // c6 docs, c5 pins the digest again by hand, c4 pins another digest, c3 docs, c2 pins the digest, c1 older.
    const base = (statuses: Record<string, CommitStatus[]>, trailerOnC5 = false) =>
      fakeBase(
        [
          { sha: 'c6', message: 'Docs\n', touches: false, pins: DIGEST },
          {
            sha: 'c5',
            message: trailerOnC5 ? `Pin web\n\nImage: ghcr.io/octo/web@${DIGEST}\n` : 'Back by hand\n',
            touches: true,
            pins: DIGEST
          },
          { sha: 'c4', message: `Pin web\n\nImage: ghcr.io/octo/web@${OTHER}\n`, touches: true, pins: OTHER },
          { sha: 'c3', message: 'Docs\n', touches: false, pins: DIGEST },
          {
            sha: 'c2',
            message: `Pin web\n\nImage: ghcr.io/octo/web@${DIGEST}\n`,
            touches: true,
            pins: DIGEST
          },
          { sha: 'c1', message: 'Older pin\n', touches: true, pins: OTHER }
        ],
        statuses
      )
    for (const trailer of [false, true]) {
      // c3 ran the digest, but before dev left it: the run that counts began at c5.
      for (const sha of ['c4', 'c3', 'c2']) {
        const earlier = base({ [sha]: [status('kustomization/apps-dev/0c9c2e41', 'success')] }, trailer)
        const result = await verifyUpstream({ ...request({}).req, ...earlier.parts })
        expect(result).toMatchObject({ verified: false, pinnedBy: 'c5'.padEnd(40, '0') })
        expect(earlier.asked).toEqual(['c6', 'c5'])
        expect(earlier.readBefore).toEqual(trailer ? [] : ['c5'])
      }
      const latest = base({ c5: [status('kustomization/apps-dev/0c9c2e41', 'success')] }, trailer)
      expect(await verifyUpstream({ ...request({}).req, ...latest.parts })).toMatchObject({
        verified: true,
        commit: 'c5'.padEnd(40, '0'),
        pinnedBy: 'c5'.padEnd(40, '0')
      })
    }
  })

  it('takes the oldest change known to pin the digest where the history cannot tell, and reads it at most MAX_PIN_READS times', async () => {
    // c3 scales dev; what dev pinned before it cannot be read (history not fetched, a file the engine refuses).
    const unreadable = fakeBase(
      [
        { sha: 'c3', message: 'Scale dev\n', touches: true, pins: DIGEST },
        { sha: 'c2', message: 'Pin by hand\n', touches: true },
        { sha: 'c1', message: 'Older\n', touches: true, pins: DIGEST }
      ],
      { c2: [status('kustomization/apps-dev/0c9c2e41', 'success')] }
    )
    const result = await verifyUpstream({ ...request({}).req, ...unreadable.parts })
    expect(result).toMatchObject({ verified: false, pinnedBy: 'c3'.padEnd(40, '0') })
    expect(unreadable.asked).toEqual(['c3'])
    // Forty changes that all kept the digest: the walk stops after MAX_PIN_READS reads.
    const long = fakeBase(
      Array.from({ length: 40 }, (_v, i) => ({
        sha: `${String(i).padStart(2, '0')}`,
        message: 'Tweak dev\n',
        touches: true,
        pins: DIGEST
      })),
      {}
    )
    const bounded = await verifyUpstream({ ...request({}).req, ...long.parts })
    expect(long.readBefore).toHaveLength(MAX_PIN_READS)
    expect(bounded.pinnedBy).toBe(String(MAX_PIN_READS).padStart(2, '0').padEnd(40, '0'))
    expect(long.asked).toHaveLength(MAX_COMMITS_CHECKED)
  })

  it('reads each commit whole when the pin is inherited from a base outside from-paths, never trusting one that ran another digest', async () => {
    // c5 docs; c4 moves the shared base (outside from-paths) from OTHER to the digest; c3 ran OTHER; c2 changes dev,
    // whose parent cannot be read (c1 pins nothing readable). Only c5 and c4 ran the digest.
    const base = (statuses: Record<string, CommitStatus[]>) =>
      fakeBase(
        [
          { sha: 'c5', message: 'Docs\n', touches: false, pins: DIGEST },
          { sha: 'c4', message: 'Roll the dev base forward\n', touches: false, pins: DIGEST },
          { sha: 'c3', message: 'Docs\n', touches: false, pins: OTHER },
          { sha: 'c2', message: 'Scale dev\n', touches: true, pins: OTHER },
          { sha: 'c1', message: 'Create dev\n', touches: true }
        ],
        statuses
      )
    const inherited = {
      pinFiles: ['apps/web/overlays/dev/kustomization.yaml', 'shared/dev-base/deploy.yaml']
    }
    const other = base({ c3: [status('kustomization/apps-dev/0c9c2e41', 'success')] })
    const refused = await verifyUpstream({ ...request({}, inherited).req, ...other.parts })
    expect(refused).toMatchObject({ verified: false, pinnedBy: 'c4'.padEnd(40, '0') })
    expect(other.asked).toEqual(['c5', 'c4'])
    expect(other.readAt).toEqual(['c4', 'c3'])

    const green = base({ c4: [status('kustomization/apps-dev/0c9c2e41', 'success')] })
    expect(await verifyUpstream({ ...request({}, inherited).req, ...green.parts })).toMatchObject({
      verified: true,
      commit: 'c4'.padEnd(40, '0')
    })
    // Files under from-paths only: their history is enough, and no commit is read whole.
    const inside = base({ c4: [status('kustomization/apps-dev/0c9c2e41', 'success')] })
    const own = { pinFiles: ['apps/web/overlays/dev/kustomization.yaml'] }
    await verifyUpstream({ ...request({}, own).req, ...inside.parts })
    expect(inside.readAt).toEqual([])
  })

  it('reads at most MAX_COMMITS_CHECKED commits whole for an inherited pin, past a trailer naming the digest', async () => {
    const long = fakeBase(
      Array.from({ length: 40 }, (_v, i) => ({
        sha: `${String(i).padStart(2, '0')}`,
        message: i === 4 ? `Pin web\n\nImage: ghcr.io/octo/web@${DIGEST}\n` : 'Docs\n',
        touches: false,
        pins: DIGEST
      })),
      {}
    )
    const inherited = { pinFiles: ['shared/dev-base/deploy.yaml'] }
    // The trailer may be another environment's promotion merged into base: the run of the digest began earlier.
    const trailer = await verifyUpstream({ ...request({}, inherited).req, ...long.parts })
    expect(trailer.pinnedBy).toBe('09'.padEnd(40, '0'))
    expect(long.readAt).toEqual(['01', '02', '03', '04', '05', '06', '07', '08', '09'])
    const plain = fakeBase(
      Array.from({ length: 40 }, (_v, i) => ({
        sha: `${String(i).padStart(2, '0')}`,
        message: 'Docs\n',
        touches: false,
        pins: DIGEST
      })),
      {}
    )
    await verifyUpstream({ ...request({}, inherited).req, ...plain.parts })
    expect(plain.readAt).toHaveLength(MAX_COMMITS_CHECKED - 1)
    expect(plain.asked).toHaveLength(MAX_COMMITS_CHECKED)
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
