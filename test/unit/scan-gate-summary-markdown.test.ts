import { describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import { summaryOf } from '../../src/actions/scan-gate/summary.js'
import { evaluate, type Policy } from '../../src/lib/policy/evaluate.js'
import type { Finding, ScanReport } from '../../src/lib/scanner/index.js'
import { cell, code, escapeMarkdown, link } from '../../src/lib/summary.js'

const ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"' }

/** What a CommonMark reader shows for escaped text: entities and backslash escapes decoded. */
function shown(markdown: string): string {
  return markdown.replace(
    /&(?:amp|lt|gt|quot);|\\([!-/:-@[-`{-~])/g,
    (match, escaped?: string) => escaped ?? (ENTITIES[match] as string)
  )
}

describe('escapeMarkdown', () => {
  it.each([
    ['<img src=x onerror=alert(1)>', '&lt;img src\\=x onerror\\=alert\\(1\\)&gt;'],
    ['**bold** _em_ ~~gone~~', '\\*\\*bold\\*\\* \\_em\\_ \\~\\~gone\\~\\~'],
    ['[click](javascript:alert(1))', '\\[click\\]\\(javascript\\:alert\\(1\\)\\)'],
    ['![x](https://evil.example/t.png)', '\\!\\[x\\]\\(https\\:\\/\\/evil\\.example\\/t\\.png\\)'],
    ['a | b', 'a \\| b'],
    ['line 1\nline 2\r\n# heading', 'line 1 line 2  \\# heading'],
    ['www.evil.example and root@evil.example', 'www\\.evil\\.example and root\\@evil\\.example'],
    ['&lt;script&gt;', '&amp;lt\\;script&amp;gt\\;'],
    ['`code` <!-- c -->', '\\`code\\` &lt;\\!\\-\\- c \\-\\-&gt;'],
    ['rtl\u202Eevil\u0000bell\u0007', 'rtl evil bell '],
    ['CVE-2024-1234', 'CVE\\-2024\\-1234'],
    ['libssl3 — ünïcode ✓', 'libssl3 — ünïcode ✓']
  ])('%j → %j', (input, expected) => {
    expect(escapeMarkdown(input)).toBe(expected)
  })

  it('property: leaves no HTML, no line break, no unescaped punctuation, and shows the text as it was', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), value => {
        const escaped = escapeMarkdown(value)
        // eslint-disable-next-line no-control-regex -- no control character may survive
        expect(escaped).not.toMatch(/[<>\n\r\u0000-\u001f\u2028\u2029\u202a-\u202e]/)
        // Every ASCII punctuation character is escaped: a backslash before it, or part of an entity we wrote.
        const bare = escaped.replace(/&(?:amp|lt|gt|quot);/g, '').replace(/\\[!-/:-@[-`{-~]/g, '')
        expect(bare).not.toMatch(/[!-/:-@[-`{-~]/)
        expect(shown(escaped)).toBe(
          value.replace(
            // eslint-disable-next-line no-control-regex -- the characters escapeMarkdown turns into spaces
            /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
            ' '
          )
        )
      }),
      { numRuns: 2000 }
    )
  })
})

describe('cell, code and link', () => {
  it('a cell keeps lines apart with <br>, each line escaped', () => {
    expect(cell('a|b\n<c>')).toBe('a\\|b<br>&lt;c&gt;')
  })

  it.each([
    ['ghcr.io/octo/app@sha256:ab', '`ghcr.io/octo/app@sha256:ab`'],
    ['a`b', '``a`b``'],
    ['``x``', '``` ``x`` ```'],
    ['a|b', '`a\\|b`'],
    ['two\nlines', '`two lines`']
  ])('code(%j) is %j', (input, expected) => {
    expect(code(input)).toBe(expected)
  })

  it('property: code never lets its value end the span, break the line or end a table cell', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), value => {
        const span = code(value)
        const fence = /^`+/.exec(span)?.[0] as string
        const inner = span.slice(fence.length, span.length - fence.length)
        expect(span.endsWith(fence)).toBe(true)
        expect(inner.includes(fence)).toBe(false)
        expect(inner).not.toMatch(/[\n\r]/)
        expect(inner.replace(/\\\|/g, '')).not.toContain('|')
      }),
      { numRuns: 1000 }
    )
  })

  it.each([
    ['https://nvd.nist.gov/vuln/detail/CVE-2024-1', '[CVE\\-1](https://nvd.nist.gov/vuln/detail/CVE-2024-1)'],
    ['https://example.com/a (b) <c>', '[CVE\\-1](https://example.com/a%20%28b%29%20%3Cc%3E)'],
    ['javascript:alert(1)', 'CVE\\-1'],
    ['JaVaScRiPt:alert(1)', 'CVE\\-1'],
    ['data:text/html,<script>', 'CVE\\-1'],
    ['//evil.example/x', 'CVE\\-1'],
    ['https://', 'CVE\\-1'],
    [undefined, 'CVE\\-1']
  ])('link to %j is %j: http(s) only', (url, expected) => {
    expect(link('CVE-1', url)).toBe(expected)
  })
})

describe('the scan-gate summary escapes every string from the report', () => {
  const hostile = '<img src=x onerror=alert(1)>'
  const finding = (over: Partial<Finding>): Finding => ({
    id: 'CVE-2024-0001',
    aliases: [],
    package: 'openssl',
    installedVersion: '1.0',
    fixedVersion: '1.1',
    fixable: true,
    severity: 'critical',
    ...over
  })
  const report: ScanReport = {
    format: 'trivy',
    scanner: { name: `trivy ${hostile}`, version: '0.69.2\n# injected heading' },
    artifact: { digests: [], references: [] },
    findings: [
      finding({ id: `CVE-2024-0001${hostile}`, url: 'javascript:alert(1)' }),
      finding({
        package: `pkg|${hostile}`,
        installedVersion: '[x](https://evil.example)',
        fixedVersion: hostile
      }),
      finding({ id: 'CVE-2024-0003', severity: 'low', package: `low${hostile}` })
    ],
    suppressed: [
      { finding: finding({ id: 'CVE-2024-0004', package: 'zlib' }), reason: `vendor says ${hostile}` }
    ]
  }
  const policy: Policy = {
    severity: 'high',
    ignoreUnfixed: false,
    max: {},
    failOnExpiredIgnore: false,
    ignores: [
      { id: 'CVE-2099-0001', package: hostile, reason: hostile, source: '.trivyignore:1' },
      { id: 'CVE-2024-0003', reason: hostile, expires: '2020-01-01', expiresAt: 0, source: 'policy.yml:3' }
    ],
    vex: []
  }
  const evaluation = evaluate(report, policy, {
    now: Date.parse('2026-03-15T12:00:00Z'),
    subject: { registry: 'ghcr.io', repository: 'octo/app', digest: `sha256:${'a1'.repeat(32)}` }
  })
  const summary = summaryOf({
    image: 'ghcr.io/octo/app',
    digest: `sha256:${'a1'.repeat(32)}`,
    report,
    evaluation,
    policy,
    policyDigest: 'sha256:00',
    policySources: [`policy.yml${hostile}`],
    source: `file reports/${hostile}.json`,
    fail: true,
    subjectCheck: { how: 'trusted', text: `taken on trust: it records '${hostile}'` }
  })

  it('has no HTML but the <br> it writes itself (code spans show HTML as text), and no link but to http(s)', () => {
    const outsideCode = summary.replace(/(`+)([\s\S]*?[^`])\1(?!`)/g, '')
    expect(outsideCode).not.toMatch(/<(?!br>)/)
    expect(summary).not.toContain('javascript:')
    for (const [, destination] of summary.matchAll(/\]\(([^)]*)\)/g))
      expect(destination).toMatch(/^https?:\/\//)
  })

  it('keeps every table row on one line with its own columns', () => {
    const rows = summary.split('\n').filter(line => line.startsWith('| '))
    const columns = (line: string) => line.replace(/\\\|/g, '').split('|').length
    const blockingHeader = rows.findIndex(line => line.startsWith('| Vulnerability | Package | Installed'))
    expect(blockingHeader).toBeGreaterThanOrEqual(0)
    for (const line of rows.slice(blockingHeader, blockingHeader + 4)) expect(columns(line)).toBe(6)
    expect(summary).not.toMatch(/^# injected heading/m)
  })

  it('still shows the values, escaped', () => {
    expect(summary).toContain(cell(`pkg|${hostile}`))
    expect(summary).toContain(cell(`vendor says ${hostile}`))
    expect(summary).toContain('taken on trust')
  })
})
