/**
 * The editing engine of bump-manifest: find every reference to an image in GitOps YAML and point it at a digest,
 * changing only the bytes of the image values.
 *
 * How: the `yaml` package parses only to locate scalars (their source offsets); new bytes are spliced into the
 * original text, which is never re-stringified; the result is re-parsed and must read exactly as before apart from
 * the intended values, else the file is left untouched and reported.
 *
 * Rules where the issue leaves a choice (reviewers see these in the diff):
 * - Helm `{repository, tag}` with no `digest` key and no `tag` input is not edited but reported (`needs-tag`): the
 *   chart renders `repository:tag`, so the digest can only go in as `tag@digest`, and keeping the old tag would
 *   label the new image with a version it is not.
 * - A block with a `digest` key (Bitnami) gets the digest; its `tag` is set only when a tag is given (charts ignore
 *   it once a digest is set), and a stale `@digest` is stripped from it.
 * - A bare short name (`redis`) inside prose is not reported as not managed; a name with a path, tag or digest is.
 */
export { pinText } from './pin-text.js'
export { pinTree, DEFAULT_MAX_FILE_BYTES } from './pin-tree.js'
export { mayMention } from './files.js'
export { serveWalkWorker, WalkWorker, type WalkWorkerSource } from './workers.js'
export { preparePin, PROBE_DIGEST, PROBE_TAG, type PinTarget } from './pin-target.js'
export { listImages, type ImageListing, type ImageReference, type ListedImage } from './list-images.js'
export * from './request-and-changes.js'
