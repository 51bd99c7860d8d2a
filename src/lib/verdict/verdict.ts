import { ExternalError } from '../errors.js'
import { SEVERITIES, type Severity } from '../scanner/finding.js'
import type { DatabaseState } from '../scanner/database.js'

/** `artifactType` of a scan-gate verdict, and the media type of its one layer (the verdict JSON). */
export const VERDICT_ARTIFACT_TYPE = 'application/vnd.digest-delivery.scan-verdict.v1+json'
/** Annotation holding the decision on the verdict manifest (and its referrers entry). */
export const DECISION_ANNOTATION = 'dev.digest-delivery.scan-gate.decision'
export const CREATED_ANNOTATION = 'org.opencontainers.image.created'

export interface VerdictCounts {
  total: number
  fixable: number
  blocking: number
  suppressed: number
}

/** What the gate decided for one image digest, and by which rules: what travels with the digest. */
export interface Verdict {
  schemaVersion: 1
  decision: 'pass' | 'fail'
  /** The scanned image manifest. */
  subject: { name: string; digest: string }
  /**
   * How the report was tied to the subject: it records the digest (or a platform image's), only the repository,
   * or nothing and was taken on trust (`report-subject: trust`). Absent in verdicts written before it existed.
   */
  reportSubject?: 'digest' | 'platform' | 'repository' | 'trusted'
  blocking: number
  counts: Record<Severity, VerdictCounts>
  policy: {
    digest: string
    severity: Severity
    ignoreUnfixed: boolean
    failOnExpiredIgnore: boolean
    max: Partial<Record<Severity, number>>
    baseline?: string
  }
  scanner: { name: string; version?: string; reportFormat: string; reportDigest: string }
  /** The vulnerability database a scan run by the action used (absent for a report passed in). */
  database?: { built: string; age: string; state: DatabaseState; source: string }
  expiredIgnores: number
  /** When the gate decided (RFC 3339, UTC). */
  time: string
}

/** Checks a verdict read back from a registry; anything off is an error, never a silently ignored verdict. */
export function parseVerdict(bytes: Buffer, where: string): Verdict {
  let value: unknown
  try {
    value = JSON.parse(bytes.toString('utf8'))
  } catch (error) {
    throw new ExternalError(`${where} is not JSON: ${(error as Error).message}`)
  }
  const fail = (what: string): ExternalError =>
    new ExternalError(`${where} is not a scan-gate verdict: ${what}`)
  if (!isRecord(value)) throw fail('not an object')
  if (value.schemaVersion !== 1) throw fail(`schemaVersion ${JSON.stringify(value.schemaVersion)} is not 1`)
  if (value.decision !== 'pass' && value.decision !== 'fail')
    throw fail(`decision ${JSON.stringify(value.decision)}`)
  const subject = value.subject
  if (!isRecord(subject) || typeof subject.digest !== 'string' || typeof subject.name !== 'string') {
    throw fail('no subject name and digest')
  }
  if (typeof value.blocking !== 'number' || !Number.isInteger(value.blocking) || value.blocking < 0) {
    throw fail('blocking is not a count')
  }
  if (
    !isRecord(value.counts) ||
    !SEVERITIES.every(s => isRecord((value.counts as Record<string, unknown>)[s]))
  ) {
    throw fail('counts per severity are missing')
  }
  if (!isRecord(value.policy) || typeof value.policy.digest !== 'string') throw fail('no policy digest')
  if (!isRecord(value.scanner) || typeof value.scanner.name !== 'string') throw fail('no scanner')
  if (typeof value.time !== 'string' || Number.isNaN(Date.parse(value.time))) throw fail('no time')
  return value as unknown as Verdict
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
