import { describe, expectKind, Fields, isRecord, type ReportCollector } from './collector.js'
import { digestOf, parseSeverity, ReportError, type Finding, type ScannerSuppression } from './finding.js'
import { formatPath } from './json-stream.js'

/** Grype's `fix.state` words; only `fixed` means a fix exists. */
export const GRYPE_FIX_STATES = ['fixed', 'not-fixed', 'wont-fix', 'unknown'] as const

const TOP_LEVEL = new Set(['matches', 'ignoredMatches', 'source', 'distro', 'descriptor', 'alertsByPackage'])
const STREAMED = new Set(['matches', 'ignoredMatches'])

/** Grype JSON: `grype <image> -o json`. */
export function createGrypeCollector(): ReportCollector {
  const top: Record<string, unknown> = {}
  const findings: Finding[] = []
  const suppressed: ScannerSuppression[] = []

  return {
    name: 'Grype JSON',
    ownsKey: key => TOP_LEVEL.has(key),
    ownsRoot: () => false,

    select(path) {
      const [key] = path
      if (typeof key === 'string' && STREAMED.has(key))
        return path.length === 1 ? 'descend' : path.length === 2 ? 'value' : 'skip'
      return path.length === 1 ? 'value' : 'skip'
    },

    enter(path, kind) {
      if (path.length === 1) expectKind(path, kind, 'array')
    },

    value(path, value) {
      const [key] = path
      if (typeof key !== 'string') return
      if (path.length === 1) {
        if (STREAMED.has(key) && value !== null) {
          throw new ReportError(`${key} is ${describe(value)}; expected an array`)
        }
        top[key] = value
      } else if (key === 'matches') {
        findings.push(grypeFinding(value, formatPath(path)))
      } else if (key === 'ignoredMatches') {
        const where = formatPath(path)
        const finding = grypeFinding(value, where)
        const rules = Fields.of(value, where).array('appliedIgnoreRules')
        suppressed.push({
          finding,
          reason: `ignored by Grype${rules.length ? `: ${describeRules(rules)}` : ''}`
        })
      }
    },

    recognises: root =>
      root.kind === 'object' &&
      root.keys.includes('matches') &&
      (root.keys.includes('descriptor') || root.keys.includes('source')),

    finish() {
      const digests = new Set<string>()
      const references: string[] = []
      const source =
        top.source === undefined || top.source === null ? undefined : Fields.of(top.source, 'source')
      const target = source?.raw.target
      // Only an image source's target is an image (a directory, file, SBOM or purl source's is a string naming it).
      if (source && source.optionalString('type') === 'image' && isRecord(target)) {
        const fields = Fields.of(target, 'source.target')
        references.push(
          fields.optionalString('userInput'),
          ...fields.strings('repoDigests'),
          ...fields.strings('tags')
        )
        const manifest = digestOf(fields.optionalString('manifestDigest'))
        if (manifest) digests.add(manifest)
      }
      for (const reference of references) {
        const digest = digestOf(reference)
        if (digest) digests.add(digest)
      }
      const recorded = references.filter(reference => reference !== '')
      const descriptor =
        top.descriptor === undefined || top.descriptor === null
          ? undefined
          : Fields.of(top.descriptor, 'descriptor')
      return {
        format: 'grype',
        scanner: {
          name: descriptor?.optionalString('name') || 'grype',
          version: descriptor?.optionalString('version') || undefined
        },
        artifact: { name: recorded[0], digests: [...digests], references: recorded },
        findings,
        suppressed
      }
    }
  }
}

/**
 * One entry of `matches` (Grype's `models.Match`: vulnerability, artifact, relatedVulnerabilities and matchDetails
 * are struct fields without `omitempty`, so Grype always writes them):
 * - vulnerability, artifact: required; a match without them is not Grype's output.
 * - vulnerability.id: required (`json:"id"`); ignores, VEX, the baseline and the summary key on it.
 * - artifact.name: required (`json:"name"`); package-scoped ignores and the baseline key on it.
 * - vulnerability.severity: `omitempty`, and null in real reports (NVD CPE matches without metadata): absent, null
 *   or empty is `unknown` (counted, shown, blocking at threshold unknown). A word that is no severity is refused.
 * - vulnerability.fix.state: `json:"state"`, but "" when Grype has no metadata: "" is `unknown`; another word is
 *   refused, since it decides `fixable`. fix.versions, urls, dataSource, locations, purl: optional, shown only.
 */
export function grypeFinding(value: unknown, where: string): Finding {
  const match = Fields.of(value, where, 'a match object')
  const vulnerability = match.object('vulnerability')
  const artifact = match.object('artifact')
  if (!vulnerability) throw new ReportError(`${where}.vulnerability is missing`)
  if (!artifact) throw new ReportError(`${where}.artifact is missing`)
  const id = vulnerability.string('id')
  const severityText = vulnerability.optionalString('severity')
  const severity = severityText === '' ? 'unknown' : parseSeverity(severityText)
  if (!severity) {
    throw new ReportError(
      `${where} (${id}) has severity ${describe(vulnerability.raw.severity)}; expected Critical, High, Medium, Low, Negligible or Unknown`
    )
  }
  const fix = vulnerability.object('fix')
  const state = fix?.optionalString('state') || 'unknown'
  if (!(GRYPE_FIX_STATES as readonly string[]).includes(state)) {
    // An unknown state could be read as fixed or not: refuse rather than guess.
    throw new ReportError(
      `${where} (${id}) has fix.state '${state}', which is not one of ${GRYPE_FIX_STATES.join(', ')}`
    )
  }
  const aliases = match.array('relatedVulnerabilities').flatMap((related, index) => {
    const alias = Fields.of(related, `${where}.relatedVulnerabilities[${index}]`).optionalString('id')
    return alias && alias !== id ? [alias] : []
  })
  const locations = artifact.array('locations')
  const firstLocation = locations.length
    ? Fields.of(locations[0], `${where}.artifact.locations[0]`)
    : undefined
  const urls = vulnerability.strings('urls')
  const dataSource = vulnerability.optionalString('dataSource')
  return {
    id,
    aliases: [...new Set(aliases)],
    package: artifact.string('name'),
    installedVersion: artifact.optionalString('version'),
    fixedVersion: (fix?.strings('versions') ?? []).join(', '),
    fixable: state === 'fixed',
    status: state,
    severity,
    path: firstLocation?.optionalString('path') || undefined,
    purl: artifact.optionalString('purl') || undefined,
    url: dataSource || urls[0],
    title: undefined
  }
}

function describeRules(rules: unknown[]): string {
  return rules
    .map(rule => {
      const fields = Fields.of(rule, 'appliedIgnoreRules[]')
      const reason = fields.optionalString('reason')
      const id = fields.optionalString('vulnerability')
      return [id, reason].filter(Boolean).join(' ') || 'a rule of the Grype configuration'
    })
    .join('; ')
}
