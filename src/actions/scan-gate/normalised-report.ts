import { promises as fs } from 'node:fs'
import type { Evaluation, Policy } from '../../lib/policy/evaluate.js'
import { SEVERITIES, type ScanReport } from '../../lib/scanner/finding.js'
import type { SubjectCheck } from './report-subject.js'

const LINES_PER_WRITE = 2000

/**
 * Writes the `report` output: the decision, counts and every finding with what the policy did to it, in one
 * scanner-independent JSON shape. Findings are written in batches so a large report is never one huge string.
 */
export async function writeNormalisedReport(
  file: string,
  facts: {
    image: string
    report: ScanReport
    evaluation: Evaluation
    policy: Policy
    policyDigest: string
    subject: SubjectCheck
  }
): Promise<void> {
  const { report, evaluation, policy } = facts
  const head = {
    schemaVersion: 1,
    image: facts.image,
    reportSubject: facts.subject,
    decision: evaluation.decision,
    reasons: evaluation.reasons,
    blocking: evaluation.blocking,
    counts: evaluation.counts,
    scanner: report.scanner,
    format: report.format,
    policy: {
      digest: facts.policyDigest,
      severity: policy.severity,
      ignoreUnfixed: policy.ignoreUnfixed,
      failOnExpiredIgnore: policy.failOnExpiredIgnore,
      max: Object.fromEntries(
        SEVERITIES.filter(s => policy.max[s] !== undefined).map(s => [s, policy.max[s]])
      )
    },
    expiredIgnores: evaluation.expiredIgnores
  }
  const handle = await fs.open(file, 'w')
  try {
    await handle.writeFile(`${JSON.stringify(head).slice(0, -1)},"findings":[\n`)
    const { judgements } = evaluation
    for (let start = 0; start < judgements.length; start += LINES_PER_WRITE) {
      const lines = judgements.slice(start, start + LINES_PER_WRITE).map(
        ({ finding, disposition, reason }, i) =>
          // Undefined fields are left out by JSON.stringify; one object shape keeps this fast for large reports.
          JSON.stringify({
            id: finding.id,
            aliases: finding.aliases.length ? finding.aliases : undefined,
            package: finding.package,
            installedVersion: finding.installedVersion,
            fixedVersion: finding.fixedVersion,
            fixable: finding.fixable,
            status: finding.status || undefined,
            severity: finding.severity,
            disposition,
            reason: reason || undefined,
            target: finding.target || undefined,
            purl: finding.purl || undefined,
            url: finding.url || undefined
          }) + (start + i < judgements.length - 1 ? ',' : '')
      )
      await handle.writeFile(lines.join('\n') + '\n')
    }
    await handle.writeFile(']}\n')
  } finally {
    await handle.close()
  }
}
