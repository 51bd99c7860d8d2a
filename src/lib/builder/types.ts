import type { CommandRunner } from '../exec.js'
import type { CacheEntry } from './cache.js'

export type BuilderName = 'buildx' | 'docker' | 'buildah'
export const BUILDER_CHOICES = ['auto', 'buildx', 'docker', 'buildah'] as const
export type BuilderChoice = (typeof BUILDER_CHOICES)[number]

/** Credentials for the registry pushed to; written to a temporary auth file, never to a command line. */
export interface RegistryLogin {
  registry: string
  username: string
  password: string
}

/** Everything a builder needs, already validated. */
export interface BuildRequest {
  /** The repository as the user wrote it, e.g. `ghcr.io/org/app`. */
  image: string
  /** Tags to push; the first is the primary one. */
  tags: string[]
  context: string
  file: string
  target?: string
  buildArgs: Map<string, string>
  labels: Map<string, string>
  /** `os/arch[/variant]`; empty means the builder's default platform. */
  platforms: string[]
  push: boolean
  login?: RegistryLogin
  /** The registry (on loopback) speaks plain HTTP, as a `registry:2` service container does: push without TLS. */
  plainHttp?: boolean
  /** Layer caches to import and export, checked already (docker/build-push-action's syntax). */
  cacheFrom: CacheEntry[]
  cacheTo: CacheEntry[]
  /** A private directory for auth files and metadata, removed by the caller. */
  workDir: string
}

export interface BuildOutcome {
  /** The manifest digest the builder says it pushed, when it can tell; the registry confirms it either way. */
  reportedDigest?: string
}

/** One way of building and pushing an image. */
export interface Builder {
  readonly name: BuilderName
  build(request: BuildRequest): Promise<BuildOutcome>
}

export interface BuilderContext {
  runner: CommandRunner
  /** Environment for the builder's processes (added to the action's own). */
  env?: Record<string, string>
  /** How long a build or a push may run before it is stopped (default one hour). */
  timeoutMs?: number
}

/** Builds and pushes run for `ctx.timeoutMs`; probes and clean-ups are quick or broken. */
export const DEFAULT_BUILD_TIMEOUT_MS = 60 * 60_000
export const QUICK_COMMAND_TIMEOUT_MS = 60_000
