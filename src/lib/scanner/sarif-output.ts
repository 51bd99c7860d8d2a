import { escapeMarkdown, link } from '../summary.js'
import { advisoryUrl, type Finding, type Severity } from './finding.js'

/** A finding as the gate judged it, for code scanning. */
export interface SarifFinding {
  finding: Finding
  /** Set when the policy suppressed it: GitHub shows such results as dismissed, not open. */
  suppression?: string
  blocking: boolean
}

export interface SarifOptions {
  /** The scanned image as `name@digest`. */
  image: string
  imageName: string
  digest: string
  scanner: { name: string; version?: string }
}

const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = {
  critical: 'error',
  high: 'error',
  medium: 'warning',
  low: 'note',
  unknown: 'note'
}

/** GitHub maps `security-severity` to its bands: over 9.0 critical, 7.0–8.9 high, 4.0–6.9 medium, 0.1–3.9 low. */
const SECURITY_SEVERITY: Record<Severity, string | undefined> = {
  critical: '9.5',
  high: '8.0',
  medium: '5.5',
  low: '2.0',
  unknown: undefined
}

/** Results per chunk: large enough to write fast, small enough that no chunk is a large string. */
const RESULTS_PER_CHUNK = 1000

/**
 * A SARIF 2.1.0 log for `github/codeql-action/upload-sarif`: one rule per vulnerability id (the highest severity it
 * was seen with), one result per finding, `level` and `security-severity` from the severity. Suppressed findings
 * carry a `suppressions` entry with the reason, so code scanning and the gate agree on what counts. The log comes
 * as JSON text in chunks (rules first, then results a thousand at a time), so a report of 100,000 findings is
 * never one string or one object tree in memory.
 */
export function* sarifChunks(findings: readonly SarifFinding[], options: SarifOptions): Generator<string> {
  const rules = new Map<string, { index: number; severity: Severity; finding: Finding }>()
  const order: string[] = []
  for (const { finding } of findings) {
    const known = rules.get(finding.id)
    if (!known) {
      rules.set(finding.id, { index: order.length, severity: finding.severity, finding })
      order.push(finding.id)
    } else if (rank(finding.severity) < rank(known.severity)) {
      known.severity = finding.severity
    }
  }
  const location = artifactUri(options.imageName)
  const run = {
    tool: {
      driver: {
        name: 'scan-gate',
        fullName: `digest-delivery scan-gate (${options.scanner.name}${options.scanner.version ? ` ${options.scanner.version}` : ''})`,
        informationUri: 'https://github.com/digest-delivery/digest-delivery',
        rules: [] as unknown[]
      }
    },
    automationDetails: { id: `scan-gate/${options.imageName}/` },
    properties: {
      imageName: options.imageName,
      imageDigest: options.digest,
      repoDigests: [options.image]
    }
  }
  const head = JSON.stringify({
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [run]
  })
  // `{…"runs":[{"tool":{"driver":{…"rules":[` : the rules and then the results are written into the open arrays.
  const rulesAt = head.indexOf('"rules":[]') + '"rules":['.length
  yield head.slice(0, rulesAt)
  for (let start = 0; start < order.length; start += RESULTS_PER_CHUNK) {
    yield (
      (start > 0 ? ',' : '') +
      order
        .slice(start, start + RESULTS_PER_CHUNK)
        .map(id => JSON.stringify(sarifRule(rules.get(id) as { severity: Severity; finding: Finding })))
        .join(',')
    )
  }
  // Close rules, driver and tool, then the run's other members, then open its results.
  yield head.slice(rulesAt, head.length - '}]}'.length) + ',"results":['
  for (let start = 0; start < findings.length; start += RESULTS_PER_CHUNK) {
    yield (
      (start > 0 ? ',' : '') +
      findings
        .slice(start, start + RESULTS_PER_CHUNK)
        .map(entry =>
          JSON.stringify(
            sarifResult(entry, (rules.get(entry.finding.id) as { index: number }).index, location, options)
          )
        )
        .join(',')
    )
  }
  yield ']}]}'
}

/** The whole log as an object (tests, small logs); the action writes `sarifChunks` to its file instead. */
export function toSarif(findings: readonly SarifFinding[], options: SarifOptions): Record<string, unknown> {
  return JSON.parse([...sarifChunks(findings, options)].join('')) as Record<string, unknown>
}

function sarifRule({ severity, finding }: { severity: Severity; finding: Finding }): Record<string, unknown> {
  const id = finding.id
  const url = advisoryUrl(finding)
  const text = finding.title ? `${id}: ${finding.title}` : id
  const securitySeverity = SECURITY_SEVERITY[severity]
  return {
    id,
    name: 'ContainerImageVulnerability',
    shortDescription: { text },
    fullDescription: { text },
    ...(url ? { helpUri: url } : {}),
    help: {
      text: `${id} (${severity})${url ? `: ${url}` : ''}`,
      // Code scanning renders this Markdown: the id is escaped and the link is http(s) only, as in the summary.
      markdown: `**${escapeMarkdown(id)}** (${severity})${url ? ` — ${link('advisory', url)}` : ''}`
    },
    defaultConfiguration: { level: LEVEL[severity] },
    properties: {
      tags: ['security', 'vulnerability', severity.toUpperCase()],
      precision: 'very-high',
      ...(securitySeverity ? { 'security-severity': securitySeverity } : {})
    }
  }
}

function sarifResult(
  { finding, suppression, blocking }: SarifFinding,
  ruleIndex: number,
  location: string,
  options: SarifOptions
): Record<string, unknown> {
  return {
    ruleId: finding.id,
    ruleIndex,
    level: LEVEL[finding.severity],
    message: {
      text:
        `${finding.id} in ${finding.package || 'a package'} ${finding.installedVersion}` +
        `${finding.fixedVersion ? ` (fixed in ${finding.fixedVersion})` : ' (no fix)'}, severity ${finding.severity}` +
        `${blocking ? ': blocks the gate' : ''}`
    },
    locations: [
      {
        physicalLocation: {
          artifactLocation: { uri: finding.path ? artifactUri(finding.path) : location },
          region: { startLine: 1 }
        },
        message: { text: finding.target ?? options.image }
      }
    ],
    partialFingerprints: {
      vulnerabilityPackage: `${finding.id}/${finding.package}/${finding.installedVersion}`
    },
    ...(suppression
      ? { suppressions: [{ kind: 'external', status: 'accepted', justification: suppression }] }
      : {}),
    properties: {
      id: finding.id,
      package: finding.package,
      installedVersion: finding.installedVersion,
      fixedVersion: finding.fixedVersion,
      fixable: finding.fixable,
      severity: finding.severity,
      ...(finding.status ? { status: finding.status } : {}),
      ...(finding.purl ? { purl: finding.purl } : {}),
      ...(finding.target ? { target: finding.target } : {})
    }
  }
}

function rank(severity: Severity): number {
  return ['critical', 'high', 'medium', 'low', 'unknown'].indexOf(severity)
}

/** A relative URI reference for a name like `127.0.0.1:5000/app` or `usr/lib/x (debian 12)`. */
function artifactUri(name: string): string {
  return name
    .replace(/^\/+/, '')
    .split('/')
    .map(segment => encodeURIComponent(segment))
    .join('/')
}
