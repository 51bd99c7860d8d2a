import { describe, expectKind, Fields, isRecord, type ReportCollector } from './collector.js'
import {
  digestOf,
  parseSeverity,
  ReportError,
  type Finding,
  type ScannerSuppression,
  type Severity
} from './finding.js'
import { formatPath, type PathKey, type Selection } from './json-stream.js'

const TOP_LEVEL = new Set(['version', '$schema', 'runs', 'inlineExternalProperties', 'properties'])
const DRIVER_VALUES = new Set(['name', 'version', 'semanticVersion', 'fullName', 'informationUri'])
// SARIF result kinds that are not a failure: 'pass', 'notApplicable', 'informational', 'review', 'open'.
const FAILURE_KIND = 'fail'

interface Run {
  driver: Record<string, unknown>
  rules: unknown[]
  results: Array<{ value: unknown; where: string }>
  properties?: unknown
}

/** SARIF 2.1.0 as Trivy (`--format sarif`), Grype (`-o sarif`) and this action write it. */
export function createSarifCollector(): ReportCollector {
  const top: Record<string, unknown> = {}
  const runs: Run[] = []
  let runsSeen = false

  const run = (index: number): Run => {
    let entry = runs[index]
    if (!entry) {
      entry = { driver: {}, rules: [], results: [] }
      runs[index] = entry
    }
    return entry
  }

  function runSelect(rest: readonly PathKey[]): Selection {
    const [a, b, c, d] = rest
    if (rest.length === 0) return 'descend'
    if (a === 'results') return rest.length === 1 ? 'descend' : rest.length === 2 ? 'value' : 'skip'
    if (a === 'properties') return rest.length === 1 ? 'value' : 'skip'
    if (a !== 'tool') return 'skip'
    if (rest.length === 1) return 'descend'
    if (b !== 'driver') return 'skip'
    if (rest.length === 2) return 'descend'
    if (c === 'rules') return rest.length === 3 ? 'descend' : rest.length === 4 ? 'value' : 'skip'
    return rest.length === 3 && typeof c === 'string' && DRIVER_VALUES.has(c) && d === undefined
      ? 'value'
      : 'skip'
  }

  return {
    name: 'SARIF',
    ownsKey: key => TOP_LEVEL.has(key),
    ownsRoot: () => false,

    select(path) {
      if (path[0] === 'runs') {
        if (path.length === 1) return 'descend'
        return runSelect(path.slice(2))
      }
      return path.length === 1 ? 'value' : 'skip'
    },

    enter(path, kind) {
      if (path[0] !== 'runs') return
      if (path.length === 1) {
        runsSeen = true
        expectKind(path, kind, 'array')
      } else if (path.length === 2 || path.length === 3 || (path.length === 4 && path[2] === 'tool')) {
        expectKind(path, kind, path.length === 3 && path[2] === 'results' ? 'array' : 'object')
        if (typeof path[1] === 'number') run(path[1])
      } else if (path.length === 5) {
        expectKind(path, kind, 'array')
      }
    },

    value(path, value) {
      const where = formatPath(path)
      if (path.length === 1 && typeof path[0] === 'string') {
        if (path[0] === 'runs') throw new ReportError(`runs is ${describe(value)}; expected an array`)
        top[path[0]] = value
        return
      }
      const index = path[1]
      if (typeof index !== 'number') return
      const entry = run(index)
      const rest = path.slice(2)
      if (rest.length === 0) throw new ReportError(`${where} is ${describe(value)}; expected a run object`)
      if (rest[0] === 'results') {
        if (rest.length === 1) {
          if (value !== null) throw new ReportError(`${where} is ${describe(value)}; expected an array`)
        } else {
          entry.results.push({ value, where })
        }
      } else if (rest[0] === 'properties') {
        entry.properties = value
      } else if (rest[2] === 'rules') {
        if (rest.length === 3) {
          if (value !== null) throw new ReportError(`${where} is ${describe(value)}; expected an array`)
        } else {
          entry.rules[rest[3] as number] = value
        }
      } else if (rest.length === 3 && typeof rest[2] === 'string') {
        entry.driver[rest[2]] = value
      } else if (rest.length <= 2) {
        throw new ReportError(`${where} is ${describe(value)}; expected an object`)
      }
    },

    recognises: root => root.kind === 'object' && root.keys.includes('runs') && root.keys.includes('version'),

    finish() {
      // version and runs are required by the SARIF 2.1.0 schema; so are tool.driver.name (the scanner, shown and
      // attached with the verdict) and each rule's id (results name their rule by it).
      if (top.version !== '2.1.0') {
        throw new ReportError(`SARIF version ${describe(top.version)} is not supported: only 2.1.0`)
      }
      if (!runsSeen) throw new ReportError('the SARIF log has no runs array')
      const findings: Finding[] = []
      const suppressed: ScannerSuppression[] = []
      const digests = new Set<string>()
      const references: string[] = []
      let name: string | undefined
      let scanner: { name: string; version?: string } | undefined
      runs.forEach((entry, index) => {
        const driverName = typeof entry.driver.name === 'string' ? entry.driver.name : ''
        if (!driverName) throw new ReportError(`runs[${index}].tool.driver.name is missing`)
        const version = entry.driver.version ?? entry.driver.semanticVersion
        scanner ??= {
          name: driverName.toLowerCase(),
          version: typeof version === 'string' ? version : undefined
        }
        if (isRecord(entry.properties)) {
          const properties = Fields.of(entry.properties, `runs[${index}].properties`)
          const imageName = properties.optionalString('imageName')
          name ??= imageName || undefined
          const recorded = [
            imageName,
            ...properties.strings('repoDigests'),
            ...properties.strings('repoTags')
          ].filter(reference => reference !== '')
          references.push(...recorded)
          for (const reference of [...recorded, properties.optionalString('imageDigest')]) {
            const digest = digestOf(reference)
            if (digest) digests.add(digest)
          }
        }
        const rulesById = new Map<string, Record<string, unknown>>()
        entry.rules.forEach((rule, ruleIndex) => {
          const fields = Fields.of(rule, `runs[${index}].tool.driver.rules[${ruleIndex}]`)
          rulesById.set(fields.string('id'), fields.raw)
        })
        for (const { value, where } of entry.results) {
          const read = sarifResult(value, where, entry.rules, rulesById)
          if (!read) continue
          if (read.suppression) suppressed.push({ finding: read.finding, reason: read.suppression })
          else findings.push(read.finding)
        }
      })
      return {
        format: 'sarif',
        scanner: scanner ?? { name: 'unknown' },
        artifact: { name, digests: [...digests], references },
        findings,
        suppressed
      }
    }
  }
}

/** One SARIF result as a finding; undefined for results that are not failures (kind pass, informational, …). */
function sarifResult(
  value: unknown,
  where: string,
  rules: unknown[],
  rulesById: Map<string, Record<string, unknown>>
): { finding: Finding; suppression?: string } | undefined {
  const result = Fields.of(value, where, 'a result object')
  const kind = result.optionalString('kind') || FAILURE_KIND
  if (kind !== FAILURE_KIND) return undefined
  const ruleRef = result.object('rule')
  const ruleIndex = typeof result.raw.ruleIndex === 'number' ? result.raw.ruleIndex : ruleRef?.raw.index
  const ruleId =
    result.optionalString('ruleId') ||
    ruleRef?.optionalString('id') ||
    (typeof ruleIndex === 'number' && isRecord(rules[ruleIndex])
      ? String((rules[ruleIndex] as { id?: unknown }).id ?? '')
      : '')
  if (!ruleId) throw new ReportError(`${where} names no rule (ruleId, rule.id or ruleIndex)`)
  const rule =
    rulesById.get(ruleId) ??
    (typeof ruleIndex === 'number' && isRecord(rules[ruleIndex])
      ? (rules[ruleIndex] as Record<string, unknown>)
      : undefined)
  const ruleProperties = isRecord(rule?.properties) ? rule.properties : {}
  const properties = result.object('properties')
  const message = result.object('message')?.optionalString('text') ?? ''
  const fromMessage = parseMessage(message)

  const severity =
    parseSeverity(properties?.raw.severity) ??
    severityFromTags(ruleProperties.tags) ??
    severityFromScore(ruleProperties['security-severity']) ??
    // SARIF's default level is 'warning'.
    severityFromLevel(
      result.raw.level ??
        (isRecord(rule?.defaultConfiguration) ? rule.defaultConfiguration.level : undefined) ??
        'warning'
    )
  if (!severity)
    throw new ReportError(
      `${where} (${ruleId}) has level ${describe(result.raw.level)}; expected error, warning, note or none`
    )

  const fixedVersion = stringProperty(properties, 'fixedVersion') ?? fromMessage.fixed ?? ''
  const suppressions = result
    .array('suppressions')
    .filter(s => !(isRecord(s) && s.status === 'rejected') && !(isRecord(s) && s.status === 'underReview'))
  const finding: Finding = {
    id: stringProperty(properties, 'id') ?? vulnerabilityId(ruleId),
    aliases: [],
    package: stringProperty(properties, 'package') ?? fromMessage.package ?? '',
    installedVersion: stringProperty(properties, 'installedVersion') ?? fromMessage.installed ?? '',
    fixedVersion,
    fixable: typeof properties?.raw.fixable === 'boolean' ? properties.raw.fixable : fixedVersion !== '',
    status: stringProperty(properties, 'status'),
    severity,
    target: stringProperty(properties, 'target') ?? locationUri(result),
    purl: stringProperty(properties, 'purl'),
    url: typeof rule?.helpUri === 'string' ? rule.helpUri : undefined,
    title:
      isRecord(rule?.shortDescription) && typeof rule.shortDescription.text === 'string'
        ? rule.shortDescription.text
        : undefined
  }
  if (suppressions.length === 0) return { finding }
  const justification = suppressions
    .map(s => (isRecord(s) && typeof s.justification === 'string' ? s.justification : ''))
    .filter(Boolean)
    .join('; ')
  return { finding, suppression: `suppressed in the SARIF log${justification ? `: ${justification}` : ''}` }
}

function stringProperty(properties: Fields | undefined, key: string): string | undefined {
  const value = properties?.raw[key]
  return typeof value === 'string' ? value : undefined
}

/** Trivy's rule ids are the vulnerability id; Grype's append the package (`CVE-2024-1234-openssl`). */
function vulnerabilityId(ruleId: string): string {
  const match = /^(CVE-\d{4}-\d{4,}|GHSA(?:-[a-z0-9]{4}){3})(?:-|$)/i.exec(ruleId)
  return match?.[1] ?? ruleId
}

/** Trivy's message: "Package: x\nInstalled Version: y\n…Fixed Version: z"; Grype's: "… package: x, version y …". */
function parseMessage(text: string): { package?: string; installed?: string; fixed?: string } {
  const line = (label: string): string | undefined =>
    new RegExp(`^${label}: (.*)$`, 'm').exec(text)?.[1]?.trim()
  const trivy = {
    package: line('Package'),
    installed: line('Installed Version'),
    fixed: line('Fixed Version')
  }
  if (trivy.package) return trivy
  const grype = /package: ([^,\s]+), version ([^\s]+)/.exec(text)
  return grype ? { package: grype[1], installed: grype[2] } : {}
}

function severityFromTags(tags: unknown): Severity | undefined {
  if (!Array.isArray(tags)) return undefined
  for (const tag of tags) {
    if (typeof tag === 'string' && tag === tag.toUpperCase()) {
      const severity = parseSeverity(tag)
      if (severity) return severity
    }
  }
  return undefined
}

/** GitHub's bands for `security-severity` (a CVSS-like score). */
function severityFromScore(score: unknown): Severity | undefined {
  const value = typeof score === 'string' ? Number(score) : typeof score === 'number' ? score : NaN
  if (Number.isNaN(value)) return undefined
  if (value >= 9) return 'critical'
  if (value >= 7) return 'high'
  if (value >= 4) return 'medium'
  if (value > 0) return 'low'
  return 'unknown'
}

function severityFromLevel(level: unknown): Severity | undefined {
  const levels: Record<string, Severity> = { error: 'high', warning: 'medium', note: 'low', none: 'unknown' }
  return typeof level === 'string' ? levels[level] : undefined
}

function locationUri(result: Fields): string | undefined {
  const [first] = result.array('locations')
  const uri =
    isRecord(first) && isRecord(first.physicalLocation) && isRecord(first.physicalLocation.artifactLocation)
      ? first.physicalLocation.artifactLocation.uri
      : undefined
  return typeof uri === 'string' ? uri : undefined
}
