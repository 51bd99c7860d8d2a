/** Severities from most to least severe; `unknown` is the lowest threshold (it blocks everything). */
export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'unknown'] as const
export type Severity = (typeof SEVERITIES)[number]

/** One vulnerability in one package, whatever scanner or format reported it. */
export interface Finding {
  /** The advisory id the scanner reports: CVE-…, GHSA-…, DSA-…. */
  id: string
  /** Other ids of the same vulnerability (a GHSA's CVE): ignores and VEX match these too. */
  aliases: string[]
  package: string
  installedVersion: string
  /** Empty when no fixed version is known. */
  fixedVersion: string
  /** A fix exists (Trivy: FixedVersion or Status fixed; Grype: fix.state fixed). */
  fixable: boolean
  /** The scanner's own word for the fix status (Trivy `Status`, Grype `fix.state`), when it gave one. */
  status?: string
  severity: Severity
  /** Where it was found: the scan target (Trivy `Target`) or the file holding the package. */
  target?: string
  path?: string
  purl?: string
  /** Advisory link. */
  url?: string
  title?: string
}

/** A finding the scanner itself recorded as suppressed (Trivy `--show-suppressed`, Grype `ignoredMatches`). */
export interface ScannerSuppression {
  finding: Finding
  reason: string
}

export type ReportFormat = 'trivy' | 'trivy-legacy' | 'grype' | 'sarif'

/** A scanner report reduced to what the gate decides on. */
export interface ScanReport {
  format: ReportFormat
  scanner: { name: string; version?: string }
  /**
   * What the report says it scanned: a name for display, every manifest digest it records, and every image
   * reference it records (names, tags, `name@digest`) as written; any of them may be empty.
   */
  artifact: { name?: string; digests: string[]; references: string[] }
  findings: Finding[]
  suppressed: ScannerSuppression[]
}

/** A report that cannot be trusted: unreadable, empty, truncated, malformed, unrecognised, or for another image. */
export class ReportError extends Error {
  override name = 'ReportError'
}

/** The severity for a scanner's word for it; undefined when the word is not a severity. */
export function parseSeverity(value: unknown): Severity | undefined {
  if (typeof value !== 'string') return undefined
  const word = value.trim().toLowerCase()
  if ((SEVERITIES as readonly string[]).includes(word)) return word as Severity
  // Grype's lowest grade; no threshold distinguishes it from low.
  if (word === 'negligible') return 'low'
  return undefined
}

/** True when `severity` is at or above `threshold`. */
export function atLeast(severity: Severity, threshold: Severity): boolean {
  return SEVERITIES.indexOf(severity) <= SEVERITIES.indexOf(threshold)
}

/** Where people read about an advisory: the scanner's link, else the canonical page for CVE and GHSA ids. */
export function advisoryUrl(finding: Pick<Finding, 'id' | 'url'>): string | undefined {
  if (finding.url && /^https?:\/\//.test(finding.url)) return finding.url
  if (/^CVE-\d{4}-\d+$/.test(finding.id)) return `https://nvd.nist.gov/vuln/detail/${finding.id}`
  if (/^GHSA(-[23456789cfghjmpqrvwx]{4}){3}$/.test(finding.id))
    return `https://github.com/advisories/${finding.id}`
  return undefined
}

/** The digest part of `name@sha256:…`, or the string itself when it is a bare digest. */
export function digestOf(reference: unknown): string | undefined {
  if (typeof reference !== 'string') return undefined
  const match = /(?:^|@)(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/.exec(reference.trim())
  return match?.[1]
}
