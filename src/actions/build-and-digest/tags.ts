import { ConfigurationError } from '../../lib/errors.js'

const TAG = /^[\w][\w.-]{0,127}$/
// Tags that by convention follow a branch or a release line: they move, so they cannot identify what was built.
const MOVING_TAGS = new Set([
  'latest',
  'stable',
  'edge',
  'nightly',
  'main',
  'master',
  'dev',
  'develop',
  'development',
  'staging',
  'prod',
  'production',
  'release',
  'current',
  'head',
  'test',
  'canary',
  'beta',
  'alpha',
  'unstable',
  'next',
  'lts'
])
const VERSION_LINE = /^v?[0-9]+(\.[0-9]+)?$/

/** `sha-` and the first 12 hex digits of the source revision: one tag per commit. */
export function defaultTag(sourceRevision: string): string {
  return `sha-${sourceRevision.slice(0, 12)}`
}

/** Why a tag moves between builds, or undefined for a tag that names one build. */
export function movingTagReason(tag: string): string | undefined {
  if (MOVING_TAGS.has(tag.toLowerCase())) return `'${tag}' conventionally follows a branch or channel`
  if (VERSION_LINE.test(tag))
    return `'${tag}' names a release line (major or major.minor) that moves with each release`
  return undefined
}

/** Checks tag syntax and refuses moving tags unless allowed. */
export function validateTags(tags: string[], allowMutable: boolean): void {
  for (const tag of tags) {
    if (!TAG.test(tag)) {
      throw new ConfigurationError(
        `input 'tags': '${tag}' is not a valid tag (up to 128 letters, digits, '_', '.', '-', not starting with '.' or '-'); ` +
          'write tags without the image name'
      )
    }
    const reason = allowMutable ? undefined : movingTagReason(tag)
    if (reason) {
      throw new ConfigurationError(
        `input 'tags': ${reason}, so it would point at a different image tomorrow. Deploy by digest ` +
          "(the 'image-ref' output) and tag builds with something that names them (a version, the commit), " +
          'or set allow-mutable-tags: true if you really want a moving tag'
      )
    }
  }
}
