// pinTree with its walk handed to a worker thread (the committed worker bundle, as the action runs it): the result
// is the one a single thread gets, a symlink outside the repository fails the same way, and a worker that breaks
// costs nothing but time.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { ConfigurationError } from '../../src/lib/errors.js'
import { pinTree, WalkWorker, type PinTreeOptions } from '../../src/lib/manifest/index.js'
import { DIGEST } from '../support/manifest-fixtures/helpers.js'

const WORKER = fileURLToPath(new URL('../../dist/bump-manifest/walk-worker.js', import.meta.url))
const FAILING = fileURLToPath(new URL('../support/manifest-workers/failing-walk-worker.mjs', import.meta.url))
const APP = 'ghcr.io/org/app'
const FILES = 1500
let root: string
let outside: string

const deployment = (name: string, image: string, filler = 0) =>
  `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ${name} # generated\nspec:\n  template:\n    spec:\n` +
  `      containers:\n        - name: app\n          image: ${image}\n          env:\n` +
  Array.from({ length: filler }, (_, i) => `            - name: S${i}\n              value: "v${i}"\n`).join(
    ''
  )

beforeEach(async () => {
  root = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'gitops-workers-')))
  outside = await fs.mkdtemp(path.join(os.tmpdir(), 'outside-'))
  for (let i = 0; i < FILES; i++) {
    const dir = path.join(root, 'apps', `team-${i % 30}`, `svc-${i}`)
    await fs.mkdir(dir, { recursive: true })
    const image = i % 37 === 0 ? `${APP}:1.0.${i}` : `ghcr.io/org/other-${i}:1.0.0`
    await fs.writeFile(path.join(dir, 'deployment.yaml'), deployment(`svc-${i}`, image, i % 5))
  }
  const odd = path.join(root, 'apps', 'team-7', 'odd')
  await fs.mkdir(odd)
  // Everything a file can do wrong, found by whichever thread walks there.
  await fs.writeFile(path.join(odd, 'latin1.yaml'), Buffer.from(`image: ${APP}:1 # caf\xe9\n`, 'latin1'))
  await fs.writeFile(path.join(odd, 'broken.yaml'), `image: ${APP}:1\n  bad: [\n`)
  await fs.writeFile(path.join(odd, 'huge.yaml'), deployment('huge', `${APP}:1`, 2000))
  await fs.writeFile(path.join(odd, 'just-over-64k.yaml'), deployment('big', `${APP}:2`, 1200))
  await fs.symlink(path.join(root, 'apps', 'team-3'), path.join(odd, 'team-3-again'))
  await fs.symlink(path.join(root, 'apps'), path.join(odd, 'loop'))
})

afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true })
  await fs.rm(outside, { recursive: true, force: true })
})

const options = (extra: Partial<PinTreeOptions> = {}): PinTreeOptions => ({
  root,
  paths: ['apps'],
  request: { image: APP, digest: DIGEST, tag: 'v2' },
  maxFileBytes: 100_000,
  ...extra
})

/** A worker that has started, so that it takes the walk over at once. */
async function readyWorker(script = WORKER): Promise<WalkWorker> {
  const worker = new WalkWorker(script)
  const deadline = Date.now() + 10_000
  while (!worker.isReady()) {
    if (Date.now() > deadline) throw new Error('the walk worker did not start in 10 s')
    await new Promise(resolve => setTimeout(resolve, 5))
  }
  return worker
}

describe('a walk handed to a worker thread', () => {
  it('finds, pins and reports exactly what one thread does', async () => {
    const alone = await pinTree(options())
    const worker = await readyWorker()
    const shared = await pinTree(options({ worker: () => worker }))
    expect(shared.threads).toBe(2)
    expect(alone.threads).toBe(1)
    expect({ ...shared, threads: 1 }).toEqual(alone)
    // The tree holds every kind of file: the comparison is not of two empty results.
    expect(alone.changes.length).toBeGreaterThanOrEqual(FILES / 37)
    expect(alone.searched).toBeGreaterThan(FILES)
    expect(alone.errors.map(e => e.kind).sort()).toEqual(['encoding', 'parse', 'too-large'])
    expect(alone.edited.map(e => e.file)).toContain('apps/team-7/odd/just-over-64k.yaml')
  })

  it('writes the same bytes', async () => {
    const worker = await readyWorker()
    const shared = await pinTree(options({ worker: () => worker, write: true }))
    expect(shared.threads).toBe(2)
    for (const { file, text } of shared.edited)
      expect(await fs.readFile(path.join(root, file), 'utf8')).toBe(text)
    const again = await pinTree(options())
    expect(again.edited).toEqual([])
    expect(again.unchanged.length).toBe(shared.changes.length)
  })

  it('fails as one thread does when the worker finds a symlink that leads outside the repository', async () => {
    await fs.symlink(outside, path.join(root, 'apps', 'team-29', 'svc-29', 'escape'))
    const alone = await pinTree(options()).catch((error: unknown) => error)
    expect(alone).toBeInstanceOf(ConfigurationError)
    const worker = await readyWorker()
    const shared = await pinTree(options({ worker: () => worker })).catch((error: unknown) => error)
    expect(shared).toBeInstanceOf(ConfigurationError)
    expect((shared as Error).message).toBe((alone as Error).message)
    expect((shared as Error).message).toMatch(
      /apps\/team-29\/svc-29\/escape' is a symlink that leads outside/
    )
  })

  it('finishes the walk itself when the worker breaks', async () => {
    const alone = await pinTree(options())
    const worker = await readyWorker(FAILING)
    const result = await pinTree(options({ worker: () => worker }))
    expect(result).toEqual(alone)
    expect(result.threads).toBe(1)
  })
})
