import { describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  parseReport,
  readReport,
  ReportError,
  type Finding,
  type ScanReport
} from '../../src/lib/scanner/index.js'
import { fixture, FIXTURE_DIGEST, FIXTURE_IMAGE } from '../support/scanner/standin.js'

const read = (name: string): string => readFileSync(fixture(name), 'utf8')
const byId = (report: ScanReport): Map<string, Finding> =>
  new Map(report.findings.map(f => [`${f.id} ${f.package}`, f]))
const brief = (f: Finding) => [f.id, f.package, f.severity, f.fixable, f.status ?? null, f.fixedVersion]

function refusal(content: string | Buffer): string {
  try {
    parseReport(content)
  } catch (error) {
    if (error instanceof ReportError) return error.message
    throw error
  }
  throw new Error('the report was accepted')
}

describe('Trivy JSON (SchemaVersion 2)', () => {
  const report = parseReport(read('trivy-mixed.json'))

  it('reads every vulnerability of every result, and nothing else (misconfigurations are not findings)', () => {
    expect(report.format).toBe('trivy')
    expect(report.scanner.name).toBe('trivy')
    expect(report.findings).toHaveLength(13)
    expect(report.artifact).toEqual({
      name: `${FIXTURE_IMAGE}@${FIXTURE_DIGEST}`,
      digests: [FIXTURE_DIGEST],
      references: [`${FIXTURE_IMAGE}@${FIXTURE_DIGEST}`, `${FIXTURE_IMAGE}@${FIXTURE_DIGEST}`]
    })
  })

  it('maps every Trivy Status, FixedVersion or its absence, and UNKNOWN severity', () => {
    const f = byId(report)
    expect(brief(f.get('CVE-2024-0001 libssl3') as Finding)).toEqual([
      'CVE-2024-0001',
      'libssl3',
      'critical',
      true,
      'fixed',
      '3.0.13-1~deb12u1'
    ])
    expect(brief(f.get('CVE-2024-0003 zlib1g') as Finding)).toEqual([
      'CVE-2024-0003',
      'zlib1g',
      'high',
      false,
      'affected',
      ''
    ])
    expect(brief(f.get('CVE-2024-0004 libc6') as Finding)).toEqual([
      'CVE-2024-0004',
      'libc6',
      'medium',
      false,
      'will_not_fix',
      ''
    ])
    expect(brief(f.get('CVE-2024-0005 libc6') as Finding)).toEqual([
      'CVE-2024-0005',
      'libc6',
      'medium',
      false,
      'fix_deferred',
      ''
    ])
    expect(brief(f.get('CVE-2024-0006 perl-base') as Finding)).toEqual([
      'CVE-2024-0006',
      'perl-base',
      'low',
      false,
      'end_of_life',
      ''
    ])
    expect(brief(f.get('CVE-2024-0007 libgnutls30') as Finding)).toEqual([
      'CVE-2024-0007',
      'libgnutls30',
      'high',
      false,
      'under_investigation',
      ''
    ])
    expect(brief(f.get('CVE-2024-0008 libsystemd0') as Finding)).toEqual([
      'CVE-2024-0008',
      'libsystemd0',
      'low',
      false,
      'not_affected',
      ''
    ])
    expect(brief(f.get('CVE-2024-0009 login') as Finding)).toEqual([
      'CVE-2024-0009',
      'login',
      'unknown',
      false,
      'unknown',
      ''
    ])
    // No Status, but a FixedVersion: fixable.
    expect(brief(f.get('CVE-2024-0010 bash') as Finding)).toEqual([
      'CVE-2024-0010',
      'bash',
      'critical',
      true,
      null,
      '5.2.15-2+b8'
    ])
    // Neither: not fixable.
    expect(brief(f.get('CVE-2024-0011 tar') as Finding)).toEqual([
      'CVE-2024-0011',
      'tar',
      'medium',
      false,
      null,
      ''
    ])
  })

  it('keeps the target, purl, path, advisory link and vendor ids (aliases)', () => {
    const f = byId(report)
    const ghsa = f.get('GHSA-qppj-fm5r-hxr3 golang.org/x/net') as Finding
    expect(ghsa).toMatchObject({
      aliases: ['CVE-2023-45288'],
      target: 'usr/local/bin/tool',
      path: 'usr/local/bin/tool',
      severity: 'high',
      fixable: true
    })
    expect(f.get('CVE-2024-0001 libssl3')).toMatchObject({
      target: `${FIXTURE_IMAGE}@${FIXTURE_DIGEST} (debian 12.5)`,
      purl: 'pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12.5',
      url: 'https://avd.aquasec.com/nvd/cve-2024-0001',
      title: 'openssl: buffer overflow'
    })
  })

  it('reads the suppressed findings Trivy records with --show-suppressed, with their reason', () => {
    const suppressed = parseReport(read('trivy-suppressed.json'))
    expect(suppressed.findings.map(f => f.id)).toEqual(['CVE-2024-0001'])
    expect(suppressed.suppressed.map(s => [s.finding.id, s.reason])).toEqual([
      ['CVE-2024-0002', 'ignored by Trivy: Accepted until the next base image: (.trivyignore)'],
      ['CVE-2024-0003', 'not_affected by Trivy: vulnerable_code_not_in_execute_path: (vex.json)']
    ])
  })

  it('reads a report without Results as zero findings', () => {
    const clean = parseReport(read('trivy-clean.json'))
    expect([clean.format, clean.findings.length, clean.artifact.digests]).toEqual([
      'trivy',
      0,
      [FIXTURE_DIGEST]
    ])
  })
})

describe('Trivy legacy array', () => {
  it('reads the top-level array of results (Trivy before 0.20), null Vulnerabilities as none', () => {
    const report = parseReport(read('trivy-legacy.json'))
    expect(report.format).toBe('trivy-legacy')
    expect(report.findings.map(brief)).toEqual([
      ['CVE-2020-28928', 'musl', 'medium', true, null, '1.1.24-r10'],
      ['CVE-2020-1967', 'libssl1.1', 'high', false, null, '']
    ])
    expect(report.artifact.digests).toEqual([])
  })

  it('reads the JSON null (an image without findings) as zero findings', () => {
    const report = parseReport(read('trivy-legacy-null.json'))
    expect([report.format, report.findings.length]).toEqual(['trivy-legacy', 0])
  })
})

describe('Grype JSON', () => {
  const report = parseReport(read('grype-mixed.json'))

  it('reads matches with fix states, Negligible as low, related CVEs as aliases', () => {
    expect(report.format).toBe('grype')
    expect(report.scanner).toEqual({ name: 'grype', version: '0.104.0' })
    expect(report.findings.map(brief)).toEqual([
      ['CVE-2024-0001', 'libssl3', 'critical', true, 'fixed', '3.0.13-1~deb12u1'],
      ['CVE-2024-0003', 'zlib1g', 'high', false, 'not-fixed', ''],
      ['CVE-2024-0004', 'libc6', 'medium', false, 'wont-fix', ''],
      ['CVE-2024-0009', 'login', 'unknown', false, 'unknown', ''],
      ['CVE-2024-0006', 'perl-base', 'low', false, 'not-fixed', ''],
      ['GHSA-qppj-fm5r-hxr3', 'golang.org/x/net', 'high', true, 'fixed', '0.23.0'],
      ['CVE-2024-0011', 'tar', 'low', true, 'fixed', '1.34+dfsg-1.3, 1.35']
    ])
    expect(report.findings[5]?.aliases).toEqual(['CVE-2023-45288'])
    expect(report.findings[5]?.path).toBe('/usr/local/bin/tool')
  })

  it('records the manifest digest and the ignored matches with the rule that ignored them', () => {
    expect(report.artifact.digests).toEqual([FIXTURE_DIGEST])
    expect(report.suppressed.map(s => [s.finding.id, s.reason])).toEqual([
      ['CVE-2024-0002', 'ignored by Grype: CVE-2024-0002 timing attack needs local access']
    ])
  })
})

describe('SARIF 2.1.0', () => {
  it("reads Trivy's SARIF: severity from the rule's tags, package and versions from the message", () => {
    const report = parseReport(read('trivy-sarif.json'))
    expect([report.format, report.scanner]).toEqual(['sarif', { name: 'trivy', version: '0.69.2' }])
    expect(report.findings.map(brief)).toEqual([
      ['CVE-2024-0001', 'libssl3', 'critical', true, null, '3.0.13-1~deb12u1'],
      ['CVE-2024-0003', 'zlib1g', 'high', false, null, ''],
      ['CVE-2024-0004', 'libc6', 'medium', false, null, '']
    ])
    expect(report.artifact.digests).toEqual([FIXTURE_DIGEST])
  })

  it("reads Grype's SARIF: id from the rule id, severity from security-severity, suppressions honoured", () => {
    const report = parseReport(read('grype-sarif.json'))
    expect(report.findings.map(brief)).toEqual([['CVE-2024-0001', 'libssl3', 'critical', false, null, '']])
    expect(report.suppressed.map(s => [s.finding.id, s.finding.severity, s.reason])).toEqual([
      ['CVE-2024-0004', 'medium', 'suppressed in the SARIF log: accepted by the platform team']
    ])
  })
})

describe('fields the scanners omit or null are not malformed', () => {
  const trivy = JSON.parse(read('trivy-mixed.json'))
  const grype = JSON.parse(read('grype-mixed.json'))

  it.each([
    ['absent', undefined],
    ['null', null],
    ['empty', '']
  ])('a Grype match whose vulnerability.severity is %s is an unknown finding', (_name, severity) => {
    const copy = structuredClone(grype)
    if (severity === undefined) delete copy.matches[0].vulnerability.severity
    else copy.matches[0].vulnerability.severity = severity
    const report = parseReport(JSON.stringify(copy))
    expect(report.findings).toHaveLength(grype.matches.length)
    expect(report.findings[0]?.severity).toBe('unknown')
    expect(report.findings[0]?.id).toBe(grype.matches[0].vulnerability.id)
  })

  it('a Grype match without metadata (fix.state "", no versions, no dataSource) reads as unknown and unfixed', () => {
    const copy = structuredClone(grype)
    copy.matches[0].vulnerability = {
      id: 'CVE-2024-9999',
      dataSource: '',
      fix: { versions: null, state: '' }
    }
    const finding = parseReport(JSON.stringify(copy)).findings[0]
    expect(finding && brief(finding)).toEqual([
      'CVE-2024-9999',
      finding?.package,
      'unknown',
      false,
      'unknown',
      ''
    ])
  })

  it.each([
    ['absent', undefined],
    ['empty', '']
  ])('a Trivy vulnerability whose Severity is %s (omitempty) is an unknown finding', (_name, severity) => {
    const copy = structuredClone(trivy)
    if (severity === undefined) delete copy.Results[0].Vulnerabilities[0].Severity
    else copy.Results[0].Vulnerabilities[0].Severity = severity
    expect(parseReport(JSON.stringify(copy)).findings[0]?.severity).toBe('unknown')
  })
})

describe('fail closed', () => {
  const trivy = JSON.parse(read('trivy-mixed.json'))
  const mutate = (change: (report: typeof trivy) => void): string => {
    const copy = structuredClone(trivy)
    change(copy)
    return JSON.stringify(copy)
  }

  it.each([
    ['an empty file', '', 'is empty'],
    ['white space only', '  \n', 'is empty'],
    ['a truncated report', read('trivy-mixed.json').slice(0, 5000), 'is truncated'],
    ['not JSON at all', 'Error: failed to scan image', 'is not valid JSON'],
    ['a number', '42', 'is the number 42, not a scanner report'],
    [
      'Trivy with an ArtifactName that is not a string',
      '{"SchemaVersion": 2, "ArtifactName": 7}',
      'ArtifactName is the number 7; expected a string'
    ],
    ['an unknown object', '{"findings": []}', "unrecognised format (top-level keys 'findings')"],
    [
      'Trivy with another SchemaVersion',
      mutate(r => (r.SchemaVersion = 3)),
      'SchemaVersion the number 3 is not supported'
    ],
    [
      'a severity Trivy does not have',
      mutate(r => (r.Results[0].Vulnerabilities[2].Severity = 'SEVERE')),
      'has Severity the string "SEVERE"'
    ],
    [
      'a severity that is a number',
      mutate(r => (r.Results[0].Vulnerabilities[0].Severity = 3)),
      'Severity is the number 3; expected a string'
    ],
    [
      'no package name',
      mutate(r => delete r.Results[0].Vulnerabilities[0].PkgName),
      'Results[0].Vulnerabilities[0].PkgName is missing'
    ],
    [
      'a Grype severity Grype does not have',
      read('grype-mixed.json').replace('"severity": "High"', '"severity": "Severe"'),
      'has severity the string "Severe"'
    ],
    [
      'a Grype match without a package name',
      JSON.stringify({ matches: [{ vulnerability: { id: 'CVE-2024-1' }, artifact: {} }], source: null }),
      'matches[0].artifact.name is missing'
    ],
    [
      'an unknown Status',
      mutate(r => (r.Results[0].Vulnerabilities[0].Status = 'patched')),
      "has Status 'patched'"
    ],
    [
      'no id',
      mutate(r => delete r.Results[1].Vulnerabilities[0].VulnerabilityID),
      'Results[1].Vulnerabilities[0].VulnerabilityID is missing'
    ],
    [
      'a number for a version',
      mutate(r => (r.Results[0].Vulnerabilities[0].FixedVersion = 3)),
      'FixedVersion is the number 3'
    ],
    [
      'Vulnerabilities as an object',
      mutate(r => (r.Results[0].Vulnerabilities = { a: 1 })),
      'Results[0].Vulnerabilities is an object; expected an array'
    ],
    [
      'Vulnerabilities as a string',
      mutate(r => (r.Results[0].Vulnerabilities = 'none')),
      'Results[0].Vulnerabilities is the string "none"'
    ],
    ['Results as an object', mutate(r => (r.Results = {})), 'Results is an object; expected an array'],
    ['a result that is a string', mutate(r => (r.Results[1] = 'x')), 'Results[1] is the string "x"'],
    [
      'both Trivy and Grype keys',
      mutate(r => Object.assign(r, { matches: [], descriptor: {} })),
      'looks like several formats at once'
    ],
    ['trailing garbage', read('trivy-clean.json') + '{}', 'after the end of the JSON document'],
    [
      'a SARIF 2.0 log',
      JSON.stringify({ version: '2.0.0', runs: [] }),
      'SARIF version the string "2.0.0" is not supported'
    ],
    [
      'a Grype fix state Grype does not have',
      read('grype-mixed.json').replace('"state": "not-fixed"', '"state": "maybe"'),
      "has fix.state 'maybe'"
    ]
  ])('refuses %s', (_name, content, message) => {
    expect(refusal(content)).toContain(message)
  })

  it('reads a file in chunks, and refuses a missing or empty one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'reports-'))
    try {
      const large = join(dir, 'large.json')
      const trivyBig = structuredClone(trivy)
      const template = trivyBig.Results[0].Vulnerabilities[0]
      trivyBig.Results[0].Vulnerabilities = Array.from({ length: 3000 }, (_, i) => ({
        ...template,
        VulnerabilityID: `CVE-2025-${10000 + i}`,
        Description: 'x'.repeat(1000)
      }))
      await writeFile(large, JSON.stringify(trivyBig, null, 2))
      const report = await readReport(large)
      expect(report.findings).toHaveLength(3000 + 3)
      expect(report.findings[2999]?.id).toBe('CVE-2025-12999')
      await writeFile(join(dir, 'empty.json'), '')
      await expect(readReport(join(dir, 'empty.json'))).rejects.toThrow('is empty (0 bytes)')
      await expect(readReport(join(dir, 'missing.json'))).rejects.toThrow('cannot be read')
      await expect(readReport(dir)).rejects.toThrow('is not a regular file')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
