import { promises as fs } from 'node:fs'
import path from 'node:path'
import {
  BUILDER_CHOICES,
  parseCacheEntry,
  type BuilderChoice,
  type CacheEntry
} from '../../lib/builder/index.js'
import { ConfigurationError } from '../../lib/errors.js'
import { parseImageRef, type ImageRef } from '../../lib/image-ref.js'
import { InputReader, type InputSource } from '../../lib/inputs.js'
import { openRegularFile, resolveInside } from '../../lib/workspace-files.js'
import { defaultTag, validateTags } from './tags.js'

export const INPUTS = [
  'image',
  'context',
  'file',
  'target',
  'build-args',
  'labels',
  'tags',
  'platforms',
  'push',
  'builder',
  'registry-username',
  'registry-password',
  'source-revision',
  'allow-mutable-tags',
  'build-timeout',
  'cache-from',
  'cache-to'
] as const
export type InputName = (typeof INPUTS)[number]

export const OUTPUTS = [
  'digest',
  'image-ref',
  'tagged-ref',
  'tags',
  'platform-digests',
  'metadata',
  'pushed'
] as const
export type OutputName = (typeof OUTPUTS)[number]

export interface BuildInputs {
  /** The repository as written by the user (kept for outputs) and parsed. */
  image: string
  imageRef: ImageRef
  context: string
  file: string
  target?: string
  buildArgs: Map<string, string>
  labels: Map<string, string>
  /** Every tag to push; the first is the default `sha-<12 hex>` tag. */
  tags: string[]
  /** The tag that names this build for people: the first extra tag, else the default tag. */
  versionTag: string
  platforms: string[]
  push: boolean
  builder: BuilderChoice
  credentials?: { username: string; password: string }
  sourceRevision: string
  /** How long the build, and each push, may run before it is stopped. */
  buildTimeoutMs: number
  /** Layer caches; never reported as the image's tags. */
  cacheFrom: CacheEntry[]
  cacheTo: CacheEntry[]
}

const OS = [
  'linux',
  'windows',
  'darwin',
  'freebsd',
  'netbsd',
  'openbsd',
  'solaris',
  'illumos',
  'aix',
  'plan9'
]
const ARCH = [
  'amd64',
  'arm64',
  'arm',
  '386',
  'ppc64le',
  'ppc64',
  's390x',
  'riscv64',
  'mips64le',
  'mips64',
  'mipsle',
  'mips',
  'loong64',
  'wasm'
]

/** Reads and validates every input once; `workspace` anchors relative paths, as the runner's cwd does. */
export async function readInputs(
  source: InputSource,
  workspace: string,
  env: NodeJS.ProcessEnv
): Promise<BuildInputs> {
  const read = new InputReader<InputName>(source)

  const image = read.required('image')
  const imageRef = parseImageRef(image)
  if (imageRef.tag || imageRef.digest) {
    const bare = image.replace(/@.*$/, '').replace(/:[^/:]*$/, '')
    throw new ConfigurationError(
      `input 'image' must be a repository without tag or digest, got '${image}': ` +
        `use image: ${bare} and put extra tags in the 'tags' input (the digest is what this action outputs)`
    )
  }

  // Both resolved through symlinks and kept inside the workspace: a repository could point them anywhere.
  const context = resolveInside(workspace, read.optional('context', '.'), "input 'context'")
  if (!(await fs.stat(context)).isDirectory()) {
    throw new ConfigurationError(
      `input 'context': '${read.optional('context', '.')}' is not a directory: name the build context directory`
    )
  }
  const file = read.optional('file')
    ? resolveInside(workspace, read.optional('file'), "input 'file'")
    : await findDockerfile(workspace, context)
  // A FIFO would block the builder forever, a device never end: only a regular file is a Dockerfile.
  await (await openRegularFile(file, "input 'file'")).close()

  const sourceRevision = read.optional('source-revision', env.GITHUB_SHA ?? '')
  if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(sourceRevision)) {
    throw new ConfigurationError(
      sourceRevision === ''
        ? "input 'source-revision' is empty and GITHUB_SHA is not set: pass the commit the image is built from"
        : `input 'source-revision' must be a full commit SHA (40 or 64 lowercase hex digits), got '${sourceRevision}'`
    )
  }

  const extraTags = read.list('tags')
  const allowMutable = read.boolean('allow-mutable-tags', false)
  const tags = [...new Set([defaultTag(sourceRevision), ...extraTags])]
  validateTags(extraTags, allowMutable)

  const cache = (direction: 'cache-from' | 'cache-to'): CacheEntry[] =>
    read.lines(direction).map(line =>
      parseCacheEntry(line, {
        direction,
        workspace,
        runnerTemp: env.RUNNER_TEMP,
        image: imageRef,
        tags,
        env
      })
    )
  const cacheFrom = cache('cache-from')
  const cacheTo = cache('cache-to')

  const platforms = read.list('platforms')
  for (const platform of platforms) validatePlatform(platform)

  const username = read.optional('registry-username')
  const password = read.secret('registry-password')
  if ((username === '') !== (password === '')) {
    throw new ConfigurationError(
      "inputs 'registry-username' and 'registry-password' go together: set both, or neither to use the Docker config"
    )
  }

  return {
    image,
    imageRef,
    context,
    file,
    target: read.optional('target') || undefined,
    buildArgs: read.keyValues('build-args'),
    labels: read.keyValues('labels'),
    tags,
    versionTag: extraTags[0] ?? defaultTag(sourceRevision),
    platforms,
    push: read.boolean('push', true),
    builder: read.oneOf('builder', BUILDER_CHOICES, 'auto'),
    credentials: username ? { username, password } : undefined,
    sourceRevision,
    buildTimeoutMs: read.integer('build-timeout', 60, 1, 24 * 60) * 60_000,
    cacheFrom,
    cacheTo
  }
}

async function findDockerfile(workspace: string, context: string): Promise<string> {
  for (const name of ['Dockerfile', 'Containerfile']) {
    const candidate = path.join(context, name)
    if (await fs.lstat(candidate).catch(() => undefined)) {
      return resolveInside(workspace, candidate, `input 'file' (empty: ${name} in the context)`)
    }
  }
  throw new ConfigurationError(
    `input 'file' is empty and the context '${context}' has no Dockerfile or Containerfile: add one or set 'file'`
  )
}

/** `os/arch[/variant]` with a known OS and architecture, as Docker and buildah spell them. */
export function validatePlatform(platform: string): void {
  const parts = platform.split('/')
  const [os, arch, variant] = parts
  const ok =
    parts.length >= 2 &&
    parts.length <= 3 &&
    OS.includes(os as string) &&
    ARCH.includes(arch as string) &&
    (variant === undefined || /^v[0-9]+$/.test(variant))
  if (!ok) {
    throw new ConfigurationError(
      `input 'platforms': '${platform}' is not a platform; write os/arch[/variant], e.g. linux/amd64, linux/arm64, linux/arm/v7`
    )
  }
}
