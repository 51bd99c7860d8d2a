import { describe, expect, it } from '@jest/globals'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createBuildahBuilder } from '../../src/lib/builder/buildah.js'
import { ExternalError } from '../../src/lib/errors.js'
import type { CommandRunner } from '../../src/lib/exec.js'

describe('buildah push', () => {
  it('is a failure when buildah exits 0 without writing a digest (1.28 manifest push --all hides failed uploads)', async () => {
    const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'buildah-push-'))
    // Every command "succeeds"; the push writes no digest file, as buildah 1.28 does when an upload failed.
    const runner: CommandRunner = { run: async () => ({ exitCode: 0, stdout: '', stderr: '' }) }
    const build = createBuildahBuilder({ runner }).build({
      image: 'ghcr.io/octo/app',
      tags: ['sha-0123456789ab'],
      context: workDir,
      file: path.join(workDir, 'Dockerfile'),
      buildArgs: new Map(),
      labels: new Map(),
      platforms: ['linux/amd64', 'linux/arm64'],
      push: true,
      cacheFrom: [],
      cacheTo: [],
      workDir
    })
    const error = (await build.catch(e => e)) as Error
    expect(error).toBeInstanceOf(ExternalError)
    expect(error.message).toBe(
      'buildah push to ghcr.io/octo/app:sha-0123456789ab exited 0 but wrote no digest: the push failed (see its output above)'
    )
    await fs.rm(workDir, { recursive: true, force: true })
  })
})
