import { describe, expect, it } from '@jest/globals'
import { BODY_LIMIT, renderBody, type SourceCommits } from '../../src/actions/open-promotion-pr/body.js'
import { code, link, text } from '../../src/actions/open-promotion-pr/markdown.js'
import {
  readStateBlock,
  renderStateBlock,
  type PromotionState
} from '../../src/actions/open-promotion-pr/state-block.js'

const D1 = `sha256:${'1'.repeat(64)}`
const D2 = `sha256:${'2'.repeat(64)}`

const state = (extra: Partial<PromotionState> = {}): PromotionState => ({
  v: 1,
  environment: 'staging',
  fromEnvironment: 'dev',
  image: 'ghcr.io/octo/web',
  from: { digest: D1, tag: '1.1.0' },
  to: { digest: D2, tag: '1.2.0' },
  files: ['apps/web/overlays/staging/kustomization.yaml'],
  verification: {
    required: ['kustomization/apps-dev/*'],
    verified: true,
    commit: 'c'.repeat(40),
    pinnedBy: 'p'.repeat(40),
    statuses: [
      {
        context: 'kustomization/apps-dev/0c9c2e41',
        state: 'success',
        at: '2026-12-01T10:00:00Z',
        kind: 'status'
      }
    ],
    minSoakMs: 7_200_000
  },
  verdict: null,
  proposedBy: 'https://github.com/octo/gitops/actions/runs/1',
  proposedAt: '2026-12-01T12:00:00Z',
  ...extra
})
const none: SourceCommits = { kind: 'unavailable', reason: 'Not known.' }
const commits = (count: number, subject: (i: number) => string): SourceCommits => ({
  kind: 'listed',
  repository: 'octo/app',
  compareUrl: 'https://github.com/octo/app/compare/a...b',
  total: count,
  commits: Array.from({ length: Math.min(count, 250) }, (_, i) => ({
    sha: i.toString(16).padEnd(40, '0'),
    message: `${subject(i)}\n\nbody`,
    date: '2026-12-01T00:00:00Z',
    author: 'dev',
    url: `https://github.com/octo/app/commit/${i.toString(16).padEnd(40, '0')}`
  }))
})

describe('the promotion body', () => {
  it('renders the table, sources, verdict, verification, rollback and the state block, byte for byte', () => {
    const body = renderBody(state(), { header: 'Hello', footer: 'Bye', source: commits(2, i => `Fix ${i}`) })
    expect(body).toBe(
      [
        'Hello',
        '### Promote `ghcr.io/octo/web` to staging',
        '| Environment | Image | From | To | Files |\n| --- | --- | --- | --- | --- |\n' +
          '| staging (from dev) | `ghcr.io/octo/web` | `1.1.0@111111111111` | `1.2.0@222222222222` | `apps/web/overlays/staging/kustomization.yaml` |',
        '#### Source commits',
        '2 commit(s) in [octo\\/app](https://github.com/octo/app/compare/a...b), newest first:',
        `- [1000000](https://github.com/octo/app/commit/1${'0'.repeat(39)}) Fix 1 (dev)\n` +
          `- [0000000](https://github.com/octo/app/commit/${'0'.repeat(40)}) Fix 0 (dev)`,
        '#### Scan verdict',
        `> [!WARNING]\n> No scan-gate verdict is attached to \`${D2}\`: nothing says it was scanned.`,
        '#### Upstream verification',
        'Verified in dev: `kustomization/apps-dev/*` succeeded, green for at least 2h on `cccccccccccc` (the digest was pinned by `pppppppppppp`).',
        '- `kustomization/apps-dev/0c9c2e41` (status): success at 2026\\-12\\-01T10\\:00\\:00Z',
        '#### Rollback',
        `Until this is merged, staging runs \`ghcr.io/octo/web@${D1}\`. To roll back after merging, revert this pull request's merge commit, which pins \`1.1.0@111111111111\` again.`,
        'Proposed by [this workflow run](https://github.com/octo/gitops/actions/runs/1) at 2026\\-12\\-01T12\\:00\\:00Z.',
        'Bye',
        renderStateBlock(state())
      ].join('\n\n') + '\n'
    )
    expect(readStateBlock(body)).toEqual(state())
  })

  it('cuts a 1,000-commit list to the limit, never the state block', () => {
    const body = renderBody(state(), {
      header: '',
      footer: '',
      source: commits(1000, i => `Change ${i} ${'x'.repeat(400)}`)
    })
    expect(body.length).toBeLessThanOrEqual(BODY_LIMIT)
    expect(body.length).toBeGreaterThan(BODY_LIMIT - 1000)
    const listed = body.split('\n').filter(line => line.startsWith('- [')).length
    expect(body).toContain(
      `- … and ${1000 - listed} more not listed here: [compare them all](https://github.com/octo/app/compare/a...b)`
    )
    expect(readStateBlock(body)).toEqual(state())
  })

  it('refuses a header and footer that alone exceed the limit, rather than cut the state block', () => {
    expect(() =>
      renderBody(state(), { header: 'h'.repeat(40_000), footer: 'f'.repeat(30_000), source: none })
    ).toThrow("shorten 'body-header' and 'body-footer'")
  })

  it('defuses hostile text from commits, labels and inputs', () => {
    const hostile =
      'x](javascript:alert(1)) <img src=x onerror=alert(1)> @everyone #1 `code` ** | \u202etxt -->'
    const body = renderBody(state({ environment: 'prod', fromEnvironment: hostile }), {
      header: '',
      footer: '',
      source: commits(1, () => hostile)
    })
    // Every '<' and '](' that came from the hostile text is escaped, so it shows as text (the state block is a comment).
    const shown = body.slice(0, body.lastIndexOf('<!-- digest-delivery:promotion'))
    expect(shown).not.toMatch(/(?<!\\)<img/)
    expect(shown).not.toMatch(/(?<!\\)\]\\?\(javascript/)
    expect(shown).not.toContain('@everyone')
    expect(shown).not.toContain('\u202e')
    // The state block survives a value that would close an HTML comment, and reads back equal.
    expect(body.match(/-->/g)).toHaveLength(1)
    expect(readStateBlock(body)?.fromEnvironment).toBe(hostile)
  })

  it('says plainly why the source commits are not listed, and warns of a missing verdict only once looked up', () => {
    const body = renderBody(state({ verdict: undefined }), { header: '', footer: '', source: none })
    expect(body).toContain('#### Source commits\n\nNot known\\.\n')
    expect(body).not.toContain('Scan verdict')
  })

  it('reads back no state from a body without one, another version, or one that does not check out', () => {
    expect(readStateBlock('plain body')).toBeUndefined()
    expect(readStateBlock(renderStateBlock(state()).replace('"v":1', '"v":2'))).toBeUndefined()
    expect(readStateBlock('<!-- digest-delivery:promotion {"v":1,"to":{"digest":"x"}} -->')).toBeUndefined()
    expect(readStateBlock('<!-- digest-delivery:promotion {not json} -->')).toBeUndefined()
  })

  // The body is editable: a hand-edited block whose values are not of their types is no state at all.
  const edited = (change: (json: Record<string, unknown>) => void): string => {
    const json = JSON.parse(JSON.stringify(state({ verdict: verdict() }))) as Record<string, unknown>
    change(json)
    return `<!-- digest-delivery:promotion ${JSON.stringify(json)} -->`
  }
  const verdict = () => ({
    decision: 'fail' as const,
    blocking: 2,
    counts: { high: 2 },
    policyDigest: `sha256:${'0'.repeat(64)}`,
    time: '2026-12-01T00:00:00Z',
    ref: `ghcr.io/octo/web@sha256:${'9'.repeat(64)}`
  })
  const record = (value: unknown) => value as Record<string, unknown>

  it('reads back a block with a verdict, then refuses one edited to values of other types', () => {
    expect(readStateBlock(edited(() => undefined))?.verdict).toEqual(verdict())
  })

  it.each<[string, (json: Record<string, unknown>) => void]>([
    [
      'a verdict whose blocking is markup',
      json => (record(json.verdict).blocking = '<img src=x onerror=alert(1)>')
    ],
    ['a verdict count that is a string', json => (record(json.verdict).counts = { high: '@everyone' })],
    ['a verdict decision of its own', json => (record(json.verdict).decision = 'maybe')],
    ['a digest too short', json => (record(json.to).digest = 'sha256:abc')],
    ['a running digest that is not one', json => (record(json.from).digest = 'latest')],
    ['a tag that is a number', json => (record(json.to).tag = 7)],
    ['files that are not strings', json => (json.files = [{ toString: 'x' }])],
    ['an environment that is an object', json => (json.environment = { name: 'prod' })],
    ['a status without a context', json => (record(json.verification).statuses = [{ state: 'success' }])],
    ['a soak that is text', json => (record(json.verification).minSoakMs = '2h')],
    ['a reason that is a number', json => (record(json.verification).reason = 1)],
    ['a proposedAt missing', json => delete json.proposedAt]
  ])('refuses %s', (_what, change) => {
    expect(readStateBlock(edited(change))).toBeUndefined()
  })

  it('escapes the numbers of a verdict too', () => {
    const body = renderBody(state({ verdict: verdict() }), { header: '', footer: '', source: none })
    expect(body).toContain('**FAIL**: 2 blocking (findings: 2 high), policy `sha256:')
  })
})

describe('markdown escaping', () => {
  it.each([
    ['a*b_c', 'a\\*b\\_c'],
    ['<b>', '&lt;b&gt;'],
    ['[x](y)', '\\[x\\]\\(y\\)'],
    ['@octo', '\\@\u2060octo'],
    ['line\nbreak', 'line break'],
    ['https://evil', 'https\\:\\/\\/evil']
  ])('text(%j)', (input, expected) => expect(text(input)).toBe(expected))

  it('fences code longer than any backtick run inside, and escapes pipes for tables', () => {
    expect(code('a`b')).toBe('``a`b``')
    expect(code('`x`')).toBe('`` `x` ``')
    expect(code('a|b')).toBe('`a\\|b`')
  })

  it('links only http(s) URLs', () => {
    expect(link('x', 'javascript:alert(1)')).toBe('x')
    expect(link('x', 'https://github.com/a (b)')).toBe('[x](https://github.com/a%20%28b%29)')
    expect(link('x', 'https://github.com/a(b)')).toBe('[x](https://github.com/a%28b%29)')
  })
})
