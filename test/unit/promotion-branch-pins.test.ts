import { describe, expect, it } from '@jest/globals'
import { describePins } from '../../src/actions/open-promotion-pr/branch-pins.js'

const digest = (n: number) => `sha256:${String(n).repeat(64)}`

describe('describePins', () => {
  it('names each digest and where it is pinned', () => {
    expect(
      describePins([
        { digest: digest(1), where: ['a.yaml:3', 'b.yaml:7'] },
        { digest: digest(2), where: ['c.yaml:1'] }
      ])
    ).toBe(`${digest(1)} in a.yaml:3, b.yaml:7; ${digest(2)} in c.yaml:1`)
  })

  it('stays short when a repository pins the image in thousands of places', () => {
    const where = Array.from({ length: 3000 }, (_, i) => `f${i}.yaml:1`)
    const pins = Array.from({ length: 9 }, (_, i) => ({ digest: digest(i), where }))
    const text = describePins(pins)
    expect(text).toContain('f4.yaml:1 and 2995 more')
    expect(text).not.toContain('f5.yaml:1')
    expect(text.endsWith('; and 4 more digests')).toBe(true)
    expect(text.length).toBeLessThan(1000)
  })
})
