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

function isState(value: unknown): value is PromotionState {
  if (typeof value !== 'object' || value === null) return false
  const state = value as Record<string, unknown>
  const to = state.to as Record<string, unknown> | undefined
  const verification = state.verification as Record<string, unknown> | undefined
  return (
    state.v === STATE_VERSION &&
    typeof state.environment === 'string' &&
    typeof state.image === 'string' &&
    typeof to === 'object' &&
    to !== null &&
    typeof to.digest === 'string' &&
    /^sha(256|512):[0-9a-f]+$/.test(to.digest) &&
    Array.isArray(state.files) &&
    typeof verification === 'object' &&
    verification !== null &&
    typeof verification.verified === 'boolean'
  )
}
