import { ConfigurationError } from '../errors.js'
import { familiarName, parseDigest, parseImageRef, sameRepository, type ImageRef } from '../image-ref.js'
import type { PinRequest } from './request-and-changes.js'

/** One step of a Helm key path: a map key or a list index. */
export type HelmPathStep = { key: string } | { index: number }

/** A validated pin request with the matching helpers every editor uses. */
export interface PinTarget {
  request: PinRequest
  digest: string
  tag?: string
  helmPaths: HelmPathStep[][]
  policy?: { namespace?: string; name: string }
  /** The parsed reference when `text` names the image (any spelling, any alias), else undefined. */
  match(text: string): ImageRef | undefined
  /** The new reference, keeping the spelling `name` has in the file. */
  pinned(name: string): string
  /** Strings one of which any reference to the image contains, for the cheap text prefilter. */
  needles: string[]
  /** True for the target of `anyImageRequest`: every reference matches, whatever it names. */
  anyImage?: boolean
}

const targets = new WeakMap<PinRequest, PinTarget>()

/** Validate a request once (ConfigurationError naming the bad input) and build its matchers. */
export function preparePin(request: PinRequest): PinTarget {
  const cached = targets.get(request)
  if (cached) return cached
  const names = [request.image, ...(request.aliases ?? [])].filter(name => name.trim() !== '')
  if (names.length === 0) throw new ConfigurationError('image is empty: give the repository name to pin')
  const refs = names.map(name => {
    const ref = parseImageRef(name)
    if (ref.tag !== undefined || ref.digest !== undefined) {
      throw new ConfigurationError(
        `image '${name}' must be a repository name without tag or digest: put the tag in 'tag' and the digest in 'digest'`
      )
    }
    return ref
  })
  const digest = parseDigest(request.digest.trim())
  const tag = request.tag?.trim() || undefined
  if (tag !== undefined && !isTag(names[0]!, tag)) {
    throw new ConfigurationError(
      `tag '${tag}' is invalid: up to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'`
    )
  }
  const target: PinTarget = {
    request,
    digest,
    tag,
    helmPaths: (request.helmPaths ?? []).filter(p => p.trim() !== '').map(p => parseHelmPath(p.trim())),
    policy: request.imagePolicy?.trim() ? parsePolicy(request.imagePolicy.trim()) : undefined,
    match(text) {
      let ref: ImageRef
      try {
        ref = parseImageRef(text)
      } catch {
        return undefined
      }
      return refs.some(r => sameRepository(r, ref)) ? ref : undefined
    },
    pinned: name => `${name}${tag ? `:${tag}` : ''}@${digest}`,
    // Registry hosts are often written apart from the path (Helm's `registry:`), and Docker Hub's `library/` is
    // usually omitted, so the path alone is what every spelling contains.
    needles: [...new Set(refs.map(r => familiarName({ registry: 'docker.io', repository: r.repository })))]
  }
  targets.set(request, target)
  return target
}

/** A digest no manifest pins: reading with it reports every reference as a change from what it pins now. */
export const PROBE_DIGEST = `sha256:${'0'.repeat(64)}`
/**
 * The tag read-only requests carry: a chart that renders repository:tag holds its pin as `tag: v1@sha256:…`, and the
 * engine reads that shape only for a request with a tag.
 */
export const PROBE_TAG = 'digest-delivery-probe'

/**
 * A request whose target matches every image reference, so a read-only run of the engine reports every reference
 * of the tree as a change from what it pins now: the image listing, through the same editors as a pin. Never written.
 */
export function anyImageRequest(helmPaths: readonly string[] = []): PinRequest {
  const request: PinRequest = { image: '', digest: PROBE_DIGEST, tag: PROBE_TAG, helmPaths }
  targets.set(request, {
    request,
    digest: PROBE_DIGEST,
    tag: PROBE_TAG,
    helmPaths: helmPaths.filter(p => p.trim() !== '').map(p => parseHelmPath(p.trim())),
    match(text) {
      try {
        return parseImageRef(text)
      } catch {
        return undefined
      }
    },
    pinned: name => `${name}@${PROBE_DIGEST}`,
    // Every text contains '': every YAML file is parsed.
    needles: [''],
    anyImage: true
  })
  return request
}

function isTag(name: string, tag: string): boolean {
  try {
    const ref = parseImageRef(`${name}:${tag}`)
    return ref.tag === tag && ref.digest === undefined
  } catch {
    return false
  }
}

/** Parse `a.b[0].c`; keys containing dots are not supported. */
export function parseHelmPath(text: string): HelmPathStep[] {
  const steps: HelmPathStep[] = []
  for (const part of text.split('.')) {
    const match = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part)
    if (!match || (match[1] === '' && match[2] === '')) {
      throw new ConfigurationError(
        `helm path '${text}' is invalid: use dot-separated keys with optional [index], e.g. image or app.sidecars[0].image`
      )
    }
    if (match[1]) steps.push({ key: match[1] })
    for (const index of match[2]?.matchAll(/\[(\d+)\]/g) ?? []) steps.push({ index: Number(index[1]) })
  }
  if (steps.length === 0 || !('key' in steps[0]!)) {
    throw new ConfigurationError(`helm path '${text}' must start with a key`)
  }
  return steps
}

function parsePolicy(text: string): { namespace?: string; name: string } {
  const match = /^(?:([a-z0-9][-a-z0-9.]*):)?([a-z0-9][-a-z0-9.]*)$/.exec(text)
  if (!match) {
    throw new ConfigurationError(
      `image-policy '${text}' is invalid: give the Flux ImagePolicy as namespace:name (or name), as in its markers`
    )
  }
  return { namespace: match[1], name: match[2]! }
}
