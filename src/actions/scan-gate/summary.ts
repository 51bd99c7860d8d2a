import type { Evaluation, Judgement, Policy } from '../../lib/policy/evaluate.js'
import { shownId } from '../../lib/policy/rules.js'
import { advisoryUrl, SEVERITIES, type Finding, type ScanReport } from '../../lib/scanner/finding.js'
import { cell, code, keyValueTable, link, table } from '../../lib/summary.js'
import type { DatabaseState } from '../../lib/scanner/database.js'
import type { Verdict } from '../../lib/verdict/verdict.js'
import type { SubjectCheck } from './report-subject.js'

const DATABASE_STATE: Record<DatabaseState, string> = {
  cache: 'from the cache',
  updated: 'updated by this run',
  stale: 'from the cache: its update failed, so findings published since are missing'
}

/** Rows per findings table: the summary must stay far below the runner's 1 MiB limit. */
export const SUMMARY_ROWS = 50

export interface SummaryFacts {
  image: string
  digest: string
  report: ScanReport
  evaluation: Evaluation
  policy: Policy
  policyDigest: string
  policySources: string[]
  source: string
  fail: boolean
  verdictRef?: string
  baseline?: string
  subjectCheck: SubjectCheck
  /** The database of a scan run by the action. */
  database?: NonNullable<Verdict['database']>
}

/** The job summary: decision banner, counts, the blocking findings, what was suppressed and why, expired ignores. */
export function summaryOf(facts: SummaryFacts): string {
  const { evaluation, policy } = facts
  const pass = evaluation.decision === 'pass'
  const image = `${facts.image}@${facts.digest}`
  const banner = pass
    ? `## ✅ scan-gate: pass\n\nNothing blocks ${code(image)} at threshold **${policy.severity}**.\n\n`
    : `## ❌ scan-gate: fail${facts.fail ? '' : ' (not failing the job: `fail: false`)'}\n\n` +
      `${code(image)} is blocked: ${evaluation.reasons.map(cell).join('; ')}.\n\n`

  const counts = table(
    ['Severity', 'Total', 'Fixable', 'Blocking', 'Suppressed'],
    SEVERITIES.map(severity => {
      const count = evaluation.counts[severity]
      return [
        severity,
        String(count.total),
        String(count.fixable),
        String(count.blocking),
        String(count.suppressed)
      ]
    })
  )

  const by = (disposition: Judgement['disposition']) =>
    evaluation.judgements.filter(j => j.disposition === disposition)
  // Worst first: the rows a reader acts on.
  const rank = (j: Judgement): number => SEVERITIES.indexOf(j.finding.severity)
  const blocking = by('blocking').sort((a, b) => rank(a) - rank(b))
  const suppressed = by('suppressed')
  const baseline = by('baseline')
  const allowed = by('allowed')

  const trust =
    facts.subjectCheck.how === 'trusted'
      ? '> [!WARNING]\n> The report does not name the image it is of: its subject was taken on trust (`report-subject: trust`).\n\n'
      : ''
  let body = `${banner}${trust}${counts}\n`
  if (blocking.length) {
    body +=
      `### Blocking findings (${blocking.length})\n\n` +
      limited(blocking, ['Vulnerability', 'Package', 'Installed → fixed', 'Severity'], ({ finding }) => [
        advisory(finding),
        cell(finding.package),
        versions(finding),
        cell(finding.severity)
      ])
  }
  if (suppressed.length) {
    body +=
      `### Suppressed (${suppressed.length})\n\n` +
      limited(suppressed, ['Vulnerability', 'Package', 'Severity', 'Why'], ({ finding, reason }) => [
        advisory(finding),
        cell(finding.package),
        cell(finding.severity),
        cell(reason ?? '')
      ])
  }
  if (evaluation.expiredIgnores.length) {
    body +=
      `### Expired ignores (${evaluation.expiredIgnores.length})\n\n` +
      'These entries no longer apply; the findings they named count again.\n\n' +
      table(
        ['Vulnerability', 'Package', 'Expired', 'Reason', 'Where', 'Matches now'],
        evaluation.expiredIgnores
          .slice(0, SUMMARY_ROWS)
          .map(e => [
            cell(e.id),
            cell(e.package ?? 'any'),
            cell(e.expires),
            cell(e.reason),
            code(e.source),
            String(e.matches)
          ])
      ) +
      '\n'
  }
  if (evaluation.unusedIgnores.length) {
    body +=
      `### Ignore entries that matched nothing (${evaluation.unusedIgnores.length})\n\n` +
      evaluation.unusedIgnores
        .slice(0, SUMMARY_ROWS)
        .map(
          rule =>
            // What the entry parsed to (its id, cut short), never the line as written.
            `- ${code(shownId(rule.id))}${rule.package ? ` in ${code(shownId(rule.package))}` : ''} (${code(rule.source)})`
        )
        .join('\n') +
      '\n\n'
  }
  if (baseline.length || allowed.length) {
    body +=
      `${baseline.length} finding${baseline.length === 1 ? ' is' : 's are'} also in the baseline and cannot block; ` +
      `${allowed.length} ${allowed.length === 1 ? 'is' : 'are'} allowed (below the threshold or within max).\n\n`
  }

  const max = SEVERITIES.filter(s => policy.max[s] !== undefined)
    .map(s => `${s} ≤ ${policy.max[s]}`)
    .join(', ')
  body +=
    '### How this was decided\n\n' +
    keyValueTable([
      ['Image', code(facts.image)],
      ['Digest', code(facts.digest)],
      ['Report', cell(facts.source)],
      [
        'Report format',
        cell(
          `${facts.report.format} (${facts.report.scanner.name}${facts.report.scanner.version ? ` ${facts.report.scanner.version}` : ''})`
        )
      ],
      ['Report subject', cell(facts.subjectCheck.text)],
      [
        'Vulnerability database',
        facts.database &&
          cell(
            `built ${facts.database.built} (${facts.database.age} old), ` +
              `${DATABASE_STATE[facts.database.state]}; source ${facts.database.source}`
          )
      ],
      ['Threshold', `${policy.severity} and above block`],
      ['ignore-unfixed', String(policy.ignoreUnfixed)],
      ['max', max ? cell(max) : undefined],
      ['fail-on-expired-ignore', String(policy.failOnExpiredIgnore)],
      ['Baseline', facts.baseline && cell(facts.baseline)],
      ['Policy read from', facts.policySources.map(cell).join('<br>') || 'inputs only'],
      ['Policy digest', code(facts.policyDigest)],
      ['Verdict', facts.verdictRef && code(facts.verdictRef)]
    ])
  return body
}

function limited(rows: Judgement[], header: string[], render: (row: Judgement) => string[]): string {
  const shown = rows.slice(0, SUMMARY_ROWS)
  const more = rows.length - shown.length
  return (
    table(header, shown.map(render)) +
    (more > 0 ? `\n…and ${more} more: see the \`report\` output.\n` : '') +
    '\n'
  )
}

function advisory(finding: Finding): string {
  return link(finding.id, advisoryUrl(finding))
}

function versions(finding: Finding): string {
  return `${cell(finding.installedVersion || '?')} → ${finding.fixedVersion ? cell(finding.fixedVersion) : 'no fix'}`
}
