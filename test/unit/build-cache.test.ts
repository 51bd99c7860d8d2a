import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { readInputs } from '../../src/actions/build-and-digest/inputs.js'
import {
  formatCacheEntry,
  selectBuilder,
  type BuildRequest,
  type CacheEntry
} from '../../src/lib/builder/index.js'
import { ConfigurationError } from '../../src/lib/errors.js'
import type { CommandOptions, CommandRunner } from '../../src/lib/exec.js'
import { mapInputs } from '../../src/lib/inputs.js'

const SHA = '0123456789abcdef0123456789abcdef01234567'
const CACHE_ENV = { ACTIONS_RUNTIME_TOKEN: 'rt', ACTIONS_RESULTS_URL: 'https://results.example/' }
let workspace: string
let runnerTemp: string
let outside: string

beforeAll(async () => {
  workspace = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'cache-ws-')))
  runnerTemp = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'cache-temp-')))
  outside = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'cache-outside-')))
  await fs.writeFile(path.join(workspace, 'Dockerfile'), 'FROM scratch\n')
  await fs.mkdir(path.join(workspace, 'cache-in'))
  await fs.symlink(outside, path.join(workspace, 'cache-out'))
})
afterAll(async () => {
  for (const dir of [workspace, runnerTemp, outside]) await fs.rm(dir, { recursive: true, force: true })
})

const read = (values: Record<string, string>, env: NodeJS.ProcessEnv = {}) =>
  readInputs(mapInputs({ image: 'ghcr.io/octo/app', tags: 'v1.0.0', ...values }), workspace, {
    GITHUB_SHA: SHA,
    RUNNER_TEMP: runnerTemp,
    ...env
  })
const formatted = (entries: CacheEntry[]) => entries.map(formatCacheEntry)

describe('cache-from and cache-to inputs', () => {
  it('reads docker/build-push-action’s spellings, one per line', async () => {
    const inputs = await read(
      {
        'cache-from':
          'type=registry,ref=ghcr.io/octo/app:buildcache\nghcr.io/octo/app:other\ntype=gha,scope=web\ntype=local,src=cache-in',
        'cache-to': `type=registry,ref=ghcr.io/octo/app:buildcache,mode=max\ntype=inline\ntype=local,dest=${runnerTemp}/out`
      },
      CACHE_ENV
    )
    expect(formatted(inputs.cacheFrom)).toEqual([
      'type=registry,ref=ghcr.io/octo/app:buildcache',
      'type=registry,ref=ghcr.io/octo/app:other',
      'type=gha,scope=web',
      `type=local,src=${path.join(workspace, 'cache-in')}`
    ])
    expect(formatted(inputs.cacheTo)).toEqual([
      'type=registry,ref=ghcr.io/octo/app:buildcache,mode=max',
      'type=inline',
      `type=local,dest=${path.join(runnerTemp, 'out')}`
    ])
    // A cache tag is not an image tag: it is neither pushed as one nor refused as a moving tag.
    expect(inputs.tags).toEqual(['sha-0123456789ab', 'v1.0.0'])
  })

  it.each([
    [{ 'cache-to': 'type=registry,ref=ghcr.io/octo/app:v1.0.0' }, 'is one of the tags this build pushes'],
    [
      { 'cache-to': 'type=registry,ref=ghcr.io/octo/app:sha-0123456789ab' },
      'is one of the tags this build pushes'
    ],
    [{ 'cache-from': `type=registry,ref=ghcr.io/octo/app@sha256:${'a'.repeat(64)}` }, 'names a digest'],
    [{ 'cache-from': 'type=registry' }, 'needs ref='],
    [{ 'cache-from': 'type=registry,ref=Not Valid' }, 'invalid image reference'],
    [{ 'cache-from': 'type=s4,ref=x' }, 'needs a type, one of registry, gha'],
    [{ 'cache-from': 'type=registry,ref=ghcr.io/x/y,oops' }, "'oops' in"],
    [{ 'cache-from': 'type=registry,ref=ghcr.io/x/y,mode=max' }, 'on cache-to only'],
    [{ 'cache-to': 'type=registry,ref=ghcr.io/x/y,mode=all' }, 'mode=min or mode=max'],
    [{ 'cache-from': 'type=inline' }, 'type=inline is a cache-to'],
    [{ 'cache-from': 'type=gha' }, 'type=gha needs the runner’s cache service'.replace('’', "'")],
    [{ 'cache-to': 'type=gha,token=ghs_secret' }, "'token' would put a secret on the builder's command line"],
    [{ 'cache-to': 'type=s3,region=x,bucket=b,secret_access_key=k' }, 'would put a secret'],
    [{ 'cache-from': 'type=local' }, 'needs src=<directory>'],
    [{ 'cache-from': 'type=local,src=cache-out' }, 'resolves outside the workspace'],
    [{ 'cache-from': 'type=local,src=/etc' }, 'resolves outside the workspace'],
    [{ 'cache-to': 'type=local,dest=cache-out/x' }, 'resolves outside the workspace'],
    [{ 'cache-to': 'type=local,dest=../elsewhere' }, 'resolves outside the workspace'],
    [{ 'cache-to': 'type=local,dest=Dockerfile' }, 'exists and is not a directory']
  ])('refuses %j', async (values, message) => {
    const error = (await read(values).catch(e => e)) as Error
    expect(error).toBeInstanceOf(ConfigurationError)
    expect(error.message).toContain(message)
  })
})

/** A runner that records every command and succeeds; `docker buildx version` and `buildah --version` work. */
function recordingRunner(): CommandRunner & {
  calls: Array<{ command: string; args: string[]; options?: CommandOptions }>
} {
  const calls: Array<{ command: string; args: string[]; options?: CommandOptions }> = []
  return {
    calls,
    run: async (command, args, options) => {
      calls.push({ command, args, options })
      const digestFile = args[args.indexOf('--digestfile') + 1]
      if (args.includes('--digestfile') && digestFile)
        await fs.writeFile(digestFile, `sha256:${'b'.repeat(64)}`)
      return { exitCode: 0, stdout: '', stderr: '' }
    }
  }
}

async function buildWith(
  builder: 'buildx' | 'buildah' | 'docker',
  cache: Record<string, string>,
  plainHttp = false
): Promise<string[]> {
  const inputs = await read({ builder, ...cache }, CACHE_ENV)
  const runner = recordingRunner()
  const workDir = await fs.mkdtemp(path.join(runnerTemp, 'work-'))
  const request: BuildRequest = {
    image: inputs.image,
    tags: inputs.tags,
    context: inputs.context,
    file: inputs.file,
    buildArgs: new Map(),
    labels: new Map(),
    platforms: [],
    push: false,
    cacheFrom: inputs.cacheFrom,
    cacheTo: inputs.cacheTo,
    plainHttp,
    workDir
  }
  await (await selectBuilder(builder, { runner })).build(request)
  return runner.calls.find(call => call.args.includes('build'))?.args ?? []
}

describe('each builder takes the caches it can honour, and refuses the rest by name', () => {
  const registryCache = {
    'cache-from': 'type=registry,ref=ghcr.io/octo/app:buildcache',
    'cache-to': 'type=registry,ref=ghcr.io/octo/app:buildcache,mode=max'
  }

  it('buildx: every entry as written', async () => {
    const args = await buildWith('buildx', {
      'cache-from': 'type=registry,ref=ghcr.io/octo/app:buildcache\ntype=gha,scope=web',
      'cache-to': 'type=gha,scope=web,mode=max'
    })
    expect(args).toEqual(
      expect.arrayContaining(['--cache-from', 'type=registry,ref=ghcr.io/octo/app:buildcache'])
    )
    expect(args).toEqual(expect.arrayContaining(['--cache-from', 'type=gha,scope=web']))
    expect(args).toEqual(expect.arrayContaining(['--cache-to', 'type=gha,scope=web,mode=max']))
  })

  it('buildah: --layers with the cache repository (its own tags per step)', async () => {
    const args = await buildWith('buildah', registryCache)
    const at = args.indexOf('--layers')
    expect(args.slice(at, at + 5)).toEqual([
      '--layers',
      '--cache-from',
      'ghcr.io/octo/app',
      '--cache-to',
      'ghcr.io/octo/app'
    ])
  })

  it('docker: --cache-from the image, and an inline cache', async () => {
    const args = await buildWith('docker', {
      'cache-from': 'type=registry,ref=ghcr.io/octo/app:buildcache',
      'cache-to': 'type=inline'
    })
    expect(args).toEqual(expect.arrayContaining(['--cache-from', 'ghcr.io/octo/app:buildcache']))
    expect(args).toEqual(expect.arrayContaining(['--build-arg', 'BUILDKIT_INLINE_CACHE=1']))
  })

  it('buildah refuses a cache on a plain-HTTP registry rather than build without TLS checks', async () => {
    await expect(buildWith('buildah', registryCache, true)).rejects.toThrow(
      'builder buildah cannot use a layer cache on ghcr.io, which speaks plain HTTP'
    )
  })

  it('no cache, no cache flags', async () => {
    for (const builder of ['buildx', 'buildah', 'docker'] as const) {
      const args = await buildWith(builder, {})
      expect(args.filter(arg => /^--(cache-|layers)|INLINE_CACHE/.test(arg))).toEqual([])
    }
  })

  it.each([
    ['buildah', { 'cache-from': 'type=gha' }, 'builder buildah cannot use a gha cache (type=gha)'],
    ['buildah', { 'cache-to': 'type=inline' }, 'builder buildah cannot use a inline cache'],
    ['buildah', { 'cache-to': `type=local,dest=${'x'}` }, 'builder buildah cannot use a local cache'],
    [
      'buildah',
      { 'cache-from': 'type=registry,ref=ghcr.io/a/b:c\ntype=registry,ref=ghcr.io/a/d:c' },
      'builder buildah takes one registry cache, not 2'
    ],
    [
      'docker',
      { 'cache-to': 'type=registry,ref=ghcr.io/a/b:c' },
      'builder docker cannot use a registry cache'
    ],
    ['docker', { 'cache-from': 'type=gha' }, 'builder docker cannot use a gha cache']
  ] as const)('%s refuses %j', async (builder, cache, message) => {
    await expect(buildWith(builder, cache)).rejects.toThrow(message)
  })
})
