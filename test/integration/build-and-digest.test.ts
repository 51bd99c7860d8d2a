import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { execFile } from 'node:child_process'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { buildAndDigest, type Collaborators } from '../../src/actions/build-and-digest/main.js'
import type { OutputName } from '../../src/actions/build-and-digest/inputs.js'
import { createCommandRunner } from '../../src/lib/exec.js'
import { mapInputs } from '../../src/lib/inputs.js'
import { createRegistryClient } from '../../src/lib/registry/index.js'
import {
  BUILDAH_ENV,
  BUILDX_STANDIN_DIR,
  freshBuildahStorage,
  pushBusyboxBase,
  scratchContext,
  trustForContainers
} from '../support/builders.js'
import { standInHelper } from '../support/credential-helper.js'
import { startDockerd, type TestDockerd } from '../support/dockerd.js'
import { startRegistry, type TestRegistry } from '../support/registry.js'

const run = promisify(execFile)
const SHA = 'c0ffee0123456789abcdef0123456789abcdef01'
const PASSWORD = 'Pw-build-and-digest-9f3'

let registry: TestRegistry
let authRegistry: TestRegistry
/** The workspace every build runs in: contexts must be inside it. */
let workspace: string
const scratch = (content: string, dockerfile?: string): Promise<string> =>
  scratchContext(content, dockerfile, workspace)
const cleanups: Array<() => Promise<unknown>> = []
const savedEnv = { ...process.env }

beforeAll(async () => {
  registry = await startRegistry()
  authRegistry = await startRegistry({ auth: { username: 'ci', password: PASSWORD } })
  cleanups.push(await trustForContainers(registry), await trustForContainers(authRegistry))
  Object.assign(process.env, BUILDAH_ENV)
  workspace = await fs.mkdtemp(path.join(os.tmpdir(), 'ws-'))
  cleanups.push(() => fs.rm(workspace, { recursive: true, force: true }))
}, 60_000)

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
  await registry?.stop()
  await authRegistry?.stop()
})

afterEach(() => {
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key]
  Object.assign(process.env, savedEnv, BUILDAH_ENV)
})

interface Run {
  outputs: Partial<Record<OutputName, string>>
  summary: string
}

async function build(
  target: TestRegistry,
  inputs: Record<string, string>,
  env: NodeJS.ProcessEnv = {}
): Promise<Run> {
  const outputs: Run['outputs'] = {}
  let summary = ''
  const runnerTemp = await fs.mkdtemp(path.join(os.tmpdir(), 'runner-temp-'))
  cleanups.push(() => fs.rm(runnerTemp, { recursive: true, force: true }))
  const deps: Collaborators = {
    inputs: mapInputs({ 'source-revision': SHA, ...inputs }),
    env: { GITHUB_WORKSPACE: workspace, GITHUB_REPOSITORY: 'octo/app', RUNNER_TEMP: runnerTemp, ...env },
    runner: createCommandRunner(),
    registry: credentials => createRegistryClient({ credentials, ca: target.caPem, env: {} }),
    setOutput: (name, value) => (outputs[name] = value),
    writeSummary: async markdown => {
      summary += markdown
    },
    now: () => Date.now()
  }
  await buildAndDigest(deps)
  return { outputs, summary }
}

async function skopeo(target: TestRegistry, ...args: string[]): Promise<string> {
  const creds = target.username ? ['--creds', `${target.username}:${target.password}`] : []
  const [verb, ...rest] = args
  const { stdout } = await run('skopeo', [verb as string, ...creds, ...rest])
  return stdout.trim()
}

describe('buildah', () => {
  it('builds FROM scratch, pushes every tag, and outputs the digest the registry serves', async () => {
    const context = await scratch('buildah single\n')
    const { outputs, summary } = await build(registry, {
      image: `${registry.host}/team/single`,
      context,
      tags: 'v1.0.0\nbuild-1',
      labels: 'org.opencontainers.image.title=single',
      builder: 'buildah'
    })
    const image = `${registry.host}/team/single`
    expect(outputs.pushed).toBe('true')
    expect(outputs.digest).toMatch(/^sha256:[a-f0-9]{64}$/)
    for (const tag of ['sha-c0ffee012345', 'v1.0.0', 'build-1']) {
      expect(await skopeo(registry, 'inspect', '--format', '{{.Digest}}', `docker://${image}:${tag}`)).toBe(
        outputs.digest
      )
    }
    expect(outputs['image-ref']).toBe(`${image}@${outputs.digest}`)
    expect(outputs['tagged-ref']).toBe(`${image}:v1.0.0@${outputs.digest}`)
    expect(outputs.tags).toBe([`${image}:sha-c0ffee012345`, `${image}:v1.0.0`, `${image}:build-1`].join('\n'))
    expect(JSON.parse(outputs['platform-digests'] as string)).toEqual({ 'linux/amd64': outputs.digest })
    const labels = JSON.parse(await skopeo(registry, 'inspect', `docker://${outputs['image-ref']}`)).Labels
    expect(labels).toMatchObject({
      'org.opencontainers.image.revision': SHA,
      'org.opencontainers.image.version': 'v1.0.0',
      'org.opencontainers.image.source': 'https://github.com/octo/app',
      'org.opencontainers.image.title': 'single'
    })
    expect(JSON.parse(outputs.metadata as string)).toMatchObject({
      builder: 'buildah',
      digest: outputs.digest,
      labels
    })
    expect(summary).toContain(outputs.digest)
  })

  it('builds two platforms into an index whose platform digests the registry serves', async () => {
    const context = await scratch('buildah multi\n')
    const image = `${authRegistry.host}/team/multi`
    const { outputs } = await build(authRegistry, {
      image,
      context,
      platforms: 'linux/amd64,linux/arm64',
      builder: 'buildah',
      'registry-username': 'ci',
      'registry-password': PASSWORD
    })
    const raw = JSON.parse(
      await skopeo(authRegistry, 'inspect', '--raw', `docker://${image}@${outputs.digest}`)
    )
    expect(Array.isArray(raw.manifests)).toBe(true)
    const fromIndex = Object.fromEntries(
      (raw.manifests as Array<{ digest: string; platform: { os: string; architecture: string } }>).map(m => [
        `${m.platform.os}/${m.platform.architecture}`,
        m.digest
      ])
    )
    expect(JSON.parse(outputs['platform-digests'] as string)).toEqual(fromIndex)
    expect(Object.keys(fromIndex).sort()).toEqual(['linux/amd64', 'linux/arm64'])
    expect(
      await skopeo(authRegistry, 'inspect', '--format', '{{.Digest}}', `docker://${image}:sha-c0ffee012345`)
    ).toBe(outputs.digest)
  })

  it('refuses wrong credentials before building, naming the registry and never the password', async () => {
    const context = await scratch('never built\n')
    const attempt = build(authRegistry, {
      image: `${authRegistry.host}/team/denied`,
      context,
      builder: 'buildah',
      'registry-username': 'ci',
      'registry-password': 'wrong-Secret-771'
    })
    const error = (await attempt.catch(e => e)) as Error
    expect(error.message).toContain(authRegistry.host)
    expect(error.message).toMatch(/401/)
    expect(error.message).not.toContain('wrong-Secret-771')
    const { stdout } = await run('buildah', ['images', '--format', '{{.Name}}'], { env: { ...process.env } })
    expect(stdout).not.toContain('denied')
  })

  it('says which registry cannot be reached', async () => {
    const context = await scratch('unreachable\n')
    await expect(
      build(registry, { image: '127.0.0.1:9/team/nowhere', context, builder: 'buildah' })
    ).rejects.toThrow(/127\.0\.0\.1:9 could not be reached/)
  })

  it('shows the builder’s last lines when the build fails, and pushes nothing', async () => {
    const context = await scratch('x\n', 'FROM scratch\nCOPY missing-file.txt /x\n')
    const attempt = build(registry, { image: `${registry.host}/team/broken`, context, builder: 'buildah' })
    await expect(attempt).rejects.toThrow(/buildah build failed \(exit code \d+\):[\s\S]*missing-file\.txt/)
    await expect(
      skopeo(registry, 'inspect', `docker://${registry.host}/team/broken:sha-c0ffee012345`)
    ).rejects.toThrow()
  })

  it('builds without pushing and claims no digest with push: false', async () => {
    const context = await scratch('local only\n')
    const { outputs, summary } = await build(registry, {
      image: `${registry.host}/team/local`,
      context,
      builder: 'buildah',
      push: 'false'
    })
    expect(outputs).toMatchObject({ pushed: 'false', digest: '', 'image-ref': '', 'tagged-ref': '' })
    expect(summary).toContain('not pushed')
    await expect(
      skopeo(registry, 'inspect', `docker://${registry.host}/team/local:sha-c0ffee012345`)
    ).rejects.toThrow()
  })
})

describe('buildah and a Docker credential helper (credsStore, which buildah cannot use itself)', () => {
  it('pushes with the credentials the helper gives, no inputs needed', async () => {
    const helper = await standInHelper(
      { credsStore: 'standin' },
      {
        [authRegistry.host]: { Username: 'ci', Secret: PASSWORD }
      }
    )
    cleanups.push(helper.cleanup)
    const context = await scratch('from a helper\n')
    const image = `${authRegistry.host}/team/helper`
    const { outputs } = await build(authRegistry, { image, context, builder: 'buildah' }, helper.env)
    expect(
      await skopeo(authRegistry, 'inspect', '--format', '{{.Digest}}', `docker://${image}:sha-c0ffee012345`)
    ).toBe(outputs.digest)
    expect(await helper.asked()).toEqual([authRegistry.host])
  })

  it('fails naming the helper when it fails, before building', async () => {
    const helper = await standInHelper({ credsStore: 'standin' }, {}, 'fail')
    cleanups.push(helper.cleanup)
    const context = await scratch('helper fails\n')
    const image = `${authRegistry.host}/team/helper-fails`
    await expect(build(authRegistry, { image, context, builder: 'buildah' }, helper.env)).rejects.toThrow(
      /docker-credential-standin get failed for 127\.0\.0\.1:\d+ \(exit code 1\): .*keyring is locked/
    )
    const { stdout } = await run('buildah', ['images', '--format', '{{.Name}}'], { env: { ...process.env } })
    expect(stdout).not.toContain('helper-fails')
  })
})

describe('buildah with a registry layer cache', () => {
  // A slow RUN step whose output differs every time it runs: the same layer digest after a rebuild on empty
  // storage proves the step came from the cache.
  const SLOW_RUN = 'RUN sleep 3 && echo "$RANDOM $RANDOM $RANDOM" > /stamp'

  /** Build on storage of its own (a fresh runner): returns the outputs and the pushed image's layer digests. */
  const freshBuild = async (
    inputs: Record<string, string>
  ): Promise<{ digest: string; layers: string[] }> => {
    const storage = await freshBuildahStorage()
    try {
      Object.assign(process.env, storage.env)
      const { outputs } = await build(registry, inputs)
      const raw = JSON.parse(
        await skopeo(registry, 'inspect', '--raw', `docker://${inputs.image}@${outputs.digest}`)
      ) as { layers: Array<{ digest: string }> }
      return { digest: outputs.digest as string, layers: raw.layers.map(layer => layer.digest) }
    } finally {
      delete process.env.CONTAINERS_STORAGE_CONF
      await storage.cleanup()
    }
  }

  it('a rebuild on empty storage takes the slow step from the cache the cold build exported', async () => {
    const base = await pushBusyboxBase(registry)
    const context = await scratch('cached\n', `FROM ${base}\n${SLOW_RUN}\nCOPY hello.txt /hello.txt\n`)
    const image = `${registry.host}/team/cached`
    const cache = `${registry.host}/team/cached-cache`
    const inputs = {
      image,
      context,
      builder: 'buildah',
      'cache-from': `type=registry,ref=${cache}:buildcache`,
      'cache-to': `type=registry,ref=${cache}:buildcache,mode=max`
    }
    const cold = await freshBuild(inputs)
    const warm = await freshBuild(inputs)
    const uncached = await freshBuild({ ...inputs, 'cache-from': '', 'cache-to': '' })
    expect(cold.layers).toHaveLength(3)
    // The RUN layer came from the cache; without one, the step runs again and its layer differs.
    expect(warm.layers).toEqual(cold.layers)
    expect(uncached.layers[1]).not.toBe(cold.layers[1])
    // The image's tags point at the image, never at a cache image.
    expect(
      await skopeo(registry, 'inspect', '--format', '{{.Digest}}', `docker://${image}:sha-c0ffee012345`)
    ).toBe(uncached.digest)
  })
})

describe('buildah and a plain-HTTP registry on loopback (a registry:2 service container)', () => {
  let plain: TestRegistry
  let plainAuth: TestRegistry
  beforeAll(async () => {
    ;[plain, plainAuth] = await Promise.all([
      startRegistry({ plainHttp: true }),
      startRegistry({ plainHttp: true, auth: { username: 'ci', password: PASSWORD } })
    ])
  })
  afterAll(async () => Promise.all([plain?.stop(), plainAuth?.stop()]))

  const served = async (target: TestRegistry, reference: string): Promise<string> => {
    const creds = target.username ? ['--creds', `${target.username}:${target.password}`] : []
    const args = [
      'inspect',
      '--tls-verify=false',
      ...creds,
      '--format',
      '{{.Digest}}',
      `docker://${reference}`
    ]
    return (await run('skopeo', args)).stdout.trim()
  }

  it.each([
    ['without auth', () => plain, {}],
    ['with htpasswd', () => plainAuth, { 'registry-username': 'ci', 'registry-password': PASSWORD }]
  ])('pushes %s and outputs the digest the registry serves', async (_, target, credentials) => {
    const context = await scratch(`plain http ${_}\n`)
    const image = `${target().host}/team/plain`
    const { outputs } = await build(target(), {
      image,
      context,
      tags: 'v1.0.0',
      builder: 'buildah',
      ...credentials
    })
    expect(outputs.pushed).toBe('true')
    expect(await served(target(), `${image}:v1.0.0`)).toBe(outputs.digest)
    expect(await served(target(), `${image}:sha-c0ffee012345`)).toBe(outputs.digest)
  })
})

describe('buildx (through a stand-in docker CLI: buildx is not packaged for Debian)', () => {
  it('passes buildx its flags, reads the digest from --metadata-file, and confirms it with the registry', async () => {
    const log = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'buildx-log-')), 'args.jsonl')
    process.env.PATH = `${BUILDX_STANDIN_DIR}:${process.env.PATH}`
    process.env.BUILDX_STANDIN_LOG = log
    const context = await scratch('buildx\n')
    const image = `${authRegistry.host}/team/buildx`
    const { outputs } = await build(authRegistry, {
      image,
      context,
      platforms: 'linux/amd64,linux/arm64',
      'build-args': 'MODE=release',
      target: '',
      tags: 'v2.0.0',
      'registry-username': 'ci',
      'registry-password': PASSWORD
    })
    const calls = (await fs.readFile(log, 'utf8'))
      .trim()
      .split('\n')
      .map(line => JSON.parse(line) as string[])
    expect(calls[0]).toEqual(['buildx', 'version'])
    const buildArgs = calls[1] as string[]
    expect(buildArgs.slice(0, 2)).toEqual(['buildx', 'build'])
    expect(buildArgs).toEqual(
      expect.arrayContaining([
        '--push',
        '--platform',
        'linux/amd64,linux/arm64',
        '--build-arg',
        'MODE=release'
      ])
    )
    expect(buildArgs).toEqual(
      expect.arrayContaining(['--tag', `${image}:sha-c0ffee012345`, '--tag', `${image}:v2.0.0`])
    )
    expect(buildArgs.join(' ')).not.toContain(PASSWORD)
    const served = await skopeo(
      authRegistry,
      'inspect',
      '--format',
      '{{.Digest}}',
      `docker://${image}:v2.0.0`
    )
    expect(outputs.digest).toBe(served)
    expect(Object.keys(JSON.parse(outputs['platform-digests'] as string)).sort()).toEqual([
      'linux/amd64',
      'linux/arm64'
    ])
  })
})

describe('classic docker engine (a real dockerd)', () => {
  let dockerd: TestDockerd
  beforeAll(async () => {
    dockerd = await startDockerd()
    await dockerd.trustRegistry(registry.host, registry.caPem)
    await dockerd.trustRegistry(authRegistry.host, authRegistry.caPem)
  }, 90_000)
  afterAll(async () => dockerd?.stop())

  it('builds, pushes every tag, and takes the digest from the registry', async () => {
    process.env.DOCKER_HOST = dockerd.host
    const context = await scratch('docker classic\n')
    const image = `${authRegistry.host}/team/classic`
    const { outputs } = await build(authRegistry, {
      image,
      context,
      tags: 'v3.1.4',
      builder: 'docker',
      'registry-username': 'ci',
      'registry-password': PASSWORD
    })
    for (const tag of ['sha-c0ffee012345', 'v3.1.4']) {
      expect(
        await skopeo(authRegistry, 'inspect', '--format', '{{.Digest}}', `docker://${image}:${tag}`)
      ).toBe(outputs.digest)
    }
    const labels = JSON.parse(await skopeo(authRegistry, 'inspect', `docker://${image}:v3.1.4`)).Labels
    expect(labels['org.opencontainers.image.revision']).toBe(SHA)
    expect(JSON.parse(outputs.metadata as string).builder).toBe('docker')
  })

  it('pushes with the inputs’ credentials even when the Docker config’s credsStore would fail', async () => {
    // The private config keeps the store for other registries, and an empty helper for this one: the docker
    // CLI then reads the login from the file for this host alone and never asks the (failing) store.
    const helper = await standInHelper({ credsStore: 'standin' }, {}, 'fail')
    cleanups.push(helper.cleanup)
    Object.assign(process.env, helper.env, { DOCKER_HOST: dockerd.host })
    const context = await scratch('docker with a store\n')
    const image = `${authRegistry.host}/team/classic-store`
    const { outputs } = await build(authRegistry, {
      image,
      context,
      builder: 'docker',
      'registry-username': 'ci',
      'registry-password': PASSWORD
    })
    expect(
      await skopeo(authRegistry, 'inspect', '--format', '{{.Digest}}', `docker://${image}:sha-c0ffee012345`)
    ).toBe(outputs.digest)
    expect(await helper.asked()).toEqual([])
  })

  it('pushes to a plain-HTTP registry with htpasswd on loopback (docker treats loopback as insecure)', async () => {
    const plain = await startRegistry({ plainHttp: true, auth: { username: 'ci', password: PASSWORD } })
    cleanups.push(() => plain.stop())
    process.env.DOCKER_HOST = dockerd.host
    const context = await scratch('docker plain http\n')
    const image = `${plain.host}/team/classic-plain`
    const { outputs } = await build(plain, {
      image,
      context,
      builder: 'docker',
      'registry-username': 'ci',
      'registry-password': PASSWORD
    })
    const args = ['inspect', '--tls-verify=false', '--creds', `ci:${PASSWORD}`, '--format', '{{.Digest}}']
    const { stdout } = await run('skopeo', [...args, `docker://${image}:sha-c0ffee012345`])
    expect(outputs.digest).toBe(stdout.trim())
  })

  it('refuses several platforms with the classic builder, clearly', async () => {
    process.env.DOCKER_HOST = dockerd.host
    const context = await scratch('docker multi\n')
    await expect(
      build(registry, {
        image: `${registry.host}/team/classic-multi`,
        context,
        builder: 'docker',
        platforms: 'linux/amd64,linux/arm64'
      })
    ).rejects.toThrow(/classic docker builder cannot build several platforms/)
  })
})
