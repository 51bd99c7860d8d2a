/**
 * The promotion's state, kept in a hidden, versioned block at the end of the pull request's body: later runs read it
 * back to tell "nothing new" from "a newer digest", and render the body from it alone.
 */

export const STATE_MARKER = 'digest-delivery:promotion'
export const STATE_VERSION = 1

export interface ImageVersion {
  digest: string
  tag?: string
  /** OCI labels `org.opencontainers.image.source` and `.revision`, when the image has them. */
  source?: string
  revision?: string
}

export interface StatusSeen {
  context: string
  state: string
  at: string
  kind: 'status' | 'check-run'
}

export interface VerificationState {
  /** The `require-status` patterns; empty when none were required. */
  required: string[]
  verified: boolean
  /** The commit of `base` the passing statuses are on (or the last one looked at). */
  commit?: string
  /** The commit that pinned the digest upstream. */
  pinnedBy?: string
  statuses: StatusSeen[]
  minSoakMs: number
  /** Why it is not verified, for reviewers and the notice. */
  reason?: string
}

export interface VerdictState {
  decision: 'pass' | 'fail'
  blocking: number
  counts: Record<string, number>
  policyDigest: string
  time: string
  ref: string
}

export interface PromotionState {
  v: typeof STATE_VERSION
  environment: string
  fromEnvironment?: string
  image: string
  /** What the environment runs before the merge, when known. */
  from?: ImageVersion
  to: ImageVersion
  files: string[]
  verification: VerificationState
  /** null: no verdict attached; undefined: not looked up. */
  verdict?: VerdictState | null
  /** The run that first proposed this digest. */
  proposedBy?: string
  proposedAt: string
}

/** The block as it ends the body: JSON with `<`, `>` and `&` escaped, so no value can close the comment. */
export function renderStateBlock(state: PromotionState): string {
  const json = JSON.stringify(state).replace(
    /[<>&]/g,
    char => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`
  )
  return `<!-- ${STATE_MARKER} ${json} -->`
}

/** The state a body carries, or undefined when it has none, another version, or one that does not check out. */
export function readStateBlock(body: string): PromotionState | undefined {
  const start = body.lastIndexOf(`<!-- ${STATE_MARKER} `)
  if (start < 0) return undefined
  const end = body.indexOf(' -->', start)
  if (end < 0) return undefined
  let value: unknown
  try {
    value = JSON.parse(body.slice(start + STATE_MARKER.length + 6, end))
  } catch {
    return undefined
  }
  return isState(value) ? value : undefined
}

// The body is editable by anyone who can edit the pull request: every field is checked for its type before use.
type Check = (value: unknown) => boolean

const isString: Check = value => typeof value === 'string'
const isNumber: Check = value => typeof value === 'number' && Number.isFinite(value)
const isDigest: Check = value =>
  typeof value === 'string' && /^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/.test(value)
const optional =
  (check: Check): Check =>
  value =>
    value === undefined || check(value)
const arrayOf =
  (check: Check): Check =>
  value =>
    Array.isArray(value) && value.every(check)
const oneOf =
  (...allowed: unknown[]): Check =>
  value =>
    allowed.includes(value)
const shape =
  (fields: Record<string, Check>): Check =>
  value =>
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.entries(fields).every(([name, check]) => check((value as Record<string, unknown>)[name]))

const isImageVersion = shape({
  digest: isDigest,
  tag: optional(isString),
  source: optional(isString),
  revision: optional(isString)
})

const isVerdict = shape({
  decision: oneOf('pass', 'fail'),
  blocking: isNumber,
  counts: value =>
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every(isNumber),
  policyDigest: isString,
  time: isString,
  ref: isString
})

const isState = shape({
  v: oneOf(STATE_VERSION),
  environment: isString,
  fromEnvironment: optional(isString),
  image: isString,
  from: optional(isImageVersion),
  to: isImageVersion,
  files: arrayOf(isString),
  verification: shape({
    required: arrayOf(isString),
    verified: oneOf(true, false),
    commit: optional(isString),
    pinnedBy: optional(isString),
    statuses: arrayOf(
      shape({ context: isString, state: isString, at: isString, kind: oneOf('status', 'check-run') })
    ),
    minSoakMs: isNumber,
    reason: optional(isString)
  }),
  verdict: value => value === undefined || value === null || isVerdict(value),
  proposedBy: optional(isString),
  proposedAt: isString
}) as (value: unknown) => value is PromotionState
