import { ConfigurationError } from '../../lib/errors.js'
import { parseImageRef } from '../../lib/image-ref.js'
import { pinTree, type PinTreeResult } from '../../lib/manifest/index.js'

/** A digest no manifest pins: reading with it reports every reference as a change from what it pins now. */
const PROBE_DIGEST = `sha256:${'0'.repeat(64)}`

export interface Pin {
  digest: string
  tag?: string
  /** Where, as `file:line`. */
  where: string[]
}

export interface PinsRead {
  /** One entry per distinct digest. */
  pins: Pin[]
  /** References to the image without a digest (a tag only), as `file:line`. */
  unpinned: string[]
  result: PinTreeResult
}

/** Which digests `paths` pin the image to: the engine run read-only, nothing written. */
export async function readPins(options: {
  root: string
  paths: string[]
  image: string
  aliases: string[]
  helmPaths: string[]
  input: string
}): Promise<PinsRead> {
  let result: PinTreeResult
  try {
    result = await pinTree({
      root: options.root,
      paths: options.paths,
      request: {
        image: options.image,
        aliases: options.aliases,
        digest: PROBE_DIGEST,
        helmPaths: options.helmPaths
      },
      write: false
    })
  } catch (error) {
    if (error instanceof ConfigurationError) {
      throw new ConfigurationError(`input '${options.input}': ${error.message}`)
    }
    throw error
  }
  const blocking = result.errors.filter(error => error.kind !== 'encoding')
  if (blocking.length > 0) {
    throw new ConfigurationError(
      `input '${options.input}': ${blocking.length} file(s) mention the image but could not be read: ` +
        blocking
          .slice(0, 5)
          .map(error => error.message)
          .join('; ')
    )
  }
  const byDigest = new Map<string, Pin>()
  const unpinned: string[] = []
  for (const change of result.changes) {
    const where = `${change.file}:${change.line}`
    if (change.old === '') continue
    let ref
    try {
      ref = parseImageRef(change.old)
    } catch {
      unpinned.push(where)
      continue
    }
    if (!ref.digest) {
      unpinned.push(where)
      continue
    }
    const pin = byDigest.get(ref.digest) ?? { digest: ref.digest, tag: ref.tag, where: [] }
    pin.where.push(where)
    byDigest.set(ref.digest, pin)
  }
  return { pins: [...byDigest.values()], unpinned, result }
}
