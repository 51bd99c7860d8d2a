import type { CommitSummary, PullRequestApi, RepoName } from '../../lib/github/index.js'
import type { StatusSeen, VerificationState } from './state-block.js'

/** How many commits of `base` (newest first) are searched for the upstream's statuses, at most. */
export const MAX_COMMITS_CHECKED = 10

/** How many changes of `from-paths` are read at their parent, at most, looking for the one that pinned the digest. */
export const MAX_PIN_READS = 20

/** What `from-paths` pinned before a commit of base: the clone's history, read with the manifest engine. */
export interface PinHistory {
  /** The commit of base `pinned` was read at; history is listed from it. */
  tip: string
  /**
   * The digests from-paths pin at the parent of `commit`, which is `index` commits below the tip; undefined when that
   * cannot be read (from-paths missing there, a file the engine refuses, history git could not fetch).
   */
  pinnedBefore(commit: string, index: number): Promise<string[] | undefined>
  /**
   * The digests from-paths pin at `commit` itself (`index` commits below the tip), read from its whole tree, bases
   * outside from-paths included; undefined when that cannot be read.
   */
  pinnedAt(commit: string, index: number): Promise<string[] | undefined>
}

export interface UpstreamRequest {
  api: Pick<PullRequestApi, 'listCommits' | 'statuses'>
  history: PinHistory
  repo: RepoName
  base: string
  /** Directories or files of `from-paths` (globs cut at their first wildcard). */
  fromPaths: string[]
  image: string
  aliases: string[]
  digest: string
  /** What `from-paths` pin on base now (undefined: nothing); the upstream runs this digest, no other. */
  pinned: string | undefined
  /** The files the pin is read from at the tip (bases outside from-paths included); none: only from-paths. */
  pinFiles?: string[]
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
  // Both lists from the commit from-paths were read at: a commit landing on base meanwhile shifts nothing.
  const tip = request.history.tip
  const paths = [...new Set(request.fromPaths.map(cleanPath))]
  // A pin inherited from a base outside from-paths changes with commits their history does not list (and the chain of
  // bases between may change too): each commit looked at is read whole instead.
  const inherited = (request.pinFiles ?? []).filter(
    file => !paths.some(path => path === '' || file === path || file.startsWith(`${path}/`))
  )
  if (inherited.length > 0) {
    const history = await request.api.listCommits(request.repo, tip, { max: MAX_COMMITS_CHECKED })
    if (history.length === 0) return { ...base, reason: `${request.base} lists no commit from ${tip}` }
    const oldest = await oldestRunning(request, history)
    return judgeCandidates(request, base, history.slice(0, oldest + 1), history[oldest] as CommitSummary)
  }
  const touching = new Set<string>()
  for (const path of paths) {
    for (const commit of await request.api.listCommits(request.repo, tip, {
      path: path || undefined,
      max: 100
    })) {
      touching.add(commit.sha)
    }
  }
  const history = await request.api.listCommits(request.repo, tip, { max: 100 })
  const changes = history.flatMap((commit, index) => (touching.has(commit.sha) ? [index] : []))
  if (changes.length === 0) {
    return {
      ...base,
      reason: `no commit among the last ${history.length} of ${request.base} touched ${request.fromPaths.join(', ')}`
    }
  }
  const start = await pinningChange(request, history, changes, names)
  const candidates = history.slice(0, start + 1).slice(0, MAX_COMMITS_CHECKED)
  return judgeCandidates(request, base, candidates, history[start] as CommitSummary)
}

/** The statuses of `candidates` (newest first), each of which ran the digest, judged: the first that verifies it. */
async function judgeCandidates(
  request: UpstreamRequest,
  base: VerificationState,
  candidates: CommitSummary[],
  pinning: CommitSummary
): Promise<VerificationState> {
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

/**
 * The index of the oldest commit of `history` (newest first, from the tip) in the run of the digest lasting to the
 * tip, each commit read: the walk stops before a commit that pins something else or cannot be read. Not at a commit
 * with our trailer for the digest: with a shared base, that may be another environment's promotion of it.
 */
async function oldestRunning(request: UpstreamRequest, history: CommitSummary[]): Promise<number> {
  const bound = Math.min(history.length, MAX_COMMITS_CHECKED)
  // The tip (index 0) is where `pinned` was read.
  for (let index = 1; index < bound; index++) {
    const pinned = await request.history.pinnedAt((history[index] as CommitSummary).sha, index)
    if (pinned?.length !== 1 || pinned[0] !== request.digest) return index - 1
  }
  return Math.max(0, bound - 1)
}

/**
 * Where the run of the digest lasting to the tip began: the newest change of from-paths (`changes`, newest first)
 * with our trailer, else the first, walking back, whose parent did not pin the digest. Where the history cannot tell,
 * the oldest change known to pin it: fewer commits count, never one that ran another digest.
 */
async function pinningChange(
  request: UpstreamRequest,
  history: CommitSummary[],
  changes: number[],
  names: string[]
): Promise<number> {
  let reads = 0
  for (const index of changes) {
    const commit = history[index] as CommitSummary
    if (hasImageTrailer(commit.message, names, request.digest)) return index
    if (reads++ === MAX_PIN_READS) return index
    const before = await request.history.pinnedBefore(commit.sha, index)
    if (before?.length !== 1 || before[0] !== request.digest) return index
  }
  return changes[changes.length - 1] as number
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
