import { promises as fs } from 'node:fs'
import path from 'node:path'
import { runChecked } from '../exec.js'
import { parseDigest } from '../image-ref.js'
import { dockerConfigFile } from '../registry/index.js'
import { readJsonObject, writePrivateJson, withLogin } from './auth-file.js'
import {
  DEFAULT_BUILD_TIMEOUT_MS,
  QUICK_COMMAND_TIMEOUT_MS,
  type Builder,
  type BuilderContext,
  type BuildOutcome,
  type BuildRequest
} from './types.js'
import { ExternalError } from '../errors.js'

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
          digests.add(parseDigest((await fs.readFile(digestFile, 'utf8')).trim()))
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
