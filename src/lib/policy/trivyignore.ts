import { ConfigurationError } from '../errors.js'
import { IGNORE_ID, parseExpiry, shownId, type IgnoreRule } from './rules.js'
import { YamlSource } from './yaml-source.js'

/**
 * Reads `.trivyignore`: one id per line, optionally `exp:YYYY-MM-DD`; `#` comments. A comment right above an entry
 * is its reason. Where Trivy warns and drops a line it cannot read, this refuses the file, naming the line.
 */
export function parseTrivyignore(text: string, label: string): IgnoreRule[] {
  const rules: IgnoreRule[] = []
  let comment: string[] = []
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim()
    const where = `${label}:${index + 1}`
    if (line === '') {
      comment = []
      return
    }
    if (line.startsWith('#')) {
      comment.push(line.replace(/^#+\s*/, ''))
      return
    }
    const [id, ...rest] = line.split(/\s+/) as [string, ...string[]]
    if (!IGNORE_ID.test(id)) {
      // The line is not shown: this file may not be what it claims (a symlink to a credentials file is refused
      // before, but a committed secret is still a secret).
      throw new ConfigurationError(
        `${where}: the entry is not a vulnerability id (letters, digits and . _ : + -, up to 128 characters, as ` +
          'CVE-2024-1234 or GHSA-xxxx-xxxx-xxxx); the line is not shown here. Fix or remove it'
      )
    }
    let expires: string | undefined
    let expiresAt: number | undefined
    // Trivy reads only exp: after the id; other words are notes, kept here as part of the reason.
    const notes: string[] = []
    for (const field of rest) {
      if (!field.startsWith('exp:')) {
        notes.push(field)
        continue
      }
      if (expires !== undefined)
        throw new ConfigurationError(`${where}: '${shownId(id)}' has more than one exp: date`)
      expires = field.slice('exp:'.length)
      expiresAt = parseExpiry(expires)
      if (expiresAt === undefined) {
        throw new ConfigurationError(
          `${where}: '${shownId(field)}' is not a date: write exp:YYYY-MM-DD, e.g. exp:2026-06-30`
        )
      }
    }
    const reason = [...comment, notes.join(' ').replace(/^#+\s*/, '')].filter(Boolean).join(' ')
    rules.push({ id, reason: reason || `listed in ${label}`, expires, expiresAt, source: where })
    comment = []
  })
  return rules
}

const SECTIONS = ['vulnerabilities', 'misconfigurations', 'secrets', 'licenses'] as const
const ENTRY_KEYS = ['id', 'paths', 'purls', 'expired_at', 'statement'] as const

/**
 * Reads `.trivyignore.yaml` (`vulnerabilities:` entries with `id`, `paths`, `purls`, `expired_at`, `statement`);
 * the other sections (misconfigurations, secrets, licenses) are checked and left aside: they are not vulnerabilities.
 */
export function parseTrivyignoreYaml(text: string, label: string): IgnoreRule[] {
  const yaml = new YamlSource(label, text)
  if (yaml.root === null) return []
  const rules: IgnoreRule[] = []
  for (const { key, pair } of yaml.entries(yaml.root, 'the file', SECTIONS)) {
    if (pair.value === null) continue
    yaml.items(pair.value, key).forEach((item, index) => {
      const what = `${key}[${index}]`
      const fields = new Map(yaml.entries(item, what, ENTRY_KEYS).map(entry => [entry.key, entry.pair.value]))
      const idNode = fields.get('id')
      if (idNode === undefined) throw yaml.error(item, `${what} has no 'id'`)
      const id = yaml.string(idNode, `${what}.id`)
      if (!IGNORE_ID.test(id)) {
        throw yaml.error(
          idNode,
          `${what}.id is not a vulnerability id (letters, digits and . _ : + -); not shown here`
        )
      }
      const paths = fields.has('paths')
        ? yaml.strings(fields.get('paths') ?? null, `${what}.paths`)
        : undefined
      const purls = fields.has('purls')
        ? yaml.strings(fields.get('purls') ?? null, `${what}.purls`)
        : undefined
      let expires: string | undefined
      let expiresAt: number | undefined
      const expiryNode = fields.get('expired_at')
      if (expiryNode !== undefined) {
        expires = yaml.text(expiryNode, `${what}.expired_at`)
        expiresAt = parseExpiry(expires, true)
        if (expiresAt === undefined) {
          throw yaml.error(
            expiryNode,
            `${what}.expired_at '${expires}' is not a date: write YYYY-MM-DD, e.g. 2026-06-30`
          )
        }
      }
      const statement = fields.has('statement')
        ? yaml.string(fields.get('statement') ?? null, `${what}.statement`)
        : ''
      if (key !== 'vulnerabilities') return
      rules.push({
        id,
        paths,
        purls,
        reason: statement || `listed in ${label}`,
        expires,
        expiresAt,
        source: yaml.at(item)
      })
    })
  }
  return rules
}
