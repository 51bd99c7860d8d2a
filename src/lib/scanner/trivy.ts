import { describe, expectKind, Fields, isRecord, type ReportCollector, type ReportRoot } from './collector.js'
import { digestOf, parseSeverity, ReportError, type Finding, type ScannerSuppression } from './finding.js'
import { formatPath, type PathKey, type Selection } from './json-stream.js'

/** Trivy's `Status` words (pkg/types/vulnerability.go); `fixed` means a fix exists. */
export const TRIVY_STATUSES = [
  'unknown',
  'not_affected',
  'affected',
  'fixed',
  'under_investigation',
  'will_not_fix',
  'fix_deferred',
  'end_of_life'
] as const

const TOP_LEVEL = new Set([
  'SchemaVersion',
  'CreatedAt',
  'ReportID',
  'Trivy',
  'ArtifactID',
  'ArtifactName',
  'ArtifactType',
  'Metadata',
  'Results'
])
const RESULT_VALUES = new Set(['Target', 'Class', 'Type'])

/**
 * Trivy JSON: `trivy image --format json` (SchemaVersion 2), and the legacy top-level array of results written by
 * Trivy before 0.20 (where an image without findings was the JSON `null`).
 */
export function createTrivyCollector(): ReportCollector {
  const top: Record<string, unknown> = {}
  const findings: Finding[] = []
  const suppressed: ScannerSuppression[] = []
  /** Result index of each finding; targets can come after the findings, so they are filled in at the end. */
  const resultOf: number[] = []
  const suppressedOf: number[] = []
  const targets = new Map<number, string>()

  /** The path below one result: [] for the result itself, ['Vulnerabilities', 3], … */
  function resultSelect(rest: readonly PathKey[]): Selection {
    if (rest.length === 0) return 'descend'
    const [field] = rest
    if (field === 'Vulnerabilities' || field === 'ModifiedFindings')
      return rest.length <= 2 ? (rest.length === 1 ? 'descend' : 'value') : 'skip'
    if (rest.length === 1 && typeof field === 'string' && RESULT_VALUES.has(field)) return 'value'
    // Packages, Misconfigurations, Secrets, Licenses, CustomResources: not vulnerabilities.
    return 'skip'
  }

  /** Splits a path into the result index and the path below it; undefined above the results. */
  function split(path: readonly PathKey[]): { index: number; rest: readonly PathKey[] } | undefined {
    if (typeof path[0] === 'number') return { index: path[0], rest: path.slice(1) }
    if (path[0] === 'Results' && typeof path[1] === 'number') return { index: path[1], rest: path.slice(2) }
    return undefined
  }

  function resultValue(
    index: number,
    rest: readonly PathKey[],
    path: readonly PathKey[],
    value: unknown
  ): void {
    const [field, position] = rest
    if (rest.length === 0) {
      // The result itself arrived as a scalar (objects are walked into).
      throw new ReportError(`${formatPath(path)} is ${describe(value)}; expected a result object`)
    }
    if (field === 'Target') {
      if (typeof value !== 'string')
        throw new ReportError(`${formatPath(path)} is ${describe(value)}; expected a string`)
      targets.set(index, value)
    } else if (field === 'Vulnerabilities' || field === 'ModifiedFindings') {
      if (position === undefined) {
        // The array itself as a scalar: null means none.
        if (value !== null)
          throw new ReportError(`${formatPath(path)} is ${describe(value)}; expected an array`)
      } else if (field === 'Vulnerabilities') {
        findings.push(trivyFinding(value, formatPath(path)))
        resultOf.push(index)
      } else {
        const modified = modifiedFinding(value, formatPath(path))
        if (modified) {
          suppressed.push(modified)
          suppressedOf.push(index)
        }
      }
    }
  }

  return {
    name: 'Trivy JSON',
    ownsKey: key => TOP_LEVEL.has(key),
    ownsRoot: isLegacyRoot,

    select(path) {
      const result = split(path)
      if (result) return resultSelect(result.rest)
      if (path.length === 1) return path[0] === 'Results' ? 'descend' : 'value'
      return 'skip'
    },

    enter(path, kind) {
      const result = split(path)
      if (path.length === 1 && path[0] === 'Results') expectKind(path, kind, 'array')
      else if (result?.rest.length === 0) expectKind(path, kind, 'object')
      else if (result?.rest.length === 1) expectKind(path, kind, 'array')
    },

    value(path, value) {
      const result = split(path)
      if (result) {
        resultValue(result.index, result.rest, path, value)
      } else if (path.length === 1 && typeof path[0] === 'string') {
        if (path[0] === 'Results' && value !== null) {
          throw new ReportError(`Results is ${describe(value)}; expected an array`)
        }
        top[path[0]] = value
      }
    },

    recognises: root => (root.kind === 'object' ? root.keys.includes('SchemaVersion') : isLegacyRoot(root)),

    finish(root: ReportRoot) {
      const legacy = root.kind !== 'object'
      // SchemaVersion (`omitempty`, but written as 2 by every Trivy since 0.20) is what tells this format from its
      // successors: another value could mean fields moved, so it is refused rather than half read.
      if (!legacy && top.SchemaVersion !== 2) {
        throw new ReportError(
          `Trivy SchemaVersion ${describe(top.SchemaVersion)} is not supported: only SchemaVersion 2 (Trivy 0.20 and later) and the legacy array`
        )
      }
      // ArtifactName is `omitempty` in Trivy's Report: a report without it is well-formed; whether it says which
      // image it is of is the subject check's question (report-subject), not the parser's.
      if (!legacy && top.ArtifactName !== undefined && typeof top.ArtifactName !== 'string') {
        throw new ReportError(`ArtifactName is ${describe(top.ArtifactName)}; expected a string`)
      }
      findings.forEach((finding, i) => (finding.target = targets.get(resultOf[i] as number)))
      suppressed.forEach((entry, i) => (entry.finding.target = targets.get(suppressedOf[i] as number)))
      const digests = new Set<string>()
      const references: string[] = []
      let version: string | undefined
      if (!legacy) {
        // ArtifactName names an image only for image scans: `trivy fs app` writes the directory `app` there.
        const image = top.ArtifactType === undefined || top.ArtifactType === 'container_image'
        if (image && typeof top.ArtifactName === 'string' && top.ArtifactName !== '') {
          references.push(top.ArtifactName)
        }
        if (top.Metadata !== undefined && top.Metadata !== null) {
          const metadata = Fields.of(top.Metadata, 'Metadata')
          references.push(...metadata.strings('RepoDigests'), ...metadata.strings('RepoTags'))
        }
        for (const reference of references) {
          const digest = digestOf(reference)
          if (digest) digests.add(digest)
        }
        if (isRecord(top.Trivy) && typeof top.Trivy.Version === 'string') version = top.Trivy.Version
      }
      return {
        format: legacy ? 'trivy-legacy' : 'trivy',
        scanner: { name: 'trivy', version },
        artifact: {
          name:
            typeof top.ArtifactName === 'string' && top.ArtifactName !== '' ? top.ArtifactName : undefined,
          digests: [...digests],
          references
        },
        findings,
        suppressed
      }
    }
  }
}

/** The legacy form: an array of results, or `null` for an image without any. */
function isLegacyRoot(root: Pick<ReportRoot, 'kind' | 'scalar'>): boolean {
  return root.kind === 'array' || (root.kind === 'scalar' && root.scalar === null)
}

/**
 * One entry of a result's `Vulnerabilities` (Trivy's `types.DetectedVulnerability`, which embeds trivy-db's
 * `types.Vulnerability`). Every field there is `json:",omitempty"`, so each requirement below is the gate's:
 * - VulnerabilityID: required. Ignores, VEX, the baseline and the summary all key on it; Trivy fills it for every
 *   detection, and a finding without one could match nothing and be explained to no one.
 * - PkgName: required. Package-scoped ignores and the baseline key on it; Trivy sets it for every detection (it
 *   found the vulnerability through the package), so an empty one is a report not written by Trivy.
 * - Severity: optional; empty or absent is `unknown` (trivy-db omits it when no source grades the advisory). A
 *   word that is not a severity is refused: reading it as unknown would let a typo lower the grade.
 * - Status: optional (absent before Trivy 0.40); a word outside Trivy's list is refused, since it decides `fixable`.
 * - FixedVersion, InstalledVersion, PkgPath, PrimaryURL, Title, VendorIDs, PkgIdentifier.PURL: optional, shown only.
 */
export function trivyFinding(value: unknown, where: string): Finding {
  const v = Fields.of(value, where, 'a vulnerability object')
  const id = v.string('VulnerabilityID')
  const severityText = v.optionalString('Severity')
  const severity = severityText === '' ? 'unknown' : parseSeverity(severityText)
  if (!severity) {
    throw new ReportError(
      `${where} (${id}) has Severity ${describe(v.raw.Severity)}; expected CRITICAL, HIGH, MEDIUM, LOW or UNKNOWN`
    )
  }
  const status = v.optionalString('Status')
  if (status !== '' && !(TRIVY_STATUSES as readonly string[]).includes(status)) {
    // An unknown status could be read as "fixed" or not: refuse rather than guess.
    throw new ReportError(
      `${where} (${id}) has Status '${status}', which is not one of ${TRIVY_STATUSES.join(', ')}`
    )
  }
  const fixedVersion = v.optionalString('FixedVersion')
  const identifier = v.object('PkgIdentifier')
  return {
    id,
    aliases: v.strings('VendorIDs'),
    package: v.string('PkgName'),
    installedVersion: v.optionalString('InstalledVersion'),
    fixedVersion,
    fixable: fixedVersion !== '' || status === 'fixed',
    status: status || undefined,
    severity,
    path: v.optionalString('PkgPath') || undefined,
    purl: identifier?.optionalString('PURL') || undefined,
    url: v.optionalString('PrimaryURL') || undefined,
    title: v.optionalString('Title') || undefined
  }
}

/** One entry of `ModifiedFindings` (`--show-suppressed`): a vulnerability Trivy itself suppressed. */
function modifiedFinding(value: unknown, where: string): ScannerSuppression | undefined {
  const entry = Fields.of(value, where, 'a modified-finding object')
  if (entry.optionalString('Type') !== 'vulnerability') return undefined
  const finding = trivyFinding(entry.raw.Finding, `${where}.Finding`)
  const status = entry.optionalString('Status') || 'suppressed'
  const statement = entry.optionalString('Statement')
  const source = entry.optionalString('Source')
  const reason = [`${status} by Trivy`, statement, source && `(${source})`].filter(Boolean).join(': ')
  return { finding, reason }
}
