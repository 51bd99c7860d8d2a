import { promises as fs } from 'node:fs'
import path from 'node:path'
import { runChecked } from '../exec.js'
import { parseDigest } from '../image-ref.js'
import { dockerConfigFile } from '../registry/index.js'
import { readJsonObject, writePrivateJson, withLogin } from './auth-file.js'
import { cannotHonour, type CacheEntry } from './cache.js'
import {
  DEFAULT_BUILD_TIMEOUT_MS,
  QUICK_COMMAND_TIMEOUT_MS,
  type Builder,
  type BuilderContext,
  type BuildOutcome,
  type BuildRequest
} from './types.js'
import { ConfigurationError, ExternalError } from '../errors.js'

/** buildah: `build` (with `--manifest` for several platforms), then `push` / `manifest push --all` per tag. */
export function createBuildahBuilder(ctx: BuilderContext): Builder {
  const run = (args: string[], what: string) =>
    runChecked(ctx.runner, 'buildah', args, what, {
      env: ctx.env,
      timeoutMs: ctx.timeoutMs ?? DEFAULT_BUILD_TIMEOUT_MS
    })

  return {
    name: 'buildah',
    async build(request: BuildRequest): Promise<BuildOutcome> {
      const authArgs: string[] = []
      if (request.login) {
        const authFile = path.join(request.workDir, 'containers-auth.json')
        // The user's other registries stay (a private base image); credsStore is for the docker CLI only.
        const { auths, credHelpers } = await readJsonObject(dockerConfigFile(process.env))
        await writePrivateJson(authFile, withLogin({ auths, credHelpers }, request.login, 'containers'))
        authArgs.push('--authfile', authFile)
      }
      // A name of our own in local storage, so a leftover manifest list from an earlier run is never reused.
      const local = `localhost/digest-delivery-build:${path
        .basename(request.workDir)
        .toLowerCase()
        .replace(/[^a-z0-9_.-]/g, '-')}`
      const multi = request.platforms.length > 1
      const args = ['build', ...authArgs, '--file', request.file]
      if (request.target) args.push('--target', request.target)
      for (const [key, value] of request.buildArgs) args.push('--build-arg', `${key}=${value}`)
      for (const [key, value] of request.labels) args.push('--label', `${key}=${value}`)
      if (request.platforms.length > 0) args.push('--platform', request.platforms.join(','))
      args.push(...cacheArgs(request))
      args.push(multi ? '--manifest' : '--tag', local, request.context)
      await run(args, 'buildah build')
      if (!request.push) return {}

      // Docker treats loopback registries as insecure by default; containers/image has to be told.
      const pushOptions = [...authArgs, ...(request.plainHttp ? ['--tls-verify=false'] : [])]
      const digests = new Set<string>()
      try {
        for (const tag of request.tags) {
          const digestFile = path.join(request.workDir, `digest-${digests.size}-${tag}`)
          const destination = `docker://${request.image}:${tag}`
          const pushArgs = multi
            ? ['manifest', 'push', '--all', ...pushOptions, '--digestfile', digestFile, local, destination]
            : ['push', ...pushOptions, '--digestfile', digestFile, local, destination]
          await run(pushArgs, `buildah push to ${request.image}:${tag}`)
          const written = (await fs.readFile(digestFile, 'utf8').catch(() => '')).trim()
          // buildah 1.28's `manifest push --all` exits 0 when an image of the list failed to upload.
          if (written === '') {
            throw new ExternalError(
              `buildah push to ${request.image}:${tag} exited 0 but wrote no digest: the push failed (see its output above)`
            )
          }
          digests.add(parseDigest(written))
        }
      } finally {
        await ctx.runner.run('buildah', multi ? ['manifest', 'rm', local] : ['rmi', local], {
          env: ctx.env,
          silent: true,
          timeoutMs: QUICK_COMMAND_TIMEOUT_MS
        })
      }
      if (digests.size > 1) {
        throw new ExternalError(
          `buildah pushed different digests for the tags of one build: ${[...digests].join(', ')}`
        )
      }
      return { reportedDigest: [...digests][0] }
    }
  }
}

/**
 * buildah caches layers in one registry repository (`--layers --cache-from/--cache-to <repository>`), under tags it
 * derives from each step: the tag of `ref` is not used.
 */
function cacheArgs(request: BuildRequest): string[] {
  const repository = (direction: 'cache-from' | 'cache-to', entries: CacheEntry[]): string | undefined => {
    for (const entry of entries) {
      if (entry.type !== 'registry' || !entry.ref) {
        throw cannotHonour('buildah', direction, entry, 'one type=registry,ref=<repository>')
      }
    }
    if (entries.length > 1) {
      throw new ConfigurationError(
        `input '${direction}': builder buildah takes one registry cache, not ${entries.length}: name one repository`
      )
    }
    const ref = entries[0]?.ref
    if (ref && request.plainHttp && request.image.startsWith(`${ref.registry}/`)) {
      // Reading it would take --tls-verify=false for the whole build, base images from other registries included.
      throw new ConfigurationError(
        `input '${direction}': builder buildah cannot use a layer cache on ${ref.registry}, which speaks plain HTTP: ` +
          'serve the registry over HTTPS (a private CA works), or use builder buildx or docker'
      )
    }
    return ref && `${ref.registry}/${ref.repository}`
  }
  const from = repository('cache-from', request.cacheFrom)
  const to = repository('cache-to', request.cacheTo)
  if (!from && !to) return []
  return ['--layers', ...(from ? ['--cache-from', from] : []), ...(to ? ['--cache-to', to] : [])]
}
