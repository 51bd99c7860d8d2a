import { ConfigurationError } from './errors.js'

/** A parsed image reference, normalised the way Docker normalises names. */
export interface ImageRef {
  /** Registry host as the client talks to it: 'docker.io', 'ghcr.io', 'localhost:5000'. */
  registry: string
  /** Repository path inside the registry: 'library/redis', 'org/app'. */
  repository: string
  tag?: string
  /** 'sha256:<64 hex>' or 'sha512:<128 hex>'. */
  digest?: string
  /** The name exactly as written, without tag or digest ('redis', 'docker.io/library/redis'). */
  name: string
}

export const DOCKER_HUB = 'docker.io'
const MAX_NAME_LENGTH = 255

// The grammar of github.com/distribution/reference, one piece at a time so an error can name the piece.
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/
const IPV6 = /^\[[a-fA-F0-9:]+\]$/
const PORT = /^[0-9]+$/
const TAG = /^[\w][\w.-]{0,127}$/
const DIGEST_HEX: Record<string, number> = { sha256: 64, sha512: 128 }

/** Parse `registry[:port]/path[:tag][@alg:hex]`; a ConfigurationError says which part is wrong. */
export function parseImageRef(text: string): ImageRef {
  const input = text.trim()
  if (input === '') throw refError(text, 'the reference is empty')
  if (/\s/.test(input)) throw refError(text, 'it contains white space')

  let rest = input
  let digest: string | undefined
  const at = rest.indexOf('@')
  if (at >= 0) {
    digest = parseDigest(rest.slice(at + 1), text)
    rest = rest.slice(0, at)
  }

  let tag: string | undefined
  const lastColon = rest.lastIndexOf(':')
  if (lastColon > rest.lastIndexOf('/')) {
    tag = rest.slice(lastColon + 1)
    rest = rest.slice(0, lastColon)
    if (!TAG.test(tag)) {
      throw refError(
        text,
        `tag '${tag}' is invalid: up to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'`
      )
    }
  }

  const name = rest
  if (name === '') throw refError(text, 'the repository name is missing')
  if (name.length > MAX_NAME_LENGTH) {
    throw refError(text, `the name is ${name.length} characters long; at most ${MAX_NAME_LENGTH} are allowed`)
  }
  const { registry, repository } = splitName(name, text)
  return { registry, repository, tag, digest, name }
}

/** Parse a bare digest `alg:hex`; only sha256 and sha512 are accepted. */
export function parseDigest(value: string, context = value): string {
  const colon = value.indexOf(':')
  if (colon < 0) throw refError(context, `digest '${value}' must look like sha256:<64 hex digits>`)
  const algorithm = value.slice(0, colon)
  const hex = value.slice(colon + 1)
  const length = DIGEST_HEX[algorithm]
  if (length === undefined) {
    throw refError(context, `digest algorithm '${algorithm}' is not supported: use sha256 or sha512`)
  }
  if (!/^[a-f0-9]+$/.test(hex) || hex.length !== length) {
    throw refError(
      context,
      `digest '${value}' must have exactly ${length} lowercase hex digits after '${algorithm}:'`
    )
  }
  return value
}

/** True when `text` is a well-formed digest. */
export function isDigest(text: string): boolean {
  try {
    parseDigest(text)
    return true
  } catch {
    return false
  }
}

function splitName(name: string, original: string): { registry: string; repository: string } {
  const slash = name.indexOf('/')
  const first = slash < 0 ? '' : name.slice(0, slash)
  let registry = DOCKER_HUB
  let path = name
  // Docker's rule: the first component is a registry when it has a '.', a ':', is 'localhost' or has upper case.
  if (
    slash >= 0 &&
    (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase())
  ) {
    registry = validateDomain(first, original)
    path = name.slice(slash + 1)
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DOCKER_HUB
  for (const component of path.split('/')) {
    if (component === '') throw refError(original, `the repository path '${path}' has an empty component`)
    if (component !== component.toLowerCase()) {
      throw refError(original, `repository '${path}' must be lowercase`)
    }
    if (!PATH_COMPONENT.test(component)) {
      throw refError(
        original,
        `repository component '${component}' is invalid: use lowercase letters and digits, separated by '.', '_', '__' or '-'`
      )
    }
  }
  if (registry === DOCKER_HUB && !path.includes('/')) path = `library/${path}`
  return { registry, repository: path }
}

function validateDomain(domain: string, original: string): string {
  const portColon = domain.startsWith('[')
    ? domain.indexOf(':', domain.indexOf(']'))
    : domain.lastIndexOf(':')
  const host = portColon >= 0 ? domain.slice(0, portColon) : domain
  const port = portColon >= 0 ? domain.slice(portColon + 1) : undefined
  if (port !== undefined && (!PORT.test(port) || Number(port) > 65535 || Number(port) < 1)) {
    throw refError(original, `registry port '${port}' is not a number from 1 to 65535`)
  }
  const hostOk =
    IPV6.test(host) || (host !== '' && host.split('.').every(part => DOMAIN_COMPONENT.test(part)))
  if (!hostOk) throw refError(original, `registry host '${host}' is not a valid host name`)
  return domain
}

/** Format a reference: `registry/repository[:tag][@digest]` in its normalised, fully qualified form. */
export function formatImageRef(ref: Pick<ImageRef, 'registry' | 'repository' | 'tag' | 'digest'>): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`
}

/** The shortest name Docker users write: 'redis' for docker.io/library/redis, the full name elsewhere. */
export function familiarName(ref: Pick<ImageRef, 'registry' | 'repository'>): string {
  if (ref.registry !== DOCKER_HUB) return `${ref.registry}/${ref.repository}`
  return ref.repository.startsWith('library/') ? ref.repository.slice('library/'.length) : ref.repository
}

/** True when both references name the same repository, whatever their spelling. */
export function sameRepository(
  a: Pick<ImageRef, 'registry' | 'repository'>,
  b: Pick<ImageRef, 'registry' | 'repository'>
): boolean {
  return a.registry === b.registry && a.repository === b.repository
}

/** The first 12 hex digits of a digest, as people quote them. */
export function shortDigest(digest: string): string {
  return digest.slice(digest.indexOf(':') + 1, digest.indexOf(':') + 13)
}

function refError(reference: string, reason: string): ConfigurationError {
  return new ConfigurationError(`invalid image reference '${reference}': ${reason}`)
}
