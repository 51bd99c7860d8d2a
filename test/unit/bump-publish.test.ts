import { describe, expect, it } from '@jest/globals'
import { publish, type PublishRequest } from '../../src/actions/bump-manifest/publish.js'
import { ContentionBackoff } from '../../src/lib/backoff.js'
import { ExternalError } from '../../src/lib/errors.js'
import type { GitCommandManager, PushResult } from '../../src/lib/git/index.js'

/**
 * A branch other runs keep landing on: each fetch sees the head that `heads` gives for that attempt, each push is
 * answered by `pushes`. Time passes only by the waits publish asks for, plus `attemptMs` per attempt.
 */
function contended(options: {
  heads: (attempt: number) => string
  pushes: (attempt: number) => PushResult
  attemptMs?: number
  /** What counting the commits landed since the start finds (undefined: it cannot tell). */
  landed?: number
  request?: Partial<PublishRequest>
}) {
  let clock = 0
  let attempt = 0
  const waits: number[] = []
  const git = {
    cwd: '/repo',
    fetch: async () => {
      attempt++
      clock += options.attemptMs ?? 500
      return options.heads(attempt)
    },
    resetHard: async () => undefined,
    commit: async () => `commit-${attempt}`,
    tryPush: async () => options.pushes(attempt),
    tryCountCommitsAfter: async () => options.landed
  } as unknown as GitCommandManager
  const running = publish({
    git,
    repo: { owner: 'octo', repo: 'gitops' },
    mode: 'direct',
    commitVia: 'git',
    branch: 'main',
    message: 'pin',
    author: { name: 'Bot', email: 'bot@example.com' },
    apply: async () => ['apps/app.yaml'],
    now: () => clock,
    sleep: async ms => {
      waits.push(ms)
      clock += ms
    },
    ...options.request
  })
  return { running, waits, attempts: () => attempt, clock: () => clock }
}

describe('publish under contention', () => {
  it('keeps retrying past the old limit of 8 attempts while the branch moves, and lands', async () => {
    const run = contended({
      heads: n => `head-${n}`,
      pushes: n => (n < 12 ? 'rejected' : 'pushed'),
      request: { random: () => 0.5 }
    })
    await expect(run.running).resolves.toMatchObject({
      changed: true,
      attempts: 12,
      moves: 11,
      commitSha: 'commit-12'
    })
    // Half of a ceiling that doubles from the 500 ms attempt, capped at a minute.
    expect(run.waits).toEqual([550, 1050, 2050, 4050, 8050, 16050, 30050, 30050, 30050, 30050, 30050])
    expect(run.clock()).toBeLessThan(5 * 60_000)
  })

  it('names the commits that landed meanwhile when they can be counted', async () => {
    const run = contended({
      heads: n => `head-${n}`,
      pushes: () => 'rejected',
      landed: 42,
      request: { maxWaitMs: 30_000 }
    })
    await expect(run.running).rejects.toThrow(
      new RegExp(`42 commit\\(s\\) by others landed on main meanwhile, \\d+ of them just before one of ours`)
    )
  })

  it('gives up when the time budget would be passed, saying how long, how many moves, and what to do', async () => {
    const run = contended({
      heads: n => `head-${n}`,
      pushes: () => 'rejected',
      request: { maxWaitMs: 60_000 }
    })
    const error = await run.running.catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ExternalError)
    const message = (error as Error).message
    const attempts = run.attempts()
    expect(message).toMatch(
      new RegExp(`^gave up after \\d+ s and ${attempts} attempts \\(max-wait reached\\)`)
    )
    expect(message).toContain(`main moved ${attempts} time(s) meanwhile`)
    expect(message).toContain('Re-run this job')
    expect(message).toContain('raise max-wait')
    expect(message).toContain('concurrency group')
    // It never slept past the budget.
    expect(run.clock()).toBeLessThanOrEqual(60_000)
    expect(attempts).toBeGreaterThan(3)
  })

  it('stops at max-attempts when one is given, and says that was the limit', async () => {
    const run = contended({ heads: n => `head-${n}`, pushes: () => 'rejected', request: { maxAttempts: 3 } })
    await expect(run.running).rejects.toThrow(
      /and 3 attempts \(max-attempts \(3\) reached\).*raise max-attempts/
    )
    expect(run.attempts()).toBe(3)
  })

  it('does not keep retrying a push refused while the branch stands still: that is not a race', async () => {
    const run = contended({ heads: () => 'head', pushes: () => 'rejected' })
    await expect(run.running).rejects.toThrow(
      /main refused 6 commits in a row though it did not move: not a race/
    )
    expect(run.attempts()).toBe(6)
  })

  it('counts only refusals in a row: a branch that moves again in between is still a race', async () => {
    // The head moves on every third fetch only: two refusals in a row without a move, then a move, for 30 attempts.
    const run = contended({
      heads: n => `head-${Math.floor(n / 3)}`,
      pushes: n => (n < 30 ? 'rejected' : 'pushed'),
      attemptMs: 10,
      request: { random: () => 0, maxWaitMs: 60 * 60_000 }
    })
    await expect(run.running).resolves.toMatchObject({ changed: true, attempts: 30, moves: 10 })
  })
})

describe('ContentionBackoff', () => {
  it('draws from zero up to a ceiling that doubles per rejection from the attempt length, capped', () => {
    const top = new ContentionBackoff(100, 10_000, () => 1)
    expect([1, 2, 3, 4, 5, 6].map(() => top.next(400))).toEqual([850, 1650, 3250, 6450, 10050, 10050])
    const bottom = new ContentionBackoff(100, 10_000, () => 0)
    expect([bottom.next(400), bottom.next(5_000)]).toEqual([50, 50])
    // A slow attempt widens the window at once.
    expect(new ContentionBackoff(100, 10_000, () => 1).next(3_000)).toBe(6050)
  })
})
