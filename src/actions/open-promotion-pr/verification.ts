import type { CommitSummary, PullRequestApi, RepoName } from '../../lib/github/index.js'
import type { StatusSeen, VerificationState } from './state-block.js'

/** How many commits of `base` (newest first) are searched for the upstream's statuses, at most. */
export const MAX_COMMITS_CHECKED = 10

export interface UpstreamRequest {
  api: Pick<PullRequestApi, 'listCommits' | 'statuses'>
  repo: RepoName
  base: string
  /** Directories or files of `from-paths` (globs cut at their first wildcard). */
  fromPaths: string[]
  image: string
  aliases: string[]
  digest: string
  /** What `from-paths` pin on base now (undefined: nothing); the upstream runs this digest, no other. */
  pinned: string | undefined
  required: string[]
  minSoakMs: number
  now: Date
}

/** `*` matches any run of characters (slashes too), case-insensitively as GitHub compares contexts. */
export function globMatches(pattern: string, context: string): boolean {
  const source = pattern
    .split('*')
    .map(part => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*')
  return new RegExp(`^${source}$`, 'i').test(context)
}

/** True when a commit message carries an `Image: <name>@<digest>` trailer for one of the image's names. */
export function hasImageTrailer(message: string, names: string[], digest: string): boolean {
  return message.split('\n').some(line => {
    const match = /^Image:\s*(\S+)@(\S+)\s*$/.exec(line.trim())
    return match !== null && match[2] === digest && names.includes(match[1] as string)
  })
}

/**
 * Whether the upstream environment verified the digest: `required` contexts (globs) all `success`, long enough ago,
 * on a commit of `base` while `from-paths` pinned the digest — the commit that pinned it or a later one (a controller
 * posts on the revision it synced, often a later one). A digest base does not pin there now was not run upstream.
 */
export async function verifyUpstream(request: UpstreamRequest): Promise<VerificationState> {
  const base: VerificationState = {
    required: request.required,
    verified: false,
    statuses: [],
    minSoakMs: request.minSoakMs
  }
  if (request.required.length === 0) return { ...base, verified: true }
  if (request.pinned !== request.digest) {
    return {
      ...base,
      reason:
        `${request.fromPaths.join(', ')} on ${request.base} ` +
        `${request.pinned ? `pin ${request.pinned}` : 'pin no digest of the image'}, not this digest: ` +
        'the upstream environment does not run it, so its statuses say nothing about it'
    }
  }

  const names = [request.image, ...request.aliases]
  const touching = new Map<string, CommitSummary>()
  for (const path of new Set(request.fromPaths.map(cleanPath))) {
    for (const commit of await request.api.listCommits(request.repo, request.base, {
      path: path || undefined,
      max: 100
    })) {
      touching.set(commit.sha, commit)
    }
  }
  const history = await request.api.listCommits(request.repo, request.base, { max: 100 })
  const touched = (index: number) => touching.has((history[index] as CommitSummary).sha)
  // from-paths are as base has them now from their newest change on: that commit and all later ones pin the digest.
  const newest = history.findIndex((_commit, index) => touched(index))
  if (newest < 0) {
    return {
      ...base,
      reason: `no commit among the last ${history.length} of ${request.base} touched ${request.fromPaths.join(', ')}`
    }
  }
  // The commit our trailer says pinned the digest, up to the next change of from-paths (which may pin another).
  const trailer = history.findIndex(
    (commit, index) => touched(index) && hasImageTrailer(commit.message, names, request.digest)
  )
  let changed = trailer
  while (changed > 0 && !touched(changed - 1)) changed--
  const pinning = history[trailer < 0 ? newest : trailer] as CommitSummary
  const candidates = history
    .filter((_commit, index) => index <= newest || (trailer >= 0 && index >= changed && index <= trailer))
    .slice(0, MAX_COMMITS_CHECKED)
  let last: VerificationState = { ...base, pinnedBy: pinning.sha }
  for (const commit of candidates) {
    const seen = await request.api.statuses(request.repo, commit.sha)
    const outcome = judge(seen, request)
    const state: VerificationState = {
      ...base,
      pinnedBy: pinning.sha,
      commit: commit.sha,
      statuses: seen.filter(status => request.required.some(pattern => globMatches(pattern, status.context))),
      verified: outcome.verified,
      reason: outcome.reason
    }
    if (state.verified) return state
    // Keep the most informative refusal: the newest commit that had any matching status.
    if (last.commit === undefined || (last.statuses.length === 0 && state.statuses.length > 0)) last = state
  }
  return last
}

function judge(seen: StatusSeen[], request: UpstreamRequest): { verified: boolean; reason?: string } {
  const reasons: string[] = []
  for (const pattern of request.required) {
    const matching = seen.filter(status => globMatches(pattern, status.context))
    const green = matching.filter(status => status.state === 'success')
    if (matching.length === 0) {
      reasons.push(`no status or check matches '${pattern}'`)
      continue
    }
    if (green.length === 0) {
      reasons.push(
        `'${pattern}': ${matching.map(status => `${status.context} is ${status.state}`).join(', ')}`
      )
      continue
    }
    // A failing context of the same pattern outweighs a green one: the environment is not healthy.
    const red = matching.filter(status =>
      ['failure', 'error', 'cancelled', 'timed_out'].includes(status.state)
    )
    if (red.length > 0) {
      reasons.push(`'${pattern}': ${red.map(status => `${status.context} is ${status.state}`).join(', ')}`)
      continue
    }
    const oldest = Math.min(...green.map(status => Date.parse(status.at)))
    const soaked = request.now.getTime() - oldest
    if (Number.isNaN(oldest) || soaked < request.minSoakMs) {
      reasons.push(
        `'${pattern}': green for ${formatDuration(Math.max(0, soaked))}, less than min-soak ${formatDuration(request.minSoakMs)}`
      )
    }
  }
  return reasons.length === 0 ? { verified: true } : { verified: false, reason: reasons.join('; ') }
}

/** The part of a path before its first glob component: what the commits API can filter on. */
export function cleanPath(path: string): string {
  const wildcard = path.search(/[*?[{]/)
  const cut = wildcard < 0 ? path : path.slice(0, path.lastIndexOf('/', wildcard) + 1)
  return cut.replace(/^\.?\/+/, '').replace(/\/+$/, '')
}

export function formatDuration(ms: number): string {
  const minutes = Math.floor(ms / 60_000)
  if (minutes < 1) return `${Math.floor(ms / 1000)}s`
  const hours = Math.floor(minutes / 60)
  if (hours < 1) return `${minutes}m`
  return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`
}
