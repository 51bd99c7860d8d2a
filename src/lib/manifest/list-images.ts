import { parseImageRef, sameRepository, type ImageRef } from '../image-ref.js'
import { anyImageRequest } from './pin-target.js'
import { readTree } from './pin-tree.js'
import type { FileError } from './request-and-changes.js'

/** One reference to an image, as written at `file:line`. */
export interface ImageReference {
  file: string
  line: number
  /** `name[:tag][@digest]` as the manifest renders it (an image block's fields joined). */
  reference: string
  tag?: string
  digest?: string
}

/** An image a tree references: its name as first written (file order), and every reference to it, any spelling. */
export interface ListedImage {
  name: string
  references: ImageReference[]
}

export interface ImageListing {
  /** In the order first referenced (files sorted by path). */
  images: ListedImage[]
  /** Files that could not be read or parsed: what they reference is not listed. */
  errors: FileError[]
}

/**
 * Every image the files under `paths` reference, wherever the engine would pin one (workloads, Kustomize and Flux
 * `images:`, Helm values, Argo CD sources, markers, an overlay's bases), read-only: the engine runs with a request
 * matching every image and writes nothing. Helm blocks and marked values that do not name their repository (a
 * `helm-paths` block of `tag` and `digest` only) cannot be listed: nothing says which image they hold.
 */
export async function listImages(options: {
  root: string
  paths: readonly string[]
  helmPaths?: readonly string[]
  maxFileBytes?: number
}): Promise<ImageListing> {
  const result = await readTree({
    root: options.root,
    paths: options.paths,
    request: anyImageRequest(options.helmPaths),
    maxFileBytes: options.maxFileBytes
  })
  const images: Array<ListedImage & { ref: ImageRef }> = []
  // A reference the overlay inherits from a base is reported at the base's line.
  const found = result.changes.map(change => ({ ...change, reference: change.old }))
  found.sort((a, b) => compare(a.file, b.file) || a.line - b.line)
  for (const { file, line, reference } of found) {
    let ref: ImageRef
    try {
      ref = parseImageRef(reference)
    } catch {
      continue // an added `images:` entry with no base reference, or a block that names no repository
    }
    let image = images.find(listed => sameRepository(listed.ref, ref))
    if (!image) {
      image = { name: ref.name, references: [], ref }
      images.push(image)
    }
    image.references.push({
      file,
      line,
      reference,
      ...(ref.tag !== undefined ? { tag: ref.tag } : {}),
      ...(ref.digest !== undefined ? { digest: ref.digest } : {})
    })
  }
  return { images: images.map(({ name, references }) => ({ name, references })), errors: result.errors }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
