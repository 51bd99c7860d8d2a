import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Candidate } from '../../src/lib/manifest/files.js'
import { Walk } from '../../src/lib/manifest/walk.js'

let root: string

beforeEach(async () => {
  root = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'walk-')))
  for (let i = 0; i < 12; i++) {
    await fs.mkdir(path.join(root, `d${i % 3}`, `e${i}`), { recursive: true })
    await fs.writeFile(path.join(root, `d${i % 3}`, `e${i}`, 'a.yaml'), 'a: 1\n')
  }
  await fs.writeFile(path.join(root, 'd0', 'notes.txt'), 'x')
  // A loop back to the root and a second way to the same directory.
  await fs.symlink(root, path.join(root, 'd1', 'loop'))
  await fs.symlink(path.join(root, 'd2'), path.join(root, 'd0', 'again'))
})

afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true })
})

function collect(): { found: Candidate[]; visit: (candidate: Candidate) => void } {
  const found: Candidate[] = []
  return { found, visit: candidate => found.push(candidate) }
}

describe('a walk handed over half-way', () => {
  it.each([0, 1, 3, 7, 15])('after %i directories finds each file once, as one walk does', pauseAfter => {
    const whole = collect()
    const one = Walk.of(root, whole.visit)
    one.addDirectory(root)
    expect(one.run()).toBe(true)

    const first = collect()
    const walk = Walk.of(root, first.visit)
    walk.addDirectory(root)
    let listed = 0
    const finished = walk.run(() => listed++ >= pauseAfter)
    const second = collect()
    if (!finished) {
      // The state crosses to the other thread as data: a structured clone loses nothing it needs.
      expect(new Walk(structuredClone(walk.state()), second.visit).run()).toBe(true)
    }
    const sorted = (list: Candidate[]) => list.map(c => c.rel).sort()
    expect(sorted([...first.found, ...second.found])).toEqual(sorted(whole.found))
    expect(whole.found).toHaveLength(12)
    if (pauseAfter < 15) expect(second.found.length).toBeGreaterThan(0)
  })
})
