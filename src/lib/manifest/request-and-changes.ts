import type { WalkWorkerSource } from './workers.js'

/** What to pin: the repository to look for, the other spellings it goes by, and the reference to point it at. */
export interface PinRequest {
  /** Repository name without tag or digest, e.g. `ghcr.io/org/app` or `redis`. */
  image: string
  /** Other names of the same repository (a mirror, an older registry host). */
  aliases?: readonly string[]
  /** `sha256:<64 hex>` (or sha512). */
  digest: string
  /** Human tag written beside the digest (`name:tag@digest`); without it the old tag is dropped. */
  tag?: string
  /** Helm values key paths (`image`, `app.image.tag`, `sidecars[0].image`) relative to each values root. */
  helmPaths?: readonly string[]
  /** Flux image policy (`namespace:name` or `name`) whose `$imagepolicy` markers are honoured. */
  imagePolicy?: string
}

/** Where a reference was found, which decides how it was rewritten. */
export type ChangeKind =
  'kustomize-images' | 'workload' | 'json-patch' | 'helm-values' | 'marker' | 'image-policy-marker'

/** One reference rewritten. `old` and `new` are what the consumer renders (`name:tag@digest`), not raw bytes. */
export interface Change {
  file: string
  /** 1-based line of the edit in the new text (the same as in the old text unless a Kustomize line was added). */
  line: number
  /** The reference before; '' for an added Kustomize `images:` entry whose base reference is unknown. */
  old: string
  new: string
  kind: ChangeKind
  /** Lines of YAML aliases (`*name`) that share the edited value, so reviewers see every place it changes. */
  aliasLines?: number[]
}

/** A reference that already points at the requested digest (and tag): found, nothing to do. */
export interface Reference {
  file: string
  line: number
  value: string
  kind: ChangeKind
}

/** A reference replaced by a change: what reviewers compare against. */
export interface Previous {
  file: string
  /** 1-based line in the original text. */
  line: number
  old: string
}

/** Why a mention of the image was left alone. */
export type NotManagedReason =
  'inside-string' | 'unrecognised-location' | 'needs-tag' | 'unsupported-shape' | 'other-image'

/** A mention of the image that was found and deliberately not edited. */
export interface NotManaged {
  file: string
  line: number
  /** The mention as written. */
  text: string
  reason: NotManagedReason
  message: string
}

/** Why a file could not be handled; it is left untouched. */
export type FileErrorKind = 'parse' | 'too-large' | 'encoding' | 'unreadable' | 'verify' | 'invalid'

/** A file that was left untouched because it could not be read, parsed or safely edited. */
export interface FileError {
  file: string
  line?: number
  message: string
  kind: FileErrorKind
}

/** The outcome of pinning one file's text. `text` is the input unchanged unless `changes` is non-empty. */
export interface PinTextResult {
  text: string
  changes: Change[]
  unchanged: Reference[]
  notManaged: NotManaged[]
  errors: FileError[]
  previous: Previous[]
}

/** A Kustomize `images:` entry to add when an overlay has none: `name` as the base spells it. */
export interface ImagesEntryToAdd {
  name: string
  /** The reference the overlay rendered before (from its base), for `old` and `previous`. */
  previous?: Previous
}

/** Options of the pure core. */
export interface PinTextOptions {
  /** Kustomization only: add these `images:` entries (used for an overlay directory with no reference of its own). */
  addImagesEntries?: readonly ImagesEntryToAdd[]
}

/** Options of the tree walker. */
export interface PinTreeOptions {
  /** The GitOps repository's root directory. */
  root: string
  /** Files, directories and globs relative to `root`. */
  paths: readonly string[]
  request: PinRequest
  /** Write the edited files (atomically); default false reports what would change. */
  write?: boolean
  /** Called with the result before anything is written: what it throws is thrown, and nothing is written. */
  check?: (result: PinTreeResult) => void
  /** Files larger than this are not parsed (default 5 MiB); one that mentions the image is an error. */
  maxFileBytes?: number
  /** A worker thread to take a large tree's walk over while the main thread parses; without, one thread does all. */
  worker?: WalkWorkerSource
}

/** A file whose text the pin changed. */
export interface EditedFile {
  file: string
  text: string
}

/** The outcome of pinning a tree; files are relative to the root with '/' separators, sorted. */
export interface PinTreeResult extends Omit<PinTextResult, 'text'> {
  /** The new text of every changed file (written to disk only with `write: true`). */
  edited: EditedFile[]
  /** Files whose text was searched for the image. */
  searched: number
  /** Files that mentioned the image and were parsed. */
  parsed: number
  /** Threads that walked the tree: 1, or 2 when a worker took the walk of a large tree over. */
  threads: number
  written: boolean
}
