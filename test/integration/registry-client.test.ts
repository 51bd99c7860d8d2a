import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals'
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { gunzipSync } from 'node:zlib'
import { ConfigurationError, ExternalError } from '../../src/lib/errors.js'
import {
  computeDigest,
  createRegistryClient,
  platformManifests,
  RegistryError,
  type RegistryClientOptions,
  type RegistryRef
} from '../../src/lib/registry/index.js'
import { isPlainTextAllowed } from '../../src/lib/registry/http.js'
import { standInHelper } from '../support/credential-helper.js'
import { startRegistryProxy, type RegistryProxy } from '../support/registry-proxy.js'
import {
  pushTestImage,
  sha256,
  startRegistry,
  type PushedImage,
  type TestRegistry
} from '../support/registry.js'

const run = promisify(execFile)

const PASSWORD = 'pw-Zq8-very-secret'
const TOKEN_PASSWORD = 'tok-Xy7-also-secret'

let registry: TestRegistry
let authRegistry: TestRegistry
let single: PushedImage
let multi: PushedImage
let delays: number[]
let debugLines: string[]

/** Client options for tests: trust the test CA, record backoff instead of sleeping. */
function options(extra: RegistryClientOptions = {}): RegistryClientOptions {
  return {
    ca: registry.caPem,
    sleep: async ms => {
      delays.push(ms)
    },
    debug: line => debugLines.push(line),
    env: {},
    ...extra
  }
}

function refTo(host: string, repository: string, tag?: string, digest?: string): RegistryRef {
  return { registry: host, repository, tag, digest }
}

async function skopeoDigest(target: TestRegistry, reference: string): Promise<string> {
  const args = ['inspect', '--cert-dir', target.certDir, '--format', '{{.Digest}}']
  if (target.username) args.push('--creds', `${target.username}:${target.password}`)
  const { stdout } = await run('skopeo', [...args, `docker://${target.host}/${reference}`])
  return stdout.trim()
}

async function failure(promise: Promise<unknown>): Promise<RegistryError> {
  const thrown = await promise.then(
    () => undefined,
    (error: unknown) => error
  )
  if (!(thrown instanceof RegistryError)) throw new Error(`expected a RegistryError, got ${String(thrown)}`)
  return thrown
}

/** Everything an error could leak through: message, stack, own fields, cause. */
function everything(error: Error): string {
  return [error.message, error.stack, JSON.stringify(error), String(error.cause)].join('\n')
}

beforeAll(async () => {
  ;[registry, authRegistry] = await Promise.all([
    startRegistry(),
    startRegistry({ auth: { username: 'ci-bot', password: PASSWORD } })
  ])
  single = await pushTestImage(registry, 'app/web', 'v1', { labels: { 'org.example.flavour': 'plain' } })
  multi = await pushTestImage(registry, 'app/multi', 'v2', { platforms: ['linux/amd64', 'linux/arm64/v8'] })
})

afterAll(async () => {
  await Promise.all([registry?.stop(), authRegistry?.stop()])
})

beforeEach(() => {
  delays = []
  debugLines = []
})

describe('reading from docker-registry over HTTPS', () => {
  it('resolves a tag to the digest skopeo sees', async () => {
    const client = createRegistryClient(options())
    const digest = await client.resolveDigest(refTo(registry.host, 'app/web', 'v1'))
    expect(digest).toBe(single.digest)
    expect(digest).toBe(await skopeoDigest(registry, 'app/web:v1'))
  })

  it('serves the exact manifest bytes and verifies a digest reference', async () => {
    const client = createRegistryClient(options())
    const byTag = await client.getManifest(refTo(registry.host, 'app/web', 'v1'))
    expect(byTag.bytes.equals(single.bytes)).toBe(true)
    expect(byTag.mediaType).toBe('application/vnd.oci.image.manifest.v1+json')
    expect(byTag.json.config?.digest).toBe(single.images[0]?.configDigest)

    const byDigest = refTo(registry.host, 'app/web', undefined, single.digest)
    await expect(client.resolveDigest(byDigest)).resolves.toBe(single.digest)
    expect((await client.getManifest(byDigest)).digest).toBe(sha256(single.bytes))
  })

  it('reads the config and a layer of an image', async () => {
    const client = createRegistryClient(options())
    const ref = refTo(registry.host, 'app/web', 'v1')
    const config = await client.getConfig(ref)
    expect(config).toMatchObject({ os: 'linux', architecture: 'amd64' })
    expect(config.config?.Labels).toEqual({ 'org.example.flavour': 'plain' })

    const layer = await client.getBlob(ref, single.images[0]!.layerDigest)
    expect(gunzipSync(layer).toString('latin1')).toContain('hello from app/web:v1\n')
    expect(computeDigest(layer)).toBe(single.images[0]!.layerDigest)
  })

  it('reads an OCI index with two platforms', async () => {
    const client = createRegistryClient(options())
    const ref = refTo(registry.host, 'app/multi', 'v2')
    expect(await client.resolveDigest(ref)).toBe(await skopeoDigest(registry, 'app/multi:v2'))

    const index = await client.getManifest(ref)
    expect(index.digest).toBe(multi.digest)
    expect(index.mediaType).toBe('application/vnd.oci.image.index.v1+json')
    expect(platformManifests(index)).toEqual(
      multi.images.map(image => ({
        platform: image.platform,
        digest: image.digest,
        mediaType: image.mediaType,
        size: image.size
      }))
    )
    expect(platformManifests(index).map(entry => entry.platform)).toEqual(['linux/amd64', 'linux/arm64/v8'])

    const arm = await client.getConfig(ref, 'linux/arm64')
    expect(arm).toMatchObject({ os: 'linux', architecture: 'arm64', variant: 'v8' })
    await expect(client.getConfig(ref)).rejects.toThrow(ConfigurationError)
    await expect(client.getConfig(ref, 'linux/s390x')).rejects.toThrow(
      `registry ${registry.host} has no linux/s390x image in app/multi:v2 (it has linux/amd64, linux/arm64/v8)`
    )
  })

  it('reads a Docker manifest list', async () => {
    const pushed = await pushTestImage(registry, 'app/docker', 'v1', {
      format: 'docker',
      platforms: ['linux/amd64', 'linux/arm/v7']
    })
    const client = createRegistryClient(options())
    const list = await client.getManifest(refTo(registry.host, 'app/docker', 'v1'))
    expect(list.mediaType).toBe('application/vnd.docker.distribution.manifest.list.v2+json')
    expect(list.digest).toBe(pushed.digest)
    expect(platformManifests(list).map(entry => entry.digest)).toEqual(
      pushed.images.map(image => image.digest)
    )
  })

  it('says the registry does not have an unknown tag or repository', async () => {
    const client = createRegistryClient(options())
    const missingTag = await failure(client.resolveDigest(refTo(registry.host, 'app/web', 'nope')))
    expect(missingTag.notFound).toBe(true)
    expect(missingTag).toBeInstanceOf(ExternalError)
    expect(missingTag.message).toBe(`registry ${registry.host} does not have app/web:nope (404 Not Found)`)

    const missingRepo = await failure(client.getManifest(refTo(registry.host, 'app/absent', 'v1')))
    expect(missingRepo.notFound).toBe(true)
    expect(missingRepo.message).toMatch(
      new RegExp(`^registry ${registry.host} does not have app/absent:v1 \\(404 Not Found\\) \\[.+\\]$`)
    )
    const missingBlob = await failure(
      client.getBlob(refTo(registry.host, 'app/web'), sha256(Buffer.from('x')))
    )
    expect(missingBlob.status).toBe(404)
  })

  it('computes sha512 digests for sha512 references', () => {
    expect(computeDigest(Buffer.from('abc'), 'sha512:')).toBe(
      'sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a' +
        '2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f'
    )
  })
})

describe('writing to docker-registry', () => {
  it('uploads blobs and a manifest that skopeo then reads', async () => {
    const client = createRegistryClient(options())
    const ref = refTo(registry.host, 'app/written', 'v1')
    const layer = await client.putBlob(ref, Buffer.from('not really a tarball'))
    const configBytes = Buffer.from(
      JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } })
    )
    const config = await client.putBlob(ref, configBytes)
    expect(config).toEqual({ digest: sha256(configBytes), size: configBytes.length })
    const manifest = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }]
    }
    const digest = await client.putManifest(ref, manifest)
    expect(digest).toBe(sha256(Buffer.from(JSON.stringify(manifest))))
    expect(await skopeoDigest(registry, 'app/written:v1')).toBe(digest)
    expect((await client.getBlob(ref, config.digest)).equals(configBytes)).toBe(true)
  })

  it('skips uploading a blob the repository has', async () => {
    const proxy = await startRegistryProxy(registry)
    try {
      const client = createRegistryClient(options())
      await client.putBlob(refTo(proxy.host, 'app/web'), Buffer.from('hello from app/web:v1\n'))
      expect(proxy.requests.map(request => request.method)).toEqual(['HEAD', 'POST', 'PUT'])
      proxy.reset()
      await client.putBlob(refTo(proxy.host, 'app/web'), Buffer.from('hello from app/web:v1\n'))
      expect(proxy.requests.map(request => request.method)).toEqual(['HEAD'])
    } finally {
      await proxy.stop()
    }
  })

  it('checks push access by starting and cancelling an upload', async () => {
    const proxy = await startRegistryProxy(registry)
    try {
      await createRegistryClient(options()).checkPushAccess(refTo(proxy.host, 'app/web'))
      expect(proxy.requests.map(request => request.method)).toEqual(['POST', 'DELETE'])
    } finally {
      await proxy.stop()
    }
  })
})

describe('basic auth (htpasswd)', () => {
  const savedEnv = { ...process.env }
  let configDir: string | undefined
  afterEach(async () => {
    process.env = { ...savedEnv }
    if (configDir) await rm(configDir, { recursive: true, force: true })
    configDir = undefined
  })

  let pushed: PushedImage
  beforeAll(async () => {
    pushed = await pushTestImage(authRegistry, 'team/api', 'v1')
  })
  const ref = (): RegistryRef => refTo(authRegistry.host, 'team/api', 'v1')
  const authOptions = (extra: RegistryClientOptions): RegistryClientOptions => ({
    ...options(extra),
    ca: authRegistry.caPem
  })

  it('reads with the right credentials', async () => {
    const client = createRegistryClient(
      authOptions({ credentials: { username: 'ci-bot', password: PASSWORD } })
    )
    expect(await client.resolveDigest(ref())).toBe(pushed.digest)
    expect(await skopeoDigest(authRegistry, 'team/api:v1')).toBe(pushed.digest)
    await client.checkPushAccess(ref())
  })

  it('names the host and keeps the password out of the error for wrong credentials', async () => {
    const wrong = `${PASSWORD}-wrong`
    const client = createRegistryClient(authOptions({ credentials: { username: 'ci-bot', password: wrong } }))
    const error = await failure(client.resolveDigest(ref()))
    expect(error.status).toBe(401)
    expect(error.message).toBe(
      `registry ${authRegistry.host} refused credentials for team/api (401 Unauthorized): ` +
        'check registry-username / registry-password'
    )
    const leaked = [everything(error), ...debugLines].join('\n')
    expect(leaked).not.toContain(wrong)
    expect(leaked).not.toContain(PASSWORD)
    expect(leaked).not.toContain(Buffer.from(`ci-bot:${wrong}`).toString('base64'))
  })

  it('asks for credentials when it has none', async () => {
    const error = await failure(createRegistryClient(authOptions({})).getManifest(ref()))
    expect(error.message).toBe(
      `registry ${authRegistry.host} requires credentials for team/api (401 Unauthorized): ` +
        'set registry-username / registry-password or run docker login'
    )
  })

  it('takes credentials from the Docker config in DOCKER_CONFIG', async () => {
    configDir = await mkdtemp(join(tmpdir(), 'docker-config-'))
    const auth = Buffer.from(`ci-bot:${PASSWORD}`).toString('base64')
    await writeFile(
      join(configDir, 'config.json'),
      JSON.stringify({ auths: { [`https://${authRegistry.host}`]: { auth } } })
    )
    process.env.DOCKER_CONFIG = configDir
    const client = createRegistryClient({ ...authOptions({}), env: undefined })
    expect(await client.resolveDigest(ref())).toBe(pushed.digest)
  })

  it('takes credentials from the Docker credential helper the config names', async () => {
    const helper = await standInHelper(
      { credHelpers: { [authRegistry.host]: 'standin' } },
      {
        [authRegistry.host]: { Username: 'ci-bot', Secret: PASSWORD }
      }
    )
    try {
      const client = createRegistryClient({ ...authOptions({}), env: helper.env })
      expect(await client.resolveDigest(ref())).toBe(pushed.digest)
      await client.checkPushAccess(ref())
      // Asked once for the host, however many requests followed.
      expect(await helper.asked()).toEqual([authRegistry.host])
    } finally {
      await helper.cleanup()
    }
  })

  it('fails naming a failing credential helper instead of reading anonymously', async () => {
    const helper = await standInHelper({ credsStore: 'standin' }, {}, 'fail')
    try {
      const client = createRegistryClient({ ...authOptions({}), env: helper.env })
      await expect(client.resolveDigest(ref())).rejects.toThrow(/docker-credential-standin get failed/)
    } finally {
      await helper.cleanup()
    }
  })

  it('asks a resolver for the credentials of each host', async () => {
    const asked: string[] = []
    const client = createRegistryClient(
      authOptions({
        credentials: host => {
          asked.push(host)
          return host === authRegistry.host ? { username: 'ci-bot', password: PASSWORD } : undefined
        }
      })
    )
    expect((await client.getManifest(ref())).digest).toBe(pushed.digest)
    await client.getConfig(ref())
    expect(asked).toEqual([authRegistry.host])
  })
})

describe('retries', () => {
  let proxy: RegistryProxy
  beforeAll(async () => {
    proxy = await startRegistryProxy(registry)
  })
  afterAll(async () => {
    await proxy.stop()
  })
  beforeEach(() => proxy.reset())
  const ref = (): RegistryRef => refTo(proxy.host, 'app/web', 'v1')

  it('retries 5xx with growing backoff, then succeeds', async () => {
    proxy.failNext({ kind: 'status', status: 503 }, { kind: 'status', status: 502 })
    const digest = await createRegistryClient(options()).resolveDigest(ref())
    expect(digest).toBe(single.digest)
    expect(proxy.requests.map(request => request.method)).toEqual(['HEAD', 'HEAD', 'HEAD'])
    expect(delays).toHaveLength(2)
    expect(delays[0]).toBeGreaterThanOrEqual(500)
    expect(delays[0]).toBeLessThanOrEqual(1000)
    expect(delays[1]).toBeGreaterThanOrEqual(1000)
    expect(delays[1]).toBeLessThanOrEqual(2000)
  })

  it('waits as long as Retry-After says on 429, within a cap', async () => {
    proxy.failNext(
      { kind: 'status', status: 429, retryAfter: '7' },
      { kind: 'status', status: 429, retryAfter: '3600' }
    )
    const manifest = await createRegistryClient(options()).getManifest(ref())
    expect(manifest.digest).toBe(single.digest)
    expect(delays).toEqual([7000, 30000])
  })

  it('retries a dropped connection and a request that never answers', async () => {
    proxy.failNext({ kind: 'drop' }, { kind: 'hang' })
    const client = createRegistryClient(options({ timeoutMs: 300 }))
    expect(await client.resolveDigest(ref())).toBe(single.digest)
    expect(proxy.requests).toHaveLength(3)
    expect(debugLines.join('\n')).toMatch(/failed with ECONNRESET[\s\S]*failed with ETIMEDOUT/)
  })

  it('stops a response that trickles in forever at the deadline, however busy the connection looks', async () => {
    // One byte every 50 ms for 30 s: the idle timeout (5 s) never fires, the 1.5 s deadline must.
    proxy.failNext({ kind: 'trickle', everyMs: 50, bytes: 600 })
    const client = createRegistryClient(options({ timeoutMs: 5000, deadlineMs: 1500, retries: 0 }))
    const started = Date.now()
    const error = await failure(client.getManifest(ref()))
    expect(error.message).toContain('not finished within 1500 ms')
    expect(Date.now() - started).toBeLessThan(15_000)
  })

  it('gives up after the configured retries and says how often it tried', async () => {
    proxy.failNext(...Array.from({ length: 3 }, () => ({ kind: 'status' as const, status: 500 })))
    const error = await failure(createRegistryClient(options({ retries: 2 })).getManifest(ref()))
    expect(error.status).toBe(500)
    expect(error.message).toBe(
      `registry ${proxy.host} answered 500 Internal Server Error to get app/web:v1 ` +
        '[UNAVAILABLE: injected failure] after 3 attempts'
    )
    expect(proxy.requests).toHaveLength(3)
  })

  it('does not retry other 4xx', async () => {
    proxy.failNext({ kind: 'status', status: 400 })
    const error = await failure(createRegistryClient(options()).getManifest(ref()))
    expect(error.status).toBe(400)
    expect(proxy.requests).toHaveLength(1)
    expect(delays).toEqual([])
  })

  it('rejects a manifest whose bytes do not match its digest', async () => {
    proxy.failNext({ kind: 'corrupt' })
    const error = await failure(createRegistryClient(options()).getManifest(ref()))
    expect(error.message).toBe(
      `registry ${proxy.host} served app/web:v1 as ${single.digest} but its bytes hash to ` +
        sha256(Buffer.concat([single.bytes, Buffer.from(' ')]))
    )
    proxy.failNext({ kind: 'corrupt' })
    const byDigest = await failure(
      createRegistryClient(options()).getBlob(refTo(proxy.host, 'app/web'), single.images[0]!.configDigest)
    )
    expect(byDigest.message).toContain(`hashes to sha256:`)
    expect(byDigest.message).toContain(`not ${single.images[0]!.configDigest}`)
  })

  it('cannot reach a registry that is not there', async () => {
    const closed = await startRegistryProxy(registry)
    await closed.stop()
    const error = await failure(
      createRegistryClient(options({ retries: 1 })).resolveDigest(refTo(closed.host, 'app/web', 'v1'))
    )
    expect(error.message).toBe(
      `registry ${closed.host} could not be reached to resolve app/web:v1: ` +
        `connect ECONNREFUSED ${closed.host} (ECONNREFUSED) (2 attempts)`
    )
  })

  it('rejects a server certificate it does not trust, without retrying', async () => {
    const error = await failure(createRegistryClient(options({ ca: undefined })).resolveDigest(ref()))
    expect(error.message).toMatch(/could not be reached to resolve app\/web:v1: .*certificate/)
    expect(proxy.requests).toHaveLength(0)
  })
})

describe('bearer tokens', () => {
  let proxy: RegistryProxy
  beforeAll(async () => {
    proxy = await startRegistryProxy(registry, { bearer: { username: 'robot', password: TOKEN_PASSWORD } })
  })
  afterAll(async () => {
    await proxy.stop()
  })
  beforeEach(() => proxy.reset())
  const credentials = { username: 'robot', password: TOKEN_PASSWORD }

  it('fetches a scoped token once and reuses it', async () => {
    const client = createRegistryClient(options({ credentials }))
    const ref = refTo(proxy.host, 'app/web', 'v1')
    expect(await client.resolveDigest(ref)).toBe(single.digest)
    expect((await client.getManifest(ref)).digest).toBe(single.digest)
    expect((await client.getConfig(ref)).architecture).toBe('amd64')
    expect(proxy.tokenRequests).toEqual([
      { scope: 'repository:app/web:pull', service: 'test-registry', username: 'robot' }
    ])
    // one challenged request, then every request carries the token
    expect(proxy.requests.map(request => request.authorization?.split(' ')[0] ?? 'none')).toEqual([
      'none',
      'Bearer',
      'Bearer',
      'Bearer',
      'Bearer'
    ])
  })

  it('asks for a push scope to write', async () => {
    const client = createRegistryClient(options({ credentials }))
    const ref = refTo(proxy.host, 'app/pushed', 'v1')
    const blob = await client.putBlob(ref, Buffer.from(`bearer push ${Date.now()}`))
    expect(proxy.tokenRequests.map(request => request.scope)).toEqual(['repository:app/pushed:pull,push'])
    expect(await client.getBlob(ref, blob.digest)).toHaveLength(blob.size)
    expect(proxy.tokenRequests.map(request => request.scope)).toEqual([
      'repository:app/pushed:pull,push',
      'repository:app/pushed:pull'
    ])
  })

  it('names the token service and keeps the password out of the error for wrong credentials', async () => {
    const wrong = `${TOKEN_PASSWORD}-wrong`
    const client = createRegistryClient(options({ credentials: { username: 'robot', password: wrong } }))
    const error = await failure(client.resolveDigest(refTo(proxy.host, 'app/web', 'v1')))
    expect(error.message).toBe(
      `registry ${proxy.host} token service ${proxy.host} refused credentials for app/web (401 Unauthorized): ` +
        'check registry-username / registry-password'
    )
    const leaked = [everything(error), ...debugLines].join('\n')
    expect(leaked).not.toContain(wrong)
    expect(leaked).not.toContain(Buffer.from(`robot:${wrong}`).toString('base64'))
  })

  it('uses an anonymous token and reads access_token', async () => {
    const anonymous = await startRegistryProxy(registry, { bearer: { tokenField: 'access_token' } })
    try {
      const client = createRegistryClient(options())
      expect(await client.resolveDigest(refTo(anonymous.host, 'app/multi', 'v2'))).toBe(multi.digest)
      expect(anonymous.tokenRequests).toEqual([
        { scope: 'repository:app/multi:pull', service: 'test-registry', username: undefined }
      ])
    } finally {
      await anonymous.stop()
    }
  })

  it('keeps tokens out of errors', async () => {
    const client = createRegistryClient(options({ credentials, retries: 0 }))
    const ref = refTo(proxy.host, 'app/web', 'v1')
    await client.resolveDigest(ref)
    proxy.failNext({ kind: 'status', status: 500 })
    const error = await failure(client.getManifest(ref))
    const token = proxy.requests.find(request => request.authorization?.startsWith('Bearer '))?.authorization
    expect(token).toBeDefined()
    expect(everything(error)).not.toContain(token!.slice('Bearer '.length))
    expect(error.message).toContain('500 Internal Server Error')
  })
})

describe('plain HTTP on loopback (a registry:2 service container)', () => {
  let plain: TestRegistry
  beforeAll(async () => {
    plain = await startRegistry({ plainHttp: true })
  })
  afterAll(async () => plain?.stop())

  it('falls back to HTTP for a loopback registry that does not speak TLS, and pushes and reads there', async () => {
    const client = createRegistryClient(options())
    const ref = refTo(plain.host, 'plain/app', 'v1')
    await client.checkPushAccess(ref)
    const config = Buffer.from(
      JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } })
    )
    const blob = await client.putBlob(ref, config)
    const manifest = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: blob.digest, size: blob.size },
      layers: []
    }
    const digest = await client.putManifest(ref, manifest)
    expect(await client.resolveDigest(ref)).toBe(digest)
    const { stdout } = await run('skopeo', [
      'inspect',
      '--tls-verify=false',
      '--format',
      '{{.Digest}}',
      `docker://${plain.host}/plain/app:v1`
    ])
    expect(stdout.trim()).toBe(digest)
    expect(debugLines.some(line => line.includes('plain HTTP'))).toBe(true)
    expect(client.usesPlainHttp(plain.host)).toBe(true)
    expect(client.usesPlainHttp(registry.host)).toBe(false)
  })
})

describe('plain HTTP on loopback with htpasswd (a registry:2 service container with auth)', () => {
  let plain: TestRegistry
  let pushed: PushedImage
  beforeAll(async () => {
    plain = await startRegistry({ plainHttp: true, auth: { username: 'svc', password: PASSWORD } })
    pushed = await pushTestImage(plain, 'locked/app', 'v1')
  })
  afterAll(async () => plain?.stop())
  const ref = (): RegistryRef => refTo(plain.host, 'locked/app', 'v1')

  it('sends the credentials to the registry after the downgrade, for reads and for a push check', async () => {
    const client = createRegistryClient(options({ credentials: { username: 'svc', password: PASSWORD } }))
    await client.checkPushAccess(ref())
    expect(await client.resolveDigest(ref())).toBe(pushed.digest)
    expect((await client.getConfig(ref())).os).toBe('linux')
    expect(client.usesPlainHttp(plain.host)).toBe(true)
  })

  it('still says the credentials were refused when they are wrong', async () => {
    const client = createRegistryClient(options({ credentials: { username: 'svc', password: 'nope-1' } }))
    const error = await failure(client.resolveDigest(ref()))
    expect(error.status).toBe(401)
    expect(error.message).toContain('refused credentials for locked/app')
  })

  it('sends nothing in plain text off loopback (a Bearer realm or a redirect to http: elsewhere)', () => {
    expect(isPlainTextAllowed(new URL('http://auth.example.com/token'))).toBe(false)
    expect(isPlainTextAllowed(new URL('http://127.0.0.1.example.com/token'))).toBe(false)
    expect(isPlainTextAllowed(new URL('https://auth.example.com/token'))).toBe(true)
    expect(isPlainTextAllowed(new URL('http://127.0.0.1:5001/token'))).toBe(true)
    expect(isPlainTextAllowed(new URL('http://[::1]:5001/token'))).toBe(true)
  })
})
