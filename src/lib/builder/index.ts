import { ConfigurationError } from '../errors.js'
import { createBuildahBuilder } from './buildah.js'
import { createBuildxBuilder, createDockerBuilder } from './docker.js'
import { QUICK_COMMAND_TIMEOUT_MS, type Builder, type BuilderChoice, type BuilderContext } from './types.js'

export * from './types.js'
export { CACHE_TYPES, formatCacheEntry, parseCacheEntry, type CacheEntry } from './cache.js'

/** The builder for a choice; `auto` = buildx when `docker buildx version` works, else buildah, else docker. */
export async function selectBuilder(choice: BuilderChoice, ctx: BuilderContext): Promise<Builder> {
  switch (choice) {
    case 'buildx':
      return createBuildxBuilder(ctx)
    case 'docker':
      return createDockerBuilder(ctx)
    case 'buildah':
      return createBuildahBuilder(ctx)
    case 'auto':
      break
  }
  const works = async (command: string, args: string[]) => {
    try {
      const options = { env: ctx.env, silent: true, timeoutMs: QUICK_COMMAND_TIMEOUT_MS }
      return (await ctx.runner.run(command, args, options)).exitCode === 0
    } catch {
      return false
    }
  }
  if (await works('docker', ['buildx', 'version'])) return createBuildxBuilder(ctx)
  if (await works('buildah', ['--version'])) return createBuildahBuilder(ctx)
  if (await works('docker', ['--version'])) return createDockerBuilder(ctx)
  throw new ConfigurationError(
    'no image builder found: install docker with buildx (docker/setup-buildx-action), buildah, or docker, ' +
      "or name one with the 'builder' input"
  )
}
