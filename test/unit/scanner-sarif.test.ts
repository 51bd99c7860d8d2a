import { describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import { evaluate } from '../../src/lib/policy/index.js'
import { parseReport, sarifChunks, toSarif, type SarifFinding } from '../../src/lib/scanner/index.js'
import { sarifValidator } from '../support/scanner/sarif-schema.js'
import { fixture, FIXTURE_DIGEST, FIXTURE_IMAGE } from '../support/scanner/standin.js'

const report = parseReport(readFileSync(fixture('trivy-mixed.json'), 'utf8'))
const evaluation = evaluate(
  report,
  {
    severity: 'high',
    ignoreUnfixed: true,
    max: {},
    failOnExpiredIgnore: false,
    ignores: [{ id: 'CVE-2024-0002', reason: 'timing only', source: 'policy.yml:3' }],
    vex: []
  },
  {
    now: Date.parse('2026-03-01'),
    subject: { registry: 'ghcr.io', repository: 'octo/app', digest: FIXTURE_DIGEST }
  }
)
const findings: SarifFinding[] = evaluation.judgements.map(j => ({
  finding: j.finding,
  blocking: j.disposition === 'blocking',
  suppression: j.disposition === 'suppressed' ? j.reason : undefined
}))
const options = {
  image: `${FIXTURE_IMAGE}@${FIXTURE_DIGEST}`,
  imageName: FIXTURE_IMAGE,
  digest: FIXTURE_DIGEST,
  scanner: { name: 'trivy', version: '0.69.2' }
}

interface Log {
  runs: Array<{
    tool: {
      driver: {
        rules: Array<{
          id: string
          properties: Record<string, unknown>
          defaultConfiguration: { level: string }
        }>
      }
    }
    results: Array<{
      ruleId: string
      ruleIndex: number
      level: string
      suppressions?: Array<{ justification: string }>
      locations: unknown[]
    }>
  }>
}

describe('SARIF output', () => {
  const log = toSarif(findings, options)

  it('is valid against the SARIF 2.1.0 JSON schema', () => {
    const validate = sarifValidator()
    const valid = validate(JSON.parse(JSON.stringify(log)))
    expect(validate.errors ?? []).toEqual([])
    expect(valid).toBe(true)
  })

  it('the schema check can fail: a result without a message is refused', () => {
    const broken = JSON.parse(JSON.stringify(log)) as Log
    delete (broken.runs[0]?.results[0] as { message?: unknown }).message
    expect(sarifValidator()(broken)).toBe(false)
  })

  it('has one rule per vulnerability id, with level and security-severity from the severity', () => {
    const run = (log as unknown as Log).runs[0]
    const rules = run?.tool.driver.rules ?? []
    expect(rules.map(r => r.id)).toEqual([...new Set(report.findings.map(f => f.id))])
    const byId = Object.fromEntries(
      rules.map(r => [
        r.id,
        [
          r.defaultConfiguration.level,
          r.properties['security-severity'] ?? null,
          (r.properties.tags as string[])[2]
        ]
      ])
    )
    expect(byId['CVE-2024-0001']).toEqual(['error', '9.5', 'CRITICAL'])
    expect(byId['CVE-2024-0003']).toEqual(['error', '8.0', 'HIGH'])
    expect(byId['CVE-2024-0004']).toEqual(['warning', '5.5', 'MEDIUM'])
    expect(byId['CVE-2024-0006']).toEqual(['note', '2.0', 'LOW'])
    expect(byId['CVE-2024-0009']).toEqual(['note', null, 'UNKNOWN'])
  })

  it('has one result per finding, pointing at its rule; suppressed ones carry the reason', () => {
    const results = (log as unknown as Log).runs[0]?.results ?? []
    expect(results).toHaveLength(report.findings.length)
    const rules = (log as unknown as Log).runs[0]?.tool.driver.rules ?? []
    for (const result of results) expect(rules[result.ruleIndex]?.id).toBe(result.ruleId)
    const suppressed = results
      .filter(r => r.suppressions)
      .map(r => [r.ruleId, r.suppressions?.[0]?.justification])
    expect(suppressed).toContainEqual(['CVE-2024-0002', 'timing only [policy.yml:3]'])
    expect(suppressed).toContainEqual(['CVE-2024-0003', 'no fix available (ignore-unfixed)'])
    expect(suppressed).toHaveLength(
      evaluation.counts.critical.suppressed +
        evaluation.counts.high.suppressed +
        evaluation.counts.medium.suppressed +
        evaluation.counts.low.suppressed +
        evaluation.counts.unknown.suppressed
    )
  })

  it('reads back as the same findings, and the same decision: SARIF does not change what fails', () => {
    const again = parseReport(JSON.stringify(log))
    expect(again.format).toBe('sarif')
    expect(again.artifact.digests).toEqual([FIXTURE_DIGEST])
    const key = (f: {
      id: string
      package: string
      severity: string
      fixable: boolean
      fixedVersion: string
    }) => [f.id, f.package, f.severity, f.fixable, f.fixedVersion].join('|')
    const unsuppressed = evaluation.judgements
      .filter(j => j.disposition !== 'suppressed')
      .map(j => key(j.finding))
    expect(again.findings.map(key).sort()).toEqual(unsuppressed.sort())
    expect(again.suppressed).toHaveLength(report.findings.length - unsuppressed.length)
  })
})

describe('SARIF output in chunks', () => {
  const many: SarifFinding[] = Array.from({ length: 5000 }, (_, i) => ({
    finding: {
      ...(findings[i % findings.length] as SarifFinding).finding,
      id: `CVE-2025-${10000 + (i % 2500)}`
    },
    blocking: i % 2 === 0
  }))

  it('comes as many small pieces that join to one log, every finding and rule in it', () => {
    const chunks = [...sarifChunks(many, options)]
    expect(chunks.length).toBeGreaterThan(5)
    const longest = Math.max(...chunks.map(chunk => chunk.length))
    const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0)
    expect(longest).toBeLessThan(total / 4)
    // Joined, the chunks are one JSON document (schema validity is the tests above', on the same code path).
    const log = JSON.parse(chunks.join('')) as Log
    expect(log.runs[0]?.results).toHaveLength(5000)
    expect(log.runs[0]?.tool.driver.rules).toHaveLength(2500)
    expect(log.runs[0]?.results[4999]?.ruleId).toBe('CVE-2025-12499')
    expect(log.runs[0]?.tool.driver.rules[log.runs[0]?.results[4999]?.ruleIndex as number]?.id).toBe(
      'CVE-2025-12499'
    )
  })

  it('an empty log is still a valid one', () => {
    const log = JSON.parse([...sarifChunks([], options)].join('')) as Log
    expect(sarifValidator()(log)).toBe(true)
    expect([log.runs[0]?.results, log.runs[0]?.tool.driver.rules]).toEqual([[], []])
  })
})
