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

/**
 * A SARIF 2.1.0 log for `github/codeql-action/upload-sarif`: one rule per vulnerability id (the highest severity it
 * was seen with), one result per finding, `level` and `security-severity` from the severity. Suppressed findings
 * carry a `suppressions` entry with the reason, so code scanning and the gate agree on what counts.
 */
export function toSarif(findings: readonly SarifFinding[], options: SarifOptions): Record<string, unknown> {
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
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'scan-gate',
            fullName: `digest-delivery scan-gate (${options.scanner.name}${options.scanner.version ? ` ${options.scanner.version}` : ''})`,
            informationUri: 'https://github.com/digest-delivery/digest-delivery',
            rules: order.map(id => {
              const { severity, finding } = rules.get(id) as { severity: Severity; finding: Finding }
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
                  markdown: `**${id}** (${severity})${url ? ` — [advisory](${url})` : ''}`
                },
                defaultConfiguration: { level: LEVEL[severity] },
                properties: {
                  tags: ['security', 'vulnerability', severity.toUpperCase()],
                  precision: 'very-high',
                  ...(securitySeverity ? { 'security-severity': securitySeverity } : {})
                }
              }
            })
          }
        },
        automationDetails: { id: `scan-gate/${options.imageName}/` },
        properties: {
          imageName: options.imageName,
          imageDigest: options.digest,
          repoDigests: [options.image]
        },
        results: findings.map(({ finding, suppression, blocking }) => ({
          ruleId: finding.id,
          ruleIndex: (rules.get(finding.id) as { index: number }).index,
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
        }))
      }
    ]
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
