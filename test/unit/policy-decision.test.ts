import { describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import {
  baselineKey,
  evaluate,
  parseOpenVex,
  policyDigest,
  type IgnoreRule,
  type Policy
} from '../../src/lib/policy/index.js'
import { parseReport, type Finding, type ScanReport, type Severity } from '../../src/lib/scanner/index.js'
import { fixture, FIXTURE_DIGEST } from '../support/scanner/standin.js'

const NOW = Date.parse('2026-03-15T12:00:00Z')
const SUBJECT = { registry: 'ghcr.io', repository: 'octo/app', digest: FIXTURE_DIGEST }
const OTHER_DIGEST = `sha256:${'ff'.repeat(32)}`

function policy(change: Partial<Policy> = {}): Policy {
  return {
    severity: 'high',
    ignoreUnfixed: false,
    max: {},
    failOnExpiredIgnore: false,
    ignores: [],
    vex: [],
    ...change
  }
}

function finding(id: string, severity: Severity, change: Partial<Finding> = {}): Finding {
  return {
    id,
    aliases: [],
    package: 'pkg',
    installedVersion: '1',
    fixedVersion: '',
    fixable: false,
    severity,
    ...change
  }
}

function reportOf(findings: Finding[]): ScanReport {
  return {
    format: 'trivy',
    scanner: { name: 'trivy' },
    artifact: { digests: [], references: [] },
    findings,
    suppressed: []
  }
}

function rule(id: string, change: Partial<IgnoreRule> = {}): IgnoreRule {
  return { id, reason: 'accepted', source: 'policy.yml:1', ...change }
}

const mixed = parseReport(readFileSync(fixture('trivy-mixed.json'), 'utf8'))
const grype = parseReport(readFileSync(fixture('grype-mixed.json'), 'utf8'))

describe('threshold', () => {
  // One finding of each severity: how many block at each threshold.
  const all = reportOf(
    (['critical', 'high', 'medium', 'low', 'unknown'] as const).map(s => finding(`CVE-${s}`, s))
  )
  it.each([
    ['critical', 1],
    ['high', 2],
    ['medium', 3],
    ['low', 4],
    ['unknown', 5]
  ] as const)('at %s, %i findings block', (severity, blocking) => {
    const result = evaluate(all, policy({ severity }), { now: NOW, subject: SUBJECT })
    expect([result.decision, result.blocking]).toEqual(['fail', blocking])
  })

  it('passes when nothing reaches the threshold, and says why the rest is allowed', () => {
    const result = evaluate(reportOf([finding('CVE-1', 'medium')]), policy(), { now: NOW, subject: SUBJECT })
    expect([result.decision, result.blocking, result.reasons]).toEqual(['pass', 0, []])
    expect(result.judgements[0]).toMatchObject({
      disposition: 'allowed',
      reason: 'below the threshold (high)'
    })
  })

  it('counts the Trivy fixture exactly: totals, fixable, blocking per severity', () => {
    const result = evaluate(mixed, policy(), { now: NOW, subject: SUBJECT })
    expect(result.counts).toEqual({
      critical: { total: 2, fixable: 2, blocking: 2, suppressed: 0 },
      high: { total: 4, fixable: 2, blocking: 4, suppressed: 0 },
      medium: { total: 3, fixable: 0, blocking: 0, suppressed: 0 },
      low: { total: 3, fixable: 1, blocking: 0, suppressed: 0 },
      unknown: { total: 1, fixable: 0, blocking: 0, suppressed: 0 }
    })
    expect(result.reasons).toEqual(['2 critical findings (none allowed)', '4 high findings (none allowed)'])
  })
})

describe('ignore-unfixed', () => {
  it('Trivy: only FixedVersion or Status fixed count as fixable', () => {
    const result = evaluate(mixed, policy({ ignoreUnfixed: true }), { now: NOW, subject: SUBJECT })
    const blocking = result.judgements.filter(j => j.disposition === 'blocking').map(j => j.finding.id)
    expect(blocking.sort()).toEqual([
      'CVE-2024-0001',
      'CVE-2024-0002',
      'CVE-2024-0010',
      'GHSA-qppj-fm5r-hxr3'
    ])
    expect(result.counts.high).toEqual({ total: 4, fixable: 2, blocking: 2, suppressed: 2 })
    const zlib = result.judgements.find(j => j.finding.id === 'CVE-2024-0003')
    expect(zlib).toMatchObject({ disposition: 'suppressed', reason: 'no fix available (ignore-unfixed)' })
  })

  it('Grype: only fix.state fixed counts as fixable (not-fixed, wont-fix, unknown are suppressed)', () => {
    const result = evaluate(grype, policy({ ignoreUnfixed: true, severity: 'unknown' }), {
      now: NOW,
      subject: SUBJECT
    })
    const blocking = result.judgements.filter(j => j.disposition === 'blocking').map(j => j.finding.id)
    expect(blocking).toEqual(['CVE-2024-0001', 'GHSA-qppj-fm5r-hxr3', 'CVE-2024-0011'])
    // The scanner's own ignored match counts as suppressed too.
    expect(result.counts.high).toEqual({ total: 3, fixable: 2, blocking: 1, suppressed: 2 })
  })
})

describe('max', () => {
  const three = reportOf([finding('CVE-1', 'high'), finding('CVE-2', 'high'), finding('CVE-3', 'medium')])
  it.each([
    [{ high: 2 }, 'pass', 0],
    [{ high: 1 }, 'fail', 2],
    [{ medium: 0 }, 'fail', 3],
    [{ high: 5, medium: 1 }, 'pass', 0],
    [{ critical: 0 }, 'fail', 2]
  ] as const)('max %j → %s with %i blocking', (max, decision, blocking) => {
    const result = evaluate(three, policy({ max }), { now: NOW, subject: SUBJECT })
    expect([result.decision, result.blocking]).toEqual([decision, blocking])
  })

  it('names the allowance in the reason', () => {
    const result = evaluate(three, policy({ max: { high: 1 } }), { now: NOW, subject: SUBJECT })
    expect(result.reasons).toEqual(['2 high findings (at most 1 allowed)'])
    const within = evaluate(three, policy({ max: { high: 2 } }), { now: NOW, subject: SUBJECT })
    expect(within.judgements[0]?.reason).toBe('within max.high (2 of 2 allowed)')
  })
})

describe('ignores', () => {
  const report = reportOf([
    finding('CVE-1', 'critical', { package: 'openssl' }),
    finding('GHSA-aaaa-bbbb-cccc', 'high', { aliases: ['CVE-2'], package: 'x/net', path: 'usr/bin/tool' })
  ])

  it.each([
    ['by id', [rule('CVE-1'), rule('CVE-2')], 0],
    ['by alias', [rule('CVE-1'), rule('CVE-2')], 0],
    ['limited to another package: no effect', [rule('CVE-1', { package: 'libssl3' })], 2],
    ['limited to its package', [rule('CVE-1', { package: 'openssl' })], 1],
    ['by path glob', [rule('CVE-2', { paths: ['usr/**'] }), rule('CVE-1')], 0],
    ['path glob elsewhere: no effect', [rule('CVE-2', { paths: ['opt/*'] })], 2],
    [
      'expired yesterday: no effect',
      [rule('CVE-1', { expires: '2026-03-15', expiresAt: Date.parse('2026-03-15') })],
      2
    ],
    [
      'expires tomorrow: applies',
      [rule('CVE-1', { expires: '2026-03-16', expiresAt: Date.parse('2026-03-16') })],
      1
    ]
  ])('%s', (_name, ignores, blocking) => {
    expect(evaluate(report, policy({ ignores }), { now: NOW, subject: SUBJECT }).blocking).toBe(blocking)
  })

  it('lists expired entries with what they would still match, and fails on them only when asked', () => {
    const expired = rule('CVE-1', {
      expires: '2026-01-01',
      expiresAt: Date.parse('2026-01-01'),
      source: '.trivyignore:3'
    })
    const stale = rule('CVE-9', { expires: '2025-01-01', expiresAt: Date.parse('2025-01-01') })
    const ignores = [expired, stale, rule('CVE-2')]
    const lenient = evaluate(report, policy({ ignores, max: { critical: 1 } }), {
      now: NOW,
      subject: SUBJECT
    })
    expect(lenient.decision).toBe('pass')
    expect(lenient.expiredIgnores).toEqual([
      {
        id: 'CVE-1',
        package: undefined,
        expires: '2026-01-01',
        reason: 'accepted',
        source: '.trivyignore:3',
        matches: 1
      },
      {
        id: 'CVE-9',
        package: undefined,
        expires: '2025-01-01',
        reason: 'accepted',
        source: 'policy.yml:1',
        matches: 0
      }
    ])
    const strict = evaluate(report, policy({ ignores, max: { critical: 1 }, failOnExpiredIgnore: true }), {
      now: NOW,
      subject: SUBJECT
    })
    expect([strict.decision, strict.blocking, strict.reasons]).toEqual([
      'fail',
      0,
      ['2 expired ignore entries (fail-on-expired-ignore)']
    ])
  })

  it('reports entries in force that matched nothing', () => {
    const result = evaluate(report, policy({ ignores: [rule('CVE-1'), rule('CVE-404')] }), {
      now: NOW,
      subject: SUBJECT
    })
    expect(result.unusedIgnores.map(r => r.id)).toEqual(['CVE-404'])
  })
})

describe('OpenVEX', () => {
  const vex = (statements: object[], timestamp = '2026-01-01T00:00:00Z') =>
    parseOpenVex(
      JSON.stringify({
        '@context': 'https://openvex.dev/ns/v0.2.0',
        '@id': 'x',
        author: 'a',
        timestamp,
        version: 1,
        statements
      }),
      'vex.json'
    )
  const report = reportOf([
    finding('CVE-1', 'critical', { package: 'openssl', purl: 'pkg:deb/debian/openssl@3.0.11?arch=amd64' }),
    finding('CVE-2', 'high', { package: 'zlib1g' })
  ])
  const purl = `pkg:oci/app@${encodeURIComponent(FIXTURE_DIGEST)}?repository_url=ghcr.io/octo/app`
  const notAffected = { status: 'not_affected', justification: 'vulnerable_code_not_in_execute_path' }

  it.each([
    [
      'an oci purl with the digest',
      [{ vulnerability: { name: 'CVE-1' }, products: [{ '@id': purl }], ...notAffected }],
      1
    ],
    [
      'the image reference with the digest',
      [{ vulnerability: 'CVE-1', products: [`ghcr.io/octo/app@${FIXTURE_DIGEST}`], ...notAffected }],
      1
    ],
    ['the repository', [{ vulnerability: 'CVE-1', products: ['ghcr.io/octo/app'], ...notAffected }], 1],
    [
      'another digest',
      [{ vulnerability: 'CVE-1', products: [`ghcr.io/octo/app@${OTHER_DIGEST}`], ...notAffected }],
      2
    ],
    ['another repository', [{ vulnerability: 'CVE-1', products: ['ghcr.io/octo/other'], ...notAffected }], 2],
    [
      'a matching subcomponent purl',
      [
        {
          vulnerability: 'CVE-1',
          products: [{ '@id': purl, subcomponents: [{ '@id': 'pkg:deb/debian/openssl' }] }],
          ...notAffected
        }
      ],
      1
    ],
    [
      'another subcomponent',
      [
        {
          vulnerability: 'CVE-1',
          products: [{ '@id': purl, subcomponents: [{ '@id': 'pkg:deb/debian/libssl3' }] }],
          ...notAffected
        }
      ],
      2
    ],
    ['status fixed', [{ vulnerability: 'CVE-2', products: [purl], status: 'fixed' }], 1],
    [
      'status affected',
      [{ vulnerability: 'CVE-1', products: [purl], status: 'affected', action_statement: 'upgrade' }],
      2
    ],
    [
      'status under_investigation',
      [{ vulnerability: 'CVE-1', products: [purl], status: 'under_investigation' }],
      2
    ]
  ])('a statement naming %s', (_name, statements, blocking) => {
    expect(evaluate(report, policy({ vex: vex(statements) }), { now: NOW, subject: SUBJECT }).blocking).toBe(
      blocking
    )
  })

  it('shows the justification, and the latest statement wins', () => {
    const statements = vex([
      {
        vulnerability: 'CVE-1',
        products: [purl],
        ...notAffected,
        impact_statement: 'only used in tests',
        timestamp: '2026-01-02T00:00:00Z'
      },
      { vulnerability: 'CVE-1', products: [purl], status: 'affected', timestamp: '2026-02-01T00:00:00Z' },
      { vulnerability: 'CVE-2', products: [purl], status: 'affected', timestamp: '2026-01-02T00:00:00Z' },
      { vulnerability: 'CVE-2', products: [purl], ...notAffected, timestamp: '2026-02-01T00:00:00Z' }
    ])
    const result = evaluate(report, policy({ vex: statements }), { now: NOW, subject: SUBJECT })
    expect(result.judgements.map(j => [j.finding.id, j.disposition, j.reason])).toEqual([
      ['CVE-1', 'blocking', undefined],
      [
        'CVE-2',
        'suppressed',
        'not affected (VEX): vulnerable_code_not_in_execute_path [vex.json#statements[3]]'
      ]
    ])
  })
})

describe('baseline', () => {
  it('lets only findings absent from the baseline block', () => {
    const report = reportOf([
      finding('CVE-1', 'critical', { package: 'a' }),
      finding('CVE-2', 'critical', { package: 'b' })
    ])
    const baseline = new Set([
      baselineKey({ id: 'CVE-1', package: 'a' }),
      baselineKey({ id: 'CVE-2', package: 'other' })
    ])
    const result = evaluate(report, policy(), { now: NOW, subject: SUBJECT, baseline })
    expect(result.judgements.map(j => [j.finding.id, j.disposition])).toEqual([
      ['CVE-1', 'baseline'],
      ['CVE-2', 'blocking']
    ])
    expect(result.blocking).toBe(1)
  })
})

describe('policy digest', () => {
  it('changes with any rule and is stable otherwise', () => {
    const base = policyDigest(policy())
    expect(policyDigest(policy())).toBe(base)
    expect(base).toMatch(/^sha256:[a-f0-9]{64}$/)
    expect(policyDigest(policy({ severity: 'critical' }))).not.toBe(base)
    expect(policyDigest(policy({ ignores: [rule('CVE-1')] }))).not.toBe(base)
    expect(policyDigest(policy({ max: { low: 3 } }))).not.toBe(base)
  })
})
