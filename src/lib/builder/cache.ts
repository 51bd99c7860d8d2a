import { lstatSync } from 'node:fs'
import path from 'node:path'
import { ConfigurationError } from '../errors.js'
import { parseImageRef, sameRepository, type ImageRef } from '../image-ref.js'
import { resolveInside } from '../workspace-files.js'

export type CacheDirection = 'cache-from' | 'cache-to'
export const CACHE_TYPES = ['registry', 'gha', 'inline', 'local', 's3', 'azblob'] as const
export type CacheType = (typeof CACHE_TYPES)[number]

/** One `cache-from` / `cache-to` entry as docker/build-push-action spells it: `type=registry,ref=…,mode=max`. */
export interface CacheEntry {
  type: CacheType
  /** Attributes in the order written; `src` / `dest` of a local cache already resolved inside the allowed roots. */
  attributes: Array<[string, string]>
  /** The cache image of a registry cache: never one of the image's own tags. */
  ref?: ImageRef
}

export interface CacheContext {
  direction: CacheDirection
  workspace: string
  /** Where a local cache may also live (RUNNER_TEMP). */
  runnerTemp?: string
  /** The image and the tags this build pushes: a cache must never take one of them. */
  image: ImageRef
  tags: string[]
  env: NodeJS.ProcessEnv
}

// Secrets would land on the builder's command line: they go through the environment instead.
const SECRET_ATTRIBUTES = new Set([
  'token',
  'secret_access_key',
  'session_token',
  'access_key_id',
  'account_key'
])

/** Parses and checks one line of `cache-from` / `cache-to`; a bare reference is a registry cache, as buildx reads it. */
export function parseCacheEntry(line: string, ctx: CacheContext): CacheEntry {
  const what = `input '${ctx.direction}'`
  const attributes: Array<[string, string]> = []
  if (!line.includes('=')) attributes.push(['type', 'registry'], ['ref', line.trim()])
  else {
    for (const part of line.split(',')) {
      const eq = part.indexOf('=')
      if (eq <= 0) throw new ConfigurationError(`${what}: '${part}' in '${line}' is not key=value`)
      attributes.push([part.slice(0, eq).trim(), part.slice(eq + 1).trim()])
    }
  }
  const get = (key: string): string | undefined => attributes.find(([name]) => name === key)?.[1]
  const type = get('type') ?? (get('ref') ? 'registry' : undefined)
  if (!type || !(CACHE_TYPES as readonly string[]).includes(type)) {
    throw new ConfigurationError(
      `${what}: '${line}' needs a type, one of ${CACHE_TYPES.join(', ')} (e.g. type=registry,ref=ghcr.io/o/app:buildcache)`
    )
  }
  if (!get('type')) attributes.unshift(['type', type])
  for (const [name] of attributes) {
    if (SECRET_ATTRIBUTES.has(name)) {
      throw new ConfigurationError(
        `${what}: '${name}' would put a secret on the builder's command line: pass it through the environment`
      )
    }
  }
  const mode = get('mode')
  if (mode !== undefined && (ctx.direction !== 'cache-to' || !['min', 'max'].includes(mode))) {
    throw new ConfigurationError(
      `${what}: mode=${mode} is not valid here: mode=min or mode=max, on cache-to only`
    )
  }
  const entry: CacheEntry = { type: type as CacheType, attributes }
  if (type === 'registry') entry.ref = cacheRef(get('ref'), what, ctx)
  if (type === 'local') resolveLocal(entry, what, ctx)
  if (type === 'gha') requireCacheService(what, ctx.env)
  if (type === 'inline' && ctx.direction === 'cache-from') {
    throw new ConfigurationError(
      `${what}: type=inline is a cache-to; read it back with type=registry,ref=<image>`
    )
  }
  return entry
}

/** The value of one attribute of an entry. */
export function cacheAttribute(entry: CacheEntry, key: string): string | undefined {
  return entry.attributes.find(([name]) => name === key)?.[1]
}

/** The entry as buildx takes it on its command line. */
export function formatCacheEntry(entry: CacheEntry): string {
  return entry.attributes.map(([key, value]) => `${key}=${value}`).join(',')
}

/** The error for a cache a builder cannot use: never ignored, since the build would silently be cold. */
export function cannotHonour(
  builder: string,
  direction: CacheDirection,
  entry: CacheEntry,
  works: string
): ConfigurationError {
  return new ConfigurationError(
    `input '${direction}': builder ${builder} cannot use a ${entry.type} cache (${formatCacheEntry(entry)}): ` +
      `it takes ${works}; builder buildx takes every type`
  )
}

function cacheRef(value: string | undefined, what: string, ctx: CacheContext): ImageRef {
  if (!value) throw new ConfigurationError(`${what}: a registry cache needs ref=<repository>[:<tag>]`)
  const ref = parseImageRef(value)
  if (ref.digest)
    throw new ConfigurationError(`${what}: ref=${value} names a digest: a cache is found by tag`)
  if (sameRepository(ref, ctx.image) && ctx.tags.includes(ref.tag ?? 'latest')) {
    throw new ConfigurationError(
      `${what}: ref=${value} is one of the tags this build pushes: give the cache a tag of its own (e.g. :buildcache)`
    )
  }
  return ref
}

function resolveLocal(entry: CacheEntry, what: string, ctx: CacheContext): void {
  const key = ctx.direction === 'cache-from' ? 'src' : 'dest'
  const index = entry.attributes.findIndex(([name]) => name === key)
  const value = entry.attributes[index]?.[1]
  if (!value) throw new ConfigurationError(`${what}: a local cache needs ${key}=<directory>`)
  const roots = ctx.runnerTemp ? [ctx.runnerTemp] : []
  let resolved: string
  if (ctx.direction === 'cache-from') {
    resolved = resolveInside(ctx.workspace, value, what, roots)
  } else {
    // The directory may not exist yet: its parent must be inside, and it must not be a symlink out.
    const absolute = path.resolve(ctx.workspace, value)
    resolved = path.join(
      resolveInside(ctx.workspace, path.dirname(absolute), what, roots),
      path.basename(absolute)
    )
    const existing = lstatSync(resolved, { throwIfNoEntry: false })
    if (existing && !existing.isDirectory()) {
      throw new ConfigurationError(`${what}: dest '${value}' exists and is not a directory`)
    }
  }
  entry.attributes[index] = [key, resolved]
}

function requireCacheService(what: string, env: NodeJS.ProcessEnv): void {
  // The runner gives these to JavaScript actions (not to run steps); buildx reads them from its environment.
  if (!env.ACTIONS_RUNTIME_TOKEN || !(env.ACTIONS_CACHE_URL || env.ACTIONS_RESULTS_URL)) {
    throw new ConfigurationError(
      `${what}: type=gha needs the runner's cache service (ACTIONS_RUNTIME_TOKEN with ACTIONS_CACHE_URL or ` +
        'ACTIONS_RESULTS_URL), which GitHub-hosted and self-hosted runners give actions: run on a GitHub runner, ' +
        'or use type=registry'
    )
  }
}
