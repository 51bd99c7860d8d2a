import type { Finding } from '../scanner/finding.js'

/** One ignore entry, from the policy file, `.trivyignore` or `.trivyignore.yaml`. */
export interface IgnoreRule {
  /** Vulnerability id; matches the finding's id or any of its aliases. */
  id: string
  /** Package name the entry is limited to. */
  package?: string
  /** Globs of file paths the entry is limited to (`.trivyignore.yaml` `paths`). */
  paths?: string[]
  /** Package URLs the entry is limited to (`.trivyignore.yaml` `purls`). */
  purls?: string[]
  reason: string
  /** As written: `YYYY-MM-DD` (or an RFC 3339 time in `.trivyignore.yaml`). */
  expires?: string
  /** The instant the entry stops applying (ms since the epoch). */
  expiresAt?: number
  /** Where it was written: `policy.yml:12`, `.trivyignore:4`. */
  source: string
}

/**
 * What an ignore entry's id may look like: advisory and rule ids (CVE-…, GHSA-…, RHSA-2024:1234, openSUSE-SU-…,
 * TEMP-0000000-2A4E3E, aws-access-key-id). A line of a credentials file (`https://user:token@host`) or of
 * /proc/self/environ (`KEY=value`) is not one, so it is refused without being shown.
 */
export const IGNORE_ID = /^[A-Za-z0-9][A-Za-z0-9._:+-]{0,127}$/

/** An id as shown in messages and summaries: printable ASCII only, cut at 40 characters. */
export function shownId(id: string): string {
  const printable = id.replace(/[^\x21-\x7e]/g, '?')
  return printable.length > 40 ? `${printable.slice(0, 39)}…` : printable
}

/** True once an entry's expiry has passed; like Trivy's `exp:`, `2026-01-31` stops applying on that day (UTC). */
export function isExpired(rule: Pick<IgnoreRule, 'expiresAt'>, now: number): boolean {
  return rule.expiresAt !== undefined && now > rule.expiresAt
}

/** True when the rule names this finding (by id or alias) and its package, path and purl limits fit. */
export function ruleMatches(rule: IgnoreRule, finding: Finding): boolean {
  if (rule.id !== finding.id && !finding.aliases.includes(rule.id)) return false
  if (rule.package !== undefined && rule.package !== finding.package) return false
  if (rule.paths?.length) {
    const where = finding.path ?? finding.target
    if (!where || !rule.paths.some(glob => globMatches(glob, where))) return false
  }
  if (rule.purls?.length) {
    if (!finding.purl || !rule.purls.some(purl => purlMatches(purl, finding.purl as string))) return false
  }
  return true
}

/**
 * The instant a `YYYY-MM-DD` date (midnight UTC) or an RFC 3339 time denotes; undefined for anything else,
 * including impossible dates such as 2026-02-30.
 */
export function parseExpiry(text: string, allowTime = false): number | undefined {
  const date = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text)
  if (date) {
    const [year, month, day] = [Number(date[1]), Number(date[2]), Number(date[3])]
    const time = Date.UTC(year, month - 1, day)
    const check = new Date(time)
    const real =
      check.getUTCFullYear() === year && check.getUTCMonth() === month - 1 && check.getUTCDate() === day
    return real ? time : undefined
  }
  if (allowTime && /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(text)) {
    const time = Date.parse(text.replace(' ', 'T'))
    return Number.isNaN(time) ? undefined : time
  }
  return undefined
}

/** A parsed package URL (purl-spec): enough to compare two of them. */
export interface PackageUrl {
  type: string
  namespace: string
  name: string
  version?: string
  qualifiers: Map<string, string>
}

/** Parses `pkg:type/namespace/name@version?qualifiers#subpath`; undefined when it is not a purl. */
export function parsePurl(text: string): PackageUrl | undefined {
  const match = /^pkg:([a-zA-Z][a-zA-Z0-9.+-]*)\/([^?#]+?)(?:\?([^#]*))?(?:#.*)?$/.exec(text.trim())
  if (!match) return undefined
  const type = (match[1] as string).toLowerCase()
  let rest = match[2] as string
  let version: string | undefined
  const at = rest.lastIndexOf('@')
  if (at > 0) {
    version = decode(rest.slice(at + 1))
    rest = rest.slice(0, at)
  }
  const segments = rest.split('/').filter(Boolean).map(decode)
  const name = segments.pop()
  if (!name) return undefined
  const qualifiers = new Map<string, string>()
  for (const pair of (match[3] ?? '').split('&').filter(Boolean)) {
    const eq = pair.indexOf('=')
    if (eq > 0) qualifiers.set(pair.slice(0, eq).toLowerCase(), decode(pair.slice(eq + 1)))
  }
  return { type, namespace: segments.join('/'), name, version, qualifiers }
}

/** True when `pattern` names the package of `actual`: same type, namespace and name; version and qualifiers if given. */
export function purlMatches(pattern: string, actual: string): boolean {
  const want = parsePurl(pattern)
  const have = parsePurl(actual)
  if (!want || !have) return pattern === actual
  if (want.type !== have.type || want.namespace !== have.namespace || want.name !== have.name) return false
  if (want.version !== undefined && want.version !== have.version) return false
  for (const [key, value] of want.qualifiers) if (have.qualifiers.get(key) !== value) return false
  return true
}

/** Glob match as Trivy's ignore paths use it: `*` within a path segment, `**` across segments, `?` one character. */
export function globMatches(glob: string, path: string): boolean {
  let pattern = ''
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string
    if (c === '*' && glob[i + 1] === '*') {
      pattern += '.*'
      i++
      if (glob[i + 1] === '/') i++
    } else if (c === '*') {
      pattern += '[^/]*'
    } else if (c === '?') {
      pattern += '[^/]'
    } else {
      pattern += c.replace(/[.+^${}()|[\]\\]/g, '\\$&')
    }
  }
  return new RegExp(`^${pattern}$`).test(path.replace(/^\/+/, '')) || new RegExp(`^${pattern}$`).test(path)
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}
