import { statSync } from 'node:fs'
import { ConfigurationError } from '../../lib/errors.js'
import { parseDigest, parseImageRef, sameRepository, type ImageRef } from '../../lib/image-ref.js'
import { InputReader, type InputSource } from '../../lib/inputs.js'
import type { Identity } from '../../lib/git/index.js'
import { resolveInside } from '../../lib/workspace-files.js'
import { DEFAULT_MAX_WAIT_MS } from './publish.js'

export const INPUTS = [
  'image',
  'aliases',
  'digest',
  'image-ref',
  'tag',
  'repository',
  'branch',
  'token',
  'path',
  'paths',
  'helm-paths',
  'image-policy',
  'commit-message',
  'author',
  'push',
  'head-branch',
  'commit-via',
  'max-attempts',
  'max-wait',
  'max-file-size',
  'allow-no-match'
] as const
export type InputName = (typeof INPUTS)[number]

export const OUTPUTS = [
  'changed',
  'changes',
  'changes-truncated',
  'changes-file',
  'commit-sha',
  'branch',
  'previous',
  'repository'
] as const
export type OutputName = (typeof OUTPUTS)[number]

export const PUSH_MODES = ['direct', 'branch', 'none'] as const
export const COMMIT_VIA = ['git', 'api'] as const

export const DEFAULT_COMMIT_MESSAGE = 'Pin {image} to {reference}'
const DEFAULT_AUTHOR: Identity = {
  name: 'github-actions[bot]',
  email: '41898282+github-actions[bot]@users.noreply.github.com'
}

export interface BumpInputs {
  /** The repository name as given, and the other spellings that mean it. */
  image: string
  imageRef: ImageRef
  aliases: string[]
  digest: string
  tag?: string
  /** `owner/name` of the GitOps repository, when given. */
  repository?: string
  /** Empty: the repository's default branch (or the checkout's branch with `path`). */
  branch?: string
  token: string
  /** An existing checkout to work in; empty: a temporary clone. */
  checkout?: string
  paths: string[]
  helmPaths: string[]
  imagePolicy?: string
  commitMessage: string
  author: Identity
  push: (typeof PUSH_MODES)[number]
  headBranch?: string
  commitVia: (typeof COMMIT_VIA)[number]
  /** An upper bound on attempts; undefined: `maxWaitMs` alone bounds the retries. */
  maxAttempts?: number
  /** How long to keep retrying while other runs land commits on the branch. */
  maxWaitMs: number
  /** Files larger than this are not parsed; one that mentions the image fails the run. */
  maxFileBytes: number
  allowNoMatch: boolean
}

/**
 * Parsing is the cost of a large file (a 5 MB file of 42,000 references took 10 s of CPU and 1 GB): 1 MiB keeps a
 * run within seconds and a few hundred MB, and covers all but generated bundles, for which it can be raised.
 */
// A job runs for 6 hours at most.
const MAX_WAIT_CEILING_MS = 6 * 3_600_000

export const DEFAULT_MAX_FILE_BYTES = 1024 * 1024
const MAX_FILE_BYTES_CEILING = 64 * 1024 * 1024

/** Reads and validates every input once. */
export function readInputs(source: InputSource, env: NodeJS.ProcessEnv): BumpInputs {
  const read = new InputReader<InputName>(source)

  const { image, imageRef, digest, tag } = readImage(read)
  const aliases = read.list('aliases')
  for (const alias of aliases) {
    const ref = parseImageRef(alias)
    if (ref.tag || ref.digest)
      throw new ConfigurationError(`input 'aliases': '${alias}' must be a name without tag or digest`)
  }

  // Empty: the checkout's origin with `path`, else the workflow's repository (resolved where the checkout is known).
  const repository = read.optional('repository') || undefined
  if (repository !== undefined && !/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(repository)) {
    throw new ConfigurationError(`input 'repository' must be owner/name, got '${repository}'`)
  }

  const push = read.oneOf('push', PUSH_MODES, 'direct')
  const checkoutInput = read.optional('path')
  const workspace = env.GITHUB_WORKSPACE || process.cwd()
  const headBranch = readBranch(read, 'head-branch')
  if (push === 'branch' && !headBranch) {
    throw new ConfigurationError(
      "input 'head-branch' is required with push: branch (the branch a promotion PR is opened from)"
    )
  }
  const token = read.secret('token')
  if (!token && !checkoutInput) {
    throw new ConfigurationError(
      "input 'token' is empty: a token is needed to clone and push the GitOps repository"
    )
  }

  // One per line: a comma belongs to a glob (`apps/{web,api}/*.yaml`) or a file name as much as anything else.
  const paths = read.lines('paths')
  if (paths.length === 0)
    throw new ConfigurationError("input 'paths' is required: the files, directories or globs to update")

  return {
    image,
    imageRef,
    aliases,
    digest,
    tag,
    repository,
    branch: readBranch(read, 'branch'),
    token,
    checkout: checkoutInput ? readCheckout(workspace, checkoutInput) : undefined,
    paths,
    helmPaths: read.list('helm-paths'),
    imagePolicy: read.optional('image-policy') || undefined,
    commitMessage: read.optional('commit-message', DEFAULT_COMMIT_MESSAGE),
    author: parseAuthor(read.optional('author')),
    push,
    headBranch,
    commitVia: read.oneOf('commit-via', COMMIT_VIA, 'git'),
    maxAttempts: read.optional('max-attempts') ? read.integer('max-attempts', 0, 1, 10_000) : undefined,
    maxWaitMs: readDuration(read, 'max-wait', DEFAULT_MAX_WAIT_MS, MAX_WAIT_CEILING_MS),
    maxFileBytes: readSize(read, 'max-file-size', DEFAULT_MAX_FILE_BYTES, MAX_FILE_BYTES_CEILING),
    allowNoMatch: read.boolean('allow-no-match', false)
  }
}

function readImage(read: InputReader<InputName>): {
  image: string
  imageRef: ImageRef
  digest: string
  tag?: string
} {
  const imageInput = read.optional('image')
  const refInput = read.optional('image-ref')
  const digestInput = read.optional('digest')
  const tagInput = read.optional('tag') || undefined
  if (tagInput && !/^[\w][\w.-]{0,127}$/.test(tagInput)) {
    throw new ConfigurationError(`input 'tag': '${tagInput}' is not a valid tag`)
  }

  if (refInput && digestInput) {
    throw new ConfigurationError(
      "inputs 'digest' and 'image-ref' both set: give one (image-ref carries the digest)"
    )
  }
  if (refInput) return readImageRef(refInput, imageInput, tagInput)
  if (!imageInput)
    throw new ConfigurationError("input 'image' is required (or give 'image-ref' as name[:tag]@sha256:…)")
  if (!digestInput)
    throw new ConfigurationError("input 'digest' is required (or give 'image-ref' as name[:tag]@sha256:…)")
  const imageRef = parseImageRef(imageInput)
  if (imageRef.tag || imageRef.digest) {
    throw new ConfigurationError(
      `input 'image' must be a repository name without tag or digest, got '${imageInput}': use 'tag' and 'digest', or 'image-ref'`
    )
  }
  return {
    image: imageInput,
    imageRef,
    digest: parseDigest(digestInput, `digest ${digestInput}`),
    tag: tagInput
  }
}

/** `image-ref` (name[:tag]@digest), checked against the `image` and `tag` inputs when they are given too. */
export function readImageRef(
  refInput: string,
  imageInput: string,
  tagInput: string | undefined
): { image: string; imageRef: ImageRef; digest: string; tag?: string } {
  const ref = parseImageRef(refInput)
  if (!ref.digest) {
    throw new ConfigurationError(
      `input 'image-ref' must carry a digest (name[:tag]@sha256:…), got '${refInput}'`
    )
  }
  const image = imageInput || ref.name
  const imageRef = parseImageRef(image)
  if (!sameRepository(imageRef, ref)) {
    throw new ConfigurationError(
      `input 'image' (${image}) and 'image-ref' (${refInput}) name different repositories`
    )
  }
  if (tagInput && ref.tag && tagInput !== ref.tag) {
    throw new ConfigurationError(`input 'tag' (${tagInput}) differs from the tag in 'image-ref' (${ref.tag})`)
  }
  return { image, imageRef, digest: ref.digest, tag: tagInput ?? ref.tag }
}

/**
 * A branch name as `git check-ref-format --branch` accepts it. It becomes part of refspecs (`HEAD:refs/heads/<name>`):
 * a `:` or a leading `-` must never get that far.
 */
function readBranch(read: InputReader<InputName>, name: InputName): string | undefined {
  const branch = read.optional(name)
  if (branch === '') return undefined
  const invalid =
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u0020\u007f~^:?*[\\]/.test(branch) ||
    /^[-/.]|\/$|\.lock$|\.$/.test(branch) ||
    /\.\.|\/\/|@\{|\/\./.test(branch) ||
    branch === '@' ||
    branch.startsWith('refs/')
  if (invalid) {
    throw new ConfigurationError(
      `input '${name}': ${JSON.stringify(branch)} is not a valid branch name (git check-ref-format): name the branch ` +
        "alone, e.g. 'main' or 'promote/prod', without 'refs/heads/', spaces or any of ~^:?*[\\"
    )
  }
  return branch
}

/** A duration: seconds (`90`), or with a unit (`90s`, `5m`, `1h`). */
function readDuration(read: InputReader<InputName>, name: InputName, fallback: number, max: number): number {
  const text = read.optional(name)
  if (text === '') return fallback
  const match = /^(\d{1,6})\s*(|s|m|h)$/i.exec(text)
  const unit = match?.[2]?.toLowerCase()
  const ms = match ? Number(match[1]) * (unit === 'h' ? 3_600_000 : unit === 'm' ? 60_000 : 1000) : NaN
  if (!(ms >= 0 && ms <= max)) {
    throw new ConfigurationError(
      `input '${name}' must be a duration from 0s to ${max / 3_600_000}h, such as 300, 90s, 5m or 1h; got '${text}'`
    )
  }
  return ms
}

/** A size in bytes, or with a binary unit: `1048576`, `512KiB`, `5MiB` (K/KB/M/MB mean the same units). */
function readSize(read: InputReader<InputName>, name: InputName, fallback: number, max: number): number {
  const text = read.optional(name)
  if (text === '') return fallback
  const match = /^(\d{1,9})\s*(|k|kb|kib|m|mb|mib)$/i.exec(text)
  const unit = match?.[2]?.toLowerCase().charAt(0)
  const bytes = match ? Number(match[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 * 1024 : 1) : NaN
  if (!(bytes >= 1 && bytes <= max)) {
    throw new ConfigurationError(
      `input '${name}' must be a size from 1 byte to ${max / 1024 / 1024}MiB, such as 1048576, 512KiB or 5MiB; got '${text}'`
    )
  }
  return bytes
}

/** The checkout named by `path`: a directory inside the workspace once symlinks are resolved. */
function readCheckout(workspace: string, checkout: string): string {
  const real = resolveInside(workspace, checkout, "input 'path'")
  if (!statSync(real).isDirectory()) {
    throw new ConfigurationError(
      `input 'path': '${checkout}' is not a directory: name the directory of a checkout inside the workspace`
    )
  }
  return real
}

/** `Name <email>`; empty gives the github-actions bot. */
export function parseAuthor(text: string): Identity {
  if (text === '') return DEFAULT_AUTHOR
  // A line break would end the header git writes, and let the input add lines of its own to the commit.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(text)) {
    throw new ConfigurationError(
      `input 'author' must be one line 'Name <email>' without control characters, got ${JSON.stringify(text)}`
    )
  }
  const match = /^\s*([^<>]+?)\s*<([^<>\s]+@[^<>\s]+)>\s*$/.exec(text)
  if (!match) throw new ConfigurationError(`input 'author' must look like 'Name <email>', got '${text}'`)
  return { name: match[1] as string, email: match[2] as string }
}
