import { ConfigurationError } from '../../lib/errors.js'
import { parseImageRef, sameRepository } from '../../lib/image-ref.js'
import { listImages, pinTree, PROBE_DIGEST, PROBE_TAG, type PinTreeResult } from '../../lib/manifest/index.js'

export interface Pin {
  digest: string
  tag?: string
  /** Where, as `file:line`. */
  where: string[]
  /**
   * The files of bases an overlay inherits the pin from, where it adds an `images:` entry (the reference it renders
   * is there, not in `where`).
   */
  bases?: string[]
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
        tag: PROBE_TAG,
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
  for (const previous of result.previous) {
    const pin = byDigest.get(digestOf(previous.old) ?? '')
    if (!pin || pin.where.some(where => where.startsWith(`${previous.file}:`))) continue
    pin.bases = [...new Set([...(pin.bases ?? []), previous.file])]
  }
  return { pins: [...byDigest.values()], unpinned, result }
}

function digestOf(reference: string): string | undefined {
  try {
    return parseImageRef(reference).digest
  } catch {
    return undefined
  }
}

/** Every file the pin is read from: where it is written, and the bases it is inherited from. */
export function pinFiles(pin: Pin): string[] {
  return [...new Set([...pin.where.map(fileOf), ...(pin.bases ?? [])])].sort()
}

/** The file of a `file:line` location. */
export function fileOf(where: string): string {
  return where.slice(0, where.lastIndexOf(':'))
}

/** The images to promote when none is named, and the ones left out with why. */
export interface PinnedImages {
  /** Names as `from-paths` first write them, in the order they do. */
  images: string[]
  /** Images `from-paths` pin by digest that `paths` do not reference: there is nothing to pin them in. */
  notInPaths: string[]
}

/**
 * Which images `from-paths` pin by digest, among those `paths` reference too: the engine run read-only over both.
 * A file of `from-paths` that cannot be read is an error: what it pins would be missed without a word.
 */
export async function listPinnedImages(options: {
  root: string
  fromPaths: string[]
  paths: string[]
  helmPaths: string[]
  base: string
  maxImages: number
}): Promise<PinnedImages> {
  const list = async (paths: string[], input: string) => {
    try {
      return await listImages({ root: options.root, paths, helmPaths: options.helmPaths })
    } catch (error) {
      if (error instanceof ConfigurationError)
        throw new ConfigurationError(`input '${input}': ${error.message}`)
      throw error
    }
  }
  const upstream = await list(options.fromPaths, 'from-paths')
  const unreadable = upstream.errors.filter(error => error.kind !== 'encoding')
  if (unreadable.length > 0) {
    throw new ConfigurationError(
      `input 'from-paths': ${unreadable.length} file(s) could not be read, so which images they pin is not known: ` +
        `${unreadable
          .slice(0, 5)
          .map(error => error.message)
          .join('; ')}; fix them, or name the images to promote with 'image' or 'images'`
    )
  }
  const pinned = upstream.images.filter(image => image.references.some(ref => ref.digest !== undefined))
  if (pinned.length === 0) {
    const named = upstream.images.map(image => image.name)
    throw new ConfigurationError(
      `input 'from-paths' (${options.fromPaths.join(', ')}) pins no image by digest on ${options.base}` +
        (named.length > 0 ? ` (by tag only: ${named.slice(0, 10).join(', ')})` : '') +
        ': pin them there first with bump-manifest, or check from-paths'
    )
  }
  const here = (await list(options.paths, 'paths')).images.map(image => parseImageRef(image.name))
  const images: string[] = []
  const notInPaths: string[] = []
  for (const image of pinned) {
    const ref = parseImageRef(image.name)
    if (here.some(other => sameRepository(other, ref))) images.push(image.name)
    else notInPaths.push(image.name)
  }
  if (images.length === 0) {
    throw new ConfigurationError(
      `input 'paths' (${options.paths.join(', ')}) references none of the images 'from-paths' pin by digest on ` +
        `${options.base} (${notInPaths.slice(0, 10).join(', ')}): check paths`
    )
  }
  if (images.length > options.maxImages) {
    throw new ConfigurationError(
      `input 'from-paths' pins ${images.length} images by digest that 'paths' reference, more than the ` +
        `${options.maxImages} one step promotes: name the ones to promote with 'images', over several steps`
    )
  }
  return { images, notInPaths }
}
