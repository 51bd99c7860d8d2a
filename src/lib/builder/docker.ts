import { promises as fs } from 'node:fs'
import path from 'node:path'
import { ConfigurationError } from '../errors.js'
import { runChecked } from '../exec.js'
import { readJsonObject, withLogin, writePrivateJson } from './auth-file.js'
import { cacheAttribute, cannotHonour, formatCacheEntry } from './cache.js'
import {
  DEFAULT_BUILD_TIMEOUT_MS,
  type Builder,
  type BuilderContext,
  type BuildOutcome,
  type BuildRequest
} from './types.js'

/** The classic docker engine without buildx: `build`, then `push` per tag; the registry tells the digest. */
export function createDockerBuilder(ctx: BuilderContext): Builder {
  return {
    name: 'docker',
    async build(request: BuildRequest): Promise<BuildOutcome> {
      if (request.platforms.length > 1) {
        throw new ConfigurationError(
          `the classic docker builder cannot build several platforms (${request.platforms.join(', ')}): ` +
            "use builder 'buildx' (docker/setup-buildx-action) or 'buildah', or build one platform per job"
        )
      }
      const env = { ...ctx.env, ...(await dockerConfigEnv(request)) }
      const timeoutMs = ctx.timeoutMs ?? DEFAULT_BUILD_TIMEOUT_MS
      const run = (args: string[], what: string) =>
        runChecked(ctx.runner, 'docker', args, what, { env, timeoutMs })
      const args = ['build', '--file', request.file]
      if (request.target) args.push('--target', request.target)
      for (const [key, value] of request.buildArgs) args.push('--build-arg', `${key}=${value}`)
      for (const [key, value] of request.labels) args.push('--label', `${key}=${value}`)
      if (request.platforms.length === 1) args.push('--platform', request.platforms[0] as string)
      args.push(...classicCacheArgs(request))
      for (const tag of request.tags) args.push('--tag', `${request.image}:${tag}`)
      args.push(request.context)
      await run(args, 'docker build')
      if (!request.push) return {}
      for (const tag of request.tags)
        await run(['push', `${request.image}:${tag}`], `docker push ${request.image}:${tag}`)
      return {}
    }
  }
}

/** buildx through the docker CLI: `buildx build --push --metadata-file`, digest from the metadata. */
export function createBuildxBuilder(ctx: BuilderContext): Builder {
  return {
    name: 'buildx',
    async build(request: BuildRequest): Promise<BuildOutcome> {
      const env = { ...ctx.env, ...(await dockerConfigEnv(request)) }
      const metadataFile = path.join(request.workDir, 'buildx-metadata.json')
      const args = ['buildx', 'build', '--file', request.file, '--metadata-file', metadataFile]
      if (request.target) args.push('--target', request.target)
      for (const [key, value] of request.buildArgs) args.push('--build-arg', `${key}=${value}`)
      for (const [key, value] of request.labels) args.push('--label', `${key}=${value}`)
      if (request.platforms.length > 0) args.push('--platform', request.platforms.join(','))
      for (const entry of request.cacheFrom) args.push('--cache-from', formatCacheEntry(entry))
      for (const entry of request.cacheTo) args.push('--cache-to', formatCacheEntry(entry))
      for (const tag of request.tags) args.push('--tag', `${request.image}:${tag}`)
      if (request.push) args.push('--push')
      args.push(request.context)
      await runChecked(ctx.runner, 'docker', args, 'docker buildx build', {
        env,
        timeoutMs: ctx.timeoutMs ?? DEFAULT_BUILD_TIMEOUT_MS
      })
      if (!request.push) return {}
      const metadata = await readJsonObject(metadataFile)
      const digest = metadata['containerimage.digest']
      return { reportedDigest: typeof digest === 'string' ? digest : undefined }
    }
  }
}

/** The classic engine reads a cache only from an image with inline cache metadata, and writes only that. */
function classicCacheArgs(request: BuildRequest): string[] {
  const args: string[] = []
  for (const entry of request.cacheFrom) {
    if (entry.type !== 'registry' || !entry.ref)
      throw cannotHonour('docker', 'cache-from', entry, 'type=registry,ref=<image>')
    args.push('--cache-from', cacheAttribute(entry, 'ref') as string)
  }
  for (const entry of request.cacheTo) {
    if (entry.type !== 'inline') throw cannotHonour('docker', 'cache-to', entry, 'type=inline')
    args.push('--build-arg', 'BUILDKIT_INLINE_CACHE=1')
  }
  return args
}

/**
 * With explicit credentials, a private DOCKER_CONFIG: a copy of the user's config plus our login, with the
 * buildx and plugin folders linked so the selected buildx builder stays in use. Never the user's own file.
 */
async function dockerConfigEnv(request: BuildRequest): Promise<Record<string, string>> {
  if (!request.login) return {}
  const original = process.env.DOCKER_CONFIG || path.join(process.env.HOME ?? '', '.docker')
  const dir = path.join(request.workDir, 'docker-config')
  await fs.mkdir(dir, { recursive: true, mode: 0o700 })
  const config = await readJsonObject(path.join(original, 'config.json'))
  await writePrivateJson(path.join(dir, 'config.json'), withLogin(config, request.login, 'docker'))
  for (const entry of ['buildx', 'cli-plugins', 'contexts']) {
    const source = path.join(original, entry)
    const exists = await fs.stat(source).then(
      () => true,
      () => false
    )
    if (exists) await fs.symlink(source, path.join(dir, entry))
  }
  return { DOCKER_CONFIG: dir }
}
