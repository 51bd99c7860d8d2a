import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFile } from 'node:child_process'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { publish } from '../../src/actions/bump-manifest/publish.js'
import { createCommandRunner } from '../../src/lib/exec.js'
import { createGit } from '../../src/lib/git/index.js'

const run = promisify(execFile)
const author = { name: 'Bot', email: 'bot@example.com' }
const repo = { owner: 'octo', repo: 'gitops' }
let root: string
let bare: string

async function git(cwd: string, ...args: string[]): Promise<string> {
  return (await run('git', args, { cwd })).stdout.trim()
}

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'publish-'))
  bare = path.join(root, 'gitops.git')
  await git(root, 'init', '--quiet', '--bare', '--initial-branch=main', bare)
  const seed = path.join(root, 'seed')
  await git(root, 'clone', '--quiet', bare, seed)
  await fs.writeFile(path.join(seed, 'images.txt'), 'none\n')
  await git(seed, 'add', '.')
  await git(seed, '-c', 'user.name=s', '-c', 'user.email=s@e', 'commit', '--quiet', '-m', 'seed')
  await git(seed, 'push', '--quiet', 'origin', 'HEAD:main')
})
afterAll(async () => fs.rm(root, { recursive: true, force: true }))

async function clone(name: string) {
  const dir = path.join(root, name)
  await fs.mkdir(dir)
  const g = createGit({ runner: createCommandRunner(), cwd: dir })
  await g.clone(`file://${bare}`, 'main')
  return g
}

describe('publish (real git, a bare repository)', () => {
  it('lands every one of 10 concurrent changes to one branch, with linear history', async () => {
    // A barrier forces the collision: every run has fetched the same head before any of them commits, so exactly
    // one lands on its first attempt and the nine others must retry, however fast or slow the machine is.
    const count = 10
    let arrived = 0
    let release!: () => void
    const allFetched = new Promise<void>(resolve => (release = resolve))
    const clones = await Promise.all(Array.from({ length: count }, (_, i) => clone(`worker-${i}`)))
    const head = await git(bare, 'rev-parse', 'main')
    const runs = await Promise.all(
      clones.map((g, i) => {
        let first = true
        return publish({
          git: g,
          repo,
          mode: 'direct',
          commitVia: 'git',
          branch: 'main',
          message: `pin image ${i}\n\nImage: app-${i}`,
          author,
          sleep: ms => new Promise(resolve => setTimeout(resolve, Math.min(ms, 50))),
          apply: async () => {
            if (first) {
              first = false
              if (++arrived === count) release()
              await allFetched
            }
            await fs.writeFile(
              path.join(g.cwd, `image-${i}.txt`),
              `app-${i}@sha256:${String(i).repeat(64).slice(0, 64)}\n`
            )
            return [`image-${i}.txt`]
          }
        })
      })
    )
    expect(runs.map(r => [r.changed, typeof r.commitSha])).toEqual(Array(count).fill([true, 'string']))
    expect(runs.filter(r => r.attempts === 1)).toHaveLength(1)
    // Each retry saw the branch moved by another run's commit.
    for (const r of runs.filter(r => r.attempts > 1)) expect(r.moves).toBeGreaterThanOrEqual(1)
    const log = (await git(bare, 'log', '--format=%H %P', 'main')).split('\n')
    expect(log).toHaveLength(count + 1)
    // Linear: every new commit has exactly one parent, and the oldest of them sits on the head all started from.
    expect(log.slice(0, count).map(line => line.split(' ').length)).toEqual(Array(count).fill(2))
    expect(log[count - 1]?.split(' ')[1]).toBe(head)
    expect(new Set(log.slice(0, count).map(line => line.split(' ')[0]))).toEqual(
      new Set(runs.map(r => r.commitSha))
    )
    const files = (await git(bare, 'ls-tree', '--name-only', 'main')).split('\n')
    for (let i = 0; i < count; i++) expect(files).toContain(`image-${i}.txt`)
  })

  it('commits nothing when the remote already holds the desired state', async () => {
    const g = await clone('idempotent')
    const head = await git(bare, 'rev-parse', 'main')
    const result = await publish({
      git: g,
      repo,
      mode: 'direct',
      commitVia: 'git',
      branch: 'main',
      message: 'again',
      author,
      maxAttempts: 3,
      apply: async () => {
        await fs.writeFile(path.join(g.cwd, 'image-3.txt'), `app-3@sha256:${'3'.repeat(64)}\n`)
        return (await g.hasChanges(['image-3.txt'])) ? ['image-3.txt'] : []
      }
    })
    expect(result).toMatchObject({ changed: false, attempts: 1 })
    expect(await git(bare, 'rev-parse', 'main')).toBe(head)
  })

  it('pushes a head branch built on the base branch, leaving the base alone', async () => {
    const g = await clone('branch')
    const head = await git(bare, 'rev-parse', 'main')
    const result = await publish({
      git: g,
      repo,
      mode: 'branch',
      headBranch: 'promote/prod',
      commitVia: 'git',
      branch: 'main',
      message: 'promote\n\nImage: x',
      author,
      maxAttempts: 3,
      apply: async () => {
        await fs.writeFile(path.join(g.cwd, 'images.txt'), 'prod\n')
        return ['images.txt']
      }
    })
    expect(result).toMatchObject({ changed: true, branch: 'promote/prod' })
    expect(await git(bare, 'rev-parse', 'main')).toBe(head)
    expect(await git(bare, 'rev-parse', 'promote/prod^')).toBe(head)
    expect(await git(bare, 'show', 'promote/prod:images.txt')).toBe('prod')
    expect(await git(bare, 'log', '-1', '--format=%an <%ae>', 'promote/prod')).toBe('Bot <bot@example.com>')
  })

  it('gives up after max-attempts when the branch keeps moving', async () => {
    const g = await clone('loser')
    let n = 0
    const attempt = publish({
      git: g,
      repo,
      mode: 'direct',
      commitVia: 'git',
      branch: 'main',
      message: 'lose',
      author,
      maxAttempts: 2,
      sleep: async () => undefined,
      apply: async () => {
        // Another writer lands a commit between our fetch and our push, every time.
        const other = path.join(root, `other-${n++}`)
        await git(root, 'clone', '--quiet', bare, other)
        await fs.writeFile(path.join(other, `race-${n}.txt`), 'x\n')
        await git(other, 'add', '.')
        await git(other, '-c', 'user.name=o', '-c', 'user.email=o@e', 'commit', '--quiet', '-m', 'race')
        await git(other, 'push', '--quiet', 'origin', 'HEAD:main')
        await fs.writeFile(path.join(g.cwd, 'loser.txt'), 'mine\n')
        return ['loser.txt']
      }
    })
    await expect(attempt).rejects.toThrow(
      /^gave up after [\d.]+ s and 2 attempts \(max-attempts \(2\) reached\): 2 commit\(s\) by others landed on main meanwhile, 2 of them just before one of ours/
    )
  })

  it('gives up when the next wait would pass max-wait, saying how often the branch moved', async () => {
    const g = await clone('budget')
    let n = 0
    const attempt = publish({
      git: g,
      repo,
      mode: 'direct',
      commitVia: 'git',
      branch: 'main',
      message: 'lose',
      author,
      maxWaitMs: 0,
      sleep: async () => undefined,
      apply: async () => {
        const other = path.join(root, `budget-other-${n++}`)
        await git(root, 'clone', '--quiet', bare, other)
        await fs.writeFile(path.join(other, `budget-${n}.txt`), 'x\n')
        await git(other, 'add', '.')
        await git(other, '-c', 'user.name=o', '-c', 'user.email=o@e', 'commit', '--quiet', '-m', 'race')
        await git(other, 'push', '--quiet', 'origin', 'HEAD:main')
        await fs.writeFile(path.join(g.cwd, 'loser.txt'), 'mine\n')
        return ['loser.txt']
      }
    })
    await expect(attempt).rejects.toThrow(
      /and 1 attempts \(max-wait reached\): 1 commit\(s\) by others landed on main meanwhile, 1 of them just before one of ours.*raise max-wait/
    )
    expect(n).toBe(1)
  })
})
