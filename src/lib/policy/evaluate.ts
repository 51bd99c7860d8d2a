import { createHash } from 'node:crypto'
import { atLeast, SEVERITIES, type Finding, type ScanReport, type Severity } from '../scanner/finding.js'
import { isExpired, ruleMatches, type IgnoreRule } from './rules.js'
import { decidingStatement, vexReason, type VexStatement, type VexSubject } from './vex.js'

/** Everything the decision depends on besides the report. */
export interface Policy {
  /** The lowest severity that blocks. */
  severity: Severity
  ignoreUnfixed: boolean
  /** Findings allowed per severity; a severity without an entry allows none at or above `severity`, any below. */
  max: Partial<Record<Severity, number>>
  failOnExpiredIgnore: boolean
  ignores: IgnoreRule[]
  vex: VexStatement[]
}

/** What happened to a finding: it blocks, is allowed (below the threshold or within max), suppressed, or in the baseline. */
export type Disposition = 'blocking' | 'allowed' | 'suppressed' | 'baseline'

export interface Judgement {
  finding: Finding
  disposition: Disposition
  /** Why it was suppressed or allowed, and by what (file:line, VEX statement, ignore-unfixed). */
  reason?: string
}

export interface SeverityCounts {
  total: number
  fixable: number
  blocking: number
  suppressed: number
}

export interface ExpiredIgnore {
  id: string
  package?: string
  expires: string
  reason: string
  source: string
  /** Findings of this report the entry would have suppressed. */
  matches: number
}

export interface Evaluation {
  decision: 'pass' | 'fail'
  /** Why the gate failed, one sentence each; empty on pass. */
  reasons: string[]
  judgements: Judgement[]
  counts: Record<Severity, SeverityCounts>
  blocking: number
  expiredIgnores: ExpiredIgnore[]
  /** Entries in force that matched nothing: likely stale, or written for another scanner's ids. */
  unusedIgnores: IgnoreRule[]
}

export interface EvaluationContext {
  now: number
  /** The scanned image, for VEX products. */
  subject: VexSubject
  /** `baselineKey`s of the findings of the baseline: only findings absent from it can block. */
  baseline?: ReadonlySet<string>
}

/** How a finding is recognised in a baseline: same vulnerability in the same package, whatever the versions. */
export function baselineKey(finding: Pick<Finding, 'id' | 'package'>): string {
  return `${finding.id}\u0000${finding.package}`
}

/** Applies the policy to a report. Pure: same report, policy and time give the same result. */
export function evaluate(report: ScanReport, policy: Policy, context: EvaluationContext): Evaluation {
  const inForce = policy.ignores.filter(rule => !isExpired(rule, context.now))
  const expired = policy.ignores.filter(rule => isExpired(rule, context.now))
  const byId = indexRules(inForce)
  const expiredById = indexRules(expired)
  const used = new Set<IgnoreRule>()
  const expiredMatches = new Map<IgnoreRule, number>()
  const judgements: Judgement[] = []
  const vexById = indexStatements(policy.vex)

  for (const { finding, reason } of report.suppressed) {
    judgements.push({ finding, disposition: 'suppressed', reason })
  }
  const candidates: Judgement[] = []
  for (const finding of report.findings) {
    const ids = finding.aliases.length ? [finding.id, ...finding.aliases] : [finding.id]
    for (const rule of matchingRules(expiredById, ids, finding)) {
      expiredMatches.set(rule, (expiredMatches.get(rule) ?? 0) + 1)
    }
    const statement = vexById.size
      ? decidingStatement(vexFor(vexById, ids), finding, context.subject)
      : undefined
    if (statement && (statement.status === 'not_affected' || statement.status === 'fixed')) {
      judgements.push({ finding, disposition: 'suppressed', reason: vexReason(statement) })
      continue
    }
    const rule = matchingRules(byId, ids, finding)[0]
    if (rule) {
      used.add(rule)
      const until = rule.expires ? ` (until ${rule.expires})` : ''
      judgements.push({
        finding,
        disposition: 'suppressed',
        reason: `${rule.reason}${until} [${rule.source}]`
      })
      continue
    }
    if (policy.ignoreUnfixed && !finding.fixable) {
      judgements.push({ finding, disposition: 'suppressed', reason: 'no fix available (ignore-unfixed)' })
      continue
    }
    if (context.baseline?.has(baselineKey(finding))) {
      judgements.push({ finding, disposition: 'baseline', reason: 'also in the baseline' })
      continue
    }
    const judgement: Judgement = { finding, disposition: 'allowed' }
    candidates.push(judgement)
    judgements.push(judgement)
  }

  const reasons: string[] = []
  const perSeverity = new Map<Severity, Judgement[]>(SEVERITIES.map(severity => [severity, []]))
  for (const judgement of candidates) perSeverity.get(judgement.finding.severity)?.push(judgement)
  for (const severity of SEVERITIES) {
    const group = perSeverity.get(severity) as Judgement[]
    const limit = policy.max[severity]
    const allowed = limit ?? (atLeast(severity, policy.severity) ? 0 : Infinity)
    if (group.length > allowed) {
      for (const judgement of group) judgement.disposition = 'blocking'
      reasons.push(
        `${group.length} ${severity} finding${group.length === 1 ? '' : 's'} (${limit === undefined ? 'none' : `at most ${limit}`} allowed)`
      )
    } else {
      const why =
        limit !== undefined && atLeast(severity, policy.severity)
          ? `within max.${severity} (${group.length} of ${limit} allowed)`
          : `below the threshold (${policy.severity})`
      for (const judgement of group) judgement.reason = why
    }
  }

  const expiredIgnores: ExpiredIgnore[] = expired.map(rule => ({
    id: rule.id,
    package: rule.package,
    expires: rule.expires ?? '',
    reason: rule.reason,
    source: rule.source,
    matches: expiredMatches.get(rule) ?? 0
  }))
  if (policy.failOnExpiredIgnore && expiredIgnores.length > 0) {
    reasons.push(
      `${expiredIgnores.length} expired ignore entr${expiredIgnores.length === 1 ? 'y' : 'ies'} (fail-on-expired-ignore)`
    )
  }

  const counts = Object.fromEntries(
    SEVERITIES.map(severity => [severity, { total: 0, fixable: 0, blocking: 0, suppressed: 0 }])
  ) as Record<Severity, SeverityCounts>
  let blocking = 0
  for (const { finding, disposition } of judgements) {
    const count = counts[finding.severity]
    count.total++
    if (finding.fixable) count.fixable++
    if (disposition === 'blocking') {
      count.blocking++
      blocking++
    }
    if (disposition === 'suppressed') count.suppressed++
  }

  return {
    decision: reasons.length ? 'fail' : 'pass',
    reasons,
    judgements,
    counts,
    blocking,
    expiredIgnores,
    unusedIgnores: inForce.filter(rule => !used.has(rule))
  }
}

/** A digest of the policy as applied, so a verdict names exactly the rules it was decided by. */
export function policyDigest(policy: Policy): string {
  const canonical = {
    severity: policy.severity,
    ignoreUnfixed: policy.ignoreUnfixed,
    failOnExpiredIgnore: policy.failOnExpiredIgnore,
    max: Object.fromEntries(SEVERITIES.filter(s => policy.max[s] !== undefined).map(s => [s, policy.max[s]])),
    ignores: policy.ignores.map(rule => [
      rule.id,
      rule.package ?? null,
      rule.paths ?? null,
      rule.purls ?? null,
      rule.expires ?? null,
      rule.reason
    ]),
    vex: policy.vex.map(s => [
      s.vulnerabilities,
      s.products.map(p => [p.id, p.subcomponents]),
      s.status,
      s.justification ?? null,
      s.timestamp
    ])
  }
  return `sha256:${createHash('sha256').update(JSON.stringify(canonical)).digest('hex')}`
}

function indexRules(rules: IgnoreRule[]): Map<string, IgnoreRule[]> {
  const index = new Map<string, IgnoreRule[]>()
  for (const rule of rules) {
    const list = index.get(rule.id)
    if (list) list.push(rule)
    else index.set(rule.id, [rule])
  }
  return index
}

function matchingRules(index: Map<string, IgnoreRule[]>, ids: string[], finding: Finding): IgnoreRule[] {
  if (index.size === 0) return []
  const found: IgnoreRule[] = []
  for (const id of ids)
    for (const rule of index.get(id) ?? []) if (ruleMatches(rule, finding)) found.push(rule)
  return found
}

function indexStatements(statements: VexStatement[]): Map<string, VexStatement[]> {
  const index = new Map<string, VexStatement[]>()
  for (const statement of statements) {
    for (const name of statement.vulnerabilities) {
      const list = index.get(name)
      if (list) list.push(statement)
      else index.set(name, [statement])
    }
  }
  return index
}

function vexFor(index: Map<string, VexStatement[]>, ids: string[]): VexStatement[] {
  if (ids.length === 1) return index.get(ids[0] as string) ?? []
  return [...new Set(ids.flatMap(id => index.get(id) ?? []))]
}
