import { parseSeverity, SEVERITIES, type Severity } from '../scanner/finding.js'
import { parseExpiry, type IgnoreRule } from './rules.js'
import { YamlSource } from './yaml-source.js'

/** What a policy file may set; anything it leaves out comes from the inputs or the defaults. */
export interface PolicyFile {
  severity?: Severity
  ignoreUnfixed?: boolean
  failOnExpiredIgnore?: boolean
  /** Findings allowed per severity before that severity blocks. */
  max: Partial<Record<Severity, number>>
  ignores: IgnoreRule[]
}

const KEYS = ['severity', 'ignore-unfixed', 'fail-on-expired-ignore', 'max', 'ignore'] as const
const IGNORE_KEYS = ['id', 'package', 'reason', 'expires'] as const

/**
 * Parses a policy file:
 *
 *     severity: high
 *     ignore-unfixed: true
 *     fail-on-expired-ignore: true
 *     max: { medium: 10 }
 *     ignore:
 *       - { id: CVE-2024-1234, package: openssl, reason: not reachable, expires: 2026-06-30 }
 *
 * Unknown keys, bad values and impossible dates are ConfigurationErrors naming `file:line`.
 */
export function parsePolicyFile(text: string, label: string): PolicyFile {
  const yaml = new YamlSource(label, text)
  const policy: PolicyFile = { max: {}, ignores: [] }
  if (yaml.root === null) return policy
  for (const { key, pair } of yaml.entries(yaml.root, 'the policy', KEYS)) {
    const value = pair.value
    switch (key) {
      case 'severity': {
        const word = yaml.string(value, 'severity')
        const severity = parseSeverity(word)
        if (!severity || word.toLowerCase() === 'negligible') {
          throw yaml.error(value, `severity '${word}' is not one of ${SEVERITIES.join(', ')}`)
        }
        policy.severity = severity
        break
      }
      case 'ignore-unfixed':
        policy.ignoreUnfixed = yaml.boolean(value, 'ignore-unfixed')
        break
      case 'fail-on-expired-ignore':
        policy.failOnExpiredIgnore = yaml.boolean(value, 'fail-on-expired-ignore')
        break
      case 'max':
        for (const entry of yaml.entries(value, 'max', SEVERITIES)) {
          policy.max[entry.key as Severity] = yaml.integer(entry.pair.value, `max.${entry.key}`)
        }
        break
      case 'ignore':
        yaml
          .items(value, 'ignore')
          .forEach((item, index) => policy.ignores.push(ignoreEntry(yaml, item, index)))
        break
    }
  }
  return policy
}

function ignoreEntry(yaml: YamlSource, item: Parameters<YamlSource['at']>[0], index: number): IgnoreRule {
  const what = `ignore[${index}]`
  const fields = new Map(
    yaml.entries(item ?? null, what, IGNORE_KEYS).map(({ key, pair }) => [key, pair.value])
  )
  for (const required of ['id', 'reason', 'expires'] as const) {
    if (!fields.has(required)) {
      throw yaml.error(
        item,
        `${what} has no '${required}': every ignore needs an id, a reason and an expiry date (expires: YYYY-MM-DD)`
      )
    }
  }
  const expiresNode = fields.get('expires') ?? null
  const expires = yaml.text(expiresNode, `${what}.expires`)
  const expiresAt = parseExpiry(expires)
  if (expiresAt === undefined) {
    throw yaml.error(
      expiresNode,
      `${what}.expires '${expires}' is not a date: write YYYY-MM-DD, e.g. 2026-06-30`
    )
  }
  return {
    id: yaml.string(fields.get('id') ?? null, `${what}.id`),
    package: fields.has('package')
      ? yaml.string(fields.get('package') ?? null, `${what}.package`)
      : undefined,
    reason: yaml.string(fields.get('reason') ?? null, `${what}.reason`),
    expires,
    expiresAt,
    source: yaml.at(item)
  }
}
