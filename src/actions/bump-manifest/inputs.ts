import path from 'node:path'
import { ConfigurationError } from '../../lib/errors.js'
import { parseDigest, parseImageRef, sameRepository, type ImageRef } from '../../lib/image-ref.js'
import { InputReader, type InputSource } from '../../lib/inputs.js'
import type { Identity } from '../../lib/git/index.js'

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
  'allow-no-match'
] as const
export type InputName = (typeof INPUTS)[number]

export const OUTPUTS = ['changed', 'changes', 'commit-sha', 'branch', 'previous', 'repository'] as const
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
  maxAttempts: number
  allowNoMatch: boolean
}

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
  const headBranch = read.optional('head-branch') || undefined
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

  const paths = read.list('paths')
  if (paths.length === 0)
    throw new ConfigurationError("input 'paths' is required: the files, directories or globs to update")

  return {
    image,
    imageRef,
    aliases,
    digest,
    tag,
    repository,
    branch: read.optional('branch') || undefined,
    token,
    checkout: checkoutInput ? path.resolve(workspace, checkoutInput) : undefined,
    paths,
    helmPaths: read.list('helm-paths'),
    imagePolicy: read.optional('image-policy') || undefined,
    commitMessage: read.optional('commit-message', DEFAULT_COMMIT_MESSAGE),
    author: parseAuthor(read.optional('author')),
    push,
    headBranch,
    commitVia: read.oneOf('commit-via', COMMIT_VIA, 'git'),
    maxAttempts: read.integer('max-attempts', 8, 1, 50),
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
  if (refInput) {
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
      throw new ConfigurationError(
        `input 'tag' (${tagInput}) differs from the tag in 'image-ref' (${ref.tag})`
      )
    }
    return { image, imageRef, digest: ref.digest, tag: tagInput ?? ref.tag }
  }
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

/** `Name <email>`; empty gives the github-actions bot. */
export function parseAuthor(text: string): Identity {
  if (text === '') return DEFAULT_AUTHOR
  const match = /^\s*([^<>]+?)\s*<([^<>\s]+@[^<>\s]+)>\s*$/.exec(text)
  if (!match) throw new ConfigurationError(`input 'author' must look like 'Name <email>', got '${text}'`)
  return { name: match[1] as string, email: match[2] as string }
}
