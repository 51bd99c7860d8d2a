import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import http from 'node:http'
import https from 'node:https'
import type { IncomingHttpHeaders } from 'node:http'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { gzipSync } from 'node:zlib'

const run = promisify(execFile)

/** A real `docker-registry` (distribution 2.8) on loopback, served over HTTPS by a throw-away CA. */
export interface TestRegistry {
  /** '127.0.0.1:PORT', the registry part of image references. */
  host: string
  url: string
  caFile: string
  caPem: string
  /** The server certificate and key, for test servers that stand in front of the registry. */
  certFile: string
  keyFile: string
  /** A certs.d tree, `<certsDir>/<host>/ca.crt`: docker's /etc/docker/certs.d, containers' certs.d layout. */
  certsDir: string
  /** `<certsDir>/<host>`: what `--cert-dir` / `--src-cert-dir` of skopeo and buildah take (one registry's dir). */
  certDir: string
  username?: string
  password?: string
  stop(): Promise<void>
}

export interface StartRegistryOptions {
  /** Require htpasswd (bcrypt) basic auth with these credentials. */
  auth?: { username: string; password: string }
  /** Serve plain HTTP, as a `registry:2` service container in a GitHub workflow does. */
  plainHttp?: boolean
}

const START_TIMEOUT_MS = 15_000

/** Start a registry in a temp dir; `stop()` kills it and removes the dir. */
export async function startRegistry(options: StartRegistryOptions = {}): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'test-registry-'))
  let child: ChildProcess | undefined
  try {
    const { caFile, certFile, keyFile } = await makeCertificates(dir)
    const port = await freePort()
    const host = `127.0.0.1:${port}`
    const certsDir = join(dir, 'certs.d')
    await mkdir(join(certsDir, host), { recursive: true })
    const caPem = await readFile(caFile, 'utf8')
    await writeFile(join(certsDir, host, 'ca.crt'), caPem)

    let authConfig = ''
    if (options.auth) {
      const { stdout } = await run('htpasswd', ['-Bbn', options.auth.username, options.auth.password])
      await writeFile(join(dir, 'htpasswd'), stdout)
      authConfig = `auth:\n  htpasswd:\n    realm: test-registry\n    path: ${join(dir, 'htpasswd')}\n`
    }
    const config = [
      'version: 0.1',
      'log:',
      '  level: warn',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'data')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: ${host}`,
      '  secret: test-registry-secret',
      ...(options.plainHttp ? [] : ['  tls:', `    certificate: ${certFile}`, `    key: ${keyFile}`]),
      authConfig
    ].join('\n')
    await writeFile(join(dir, 'config.yml'), config)

    const stderr: string[] = []
    const started = spawn('docker-registry', ['serve', join(dir, 'config.yml')], {
      stdio: ['ignore', 'pipe', 'pipe']
    })
    child = started
    started.stdout?.on('data', (chunk: Buffer) => stderr.push(chunk.toString()))
    started.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk.toString()))
    const scheme = options.plainHttp ? 'http' : 'https'
    await waitUntilServing(`${scheme}://${host}/v2/`, caPem, started, stderr)

    return {
      host,
      url: `${scheme}://${host}`,
      caFile,
      caPem,
      certFile,
      keyFile,
      certsDir,
      certDir: join(certsDir, host),
      username: options.auth?.username,
      password: options.auth?.password,
      stop: async () => {
        await stopProcess(started)
        await rm(dir, { recursive: true, force: true })
      }
    }
  } catch (error) {
    if (child) await stopProcess(child)
    await rm(dir, { recursive: true, force: true })
    throw error
  }
}

/**
 * Environment for a child Node process (an action bundle) that must trust the test CA. In-process, Node reads
 * NODE_EXTRA_CA_CERTS only at start: pass `caPem` as the registry client's `ca` option instead.
 */
export function registryEnv(registry: Pick<TestRegistry, 'caFile'>): NodeJS.ProcessEnv {
  return { NODE_EXTRA_CA_CERTS: registry.caFile }
}

async function makeCertificates(dir: string): Promise<{ caFile: string; certFile: string; keyFile: string }> {
  const caFile = join(dir, 'ca.crt')
  const caKey = join(dir, 'ca.key')
  const certFile = join(dir, 'server.crt')
  const keyFile = join(dir, 'server.key')
  const csr = join(dir, 'server.csr')
  const ext = join(dir, 'server.ext')
  // EC keys: generating them takes milliseconds where RSA takes a noticeable fraction of a second.
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  await run('openssl', [
    'req', '-x509', ...newKey, '-keyout', caKey, '-out', caFile, '-days', '2', '-subj', '/CN=digest-delivery test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'
  ]) // prettier-ignore
  await run('openssl', ['req', '-new', ...newKey, '-keyout', keyFile, '-out', csr, '-subj', '/CN=127.0.0.1'])
  await writeFile(
    ext,
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n'
  )
  await run('openssl', [
    'x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-out', certFile,
    '-days', '2', '-extfile', ext
  ]) // prettier-ignore
  return { caFile, certFile, keyFile }
}

/** A port the kernel just handed out; the registry binds it right after, so a clash is unlikely. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

async function waitUntilServing(
  url: string,
  ca: string,
  child: ChildProcess,
  output: string[]
): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS
  let exited: string | undefined
  child.once('exit', (code, signal) => (exited = `exited with ${code ?? signal}`))
  child.once('error', error => (exited = `could not start: ${error.message}`))
  while (Date.now() < deadline && !exited) {
    const status = await request('GET', new URL(url), { ca }).then(
      answer => answer.status,
      () => 0
    )
    if (status === 200 || status === 401) return
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  throw new Error(
    `docker-registry did not serve ${url} ${exited ?? `within ${START_TIMEOUT_MS} ms`}:\n${output.join('')}`
  )
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  await new Promise<void>(resolve => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill('SIGTERM')
  })
}

interface RawAnswer {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
}

/** A bare HTTPS request, independent of the client under test. */
export function request(
  method: string,
  url: URL,
  options: { ca: string; headers?: Record<string, string>; body?: Buffer }
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const headers = { ...options.headers }
    if (options.body) headers['content-length'] = String(options.body.length)
    const send = url.protocol === 'http:' ? http.request : https.request
    const req = send(url, { method, headers, ca: options.ca, agent: false }, res => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) })
      )
      res.on('error', reject)
    })
    req.setTimeout(5000, () => req.destroy(new Error(`${method} ${url.href} timed out`)))
    req.on('error', reject)
    req.end(options.body)
  })
}

// ---- Pushing small real images ----

export type RegistryTarget = Pick<TestRegistry, 'host' | 'caPem' | 'username' | 'password'> &
  Partial<Pick<TestRegistry, 'url'>>

export interface PushImageOptions {
  /** Push an index over one image per platform ('linux/amd64', 'linux/arm64/v8') instead of a single image. */
  platforms?: string[]
  /** Docker schema 2 media types instead of OCI (a manifest list for `platforms`). */
  format?: 'oci' | 'docker'
  /** Text of the one file in the layer: different content gives a different digest. */
  content?: string
  /** Labels of the image config. */
  labels?: Record<string, string>
}

export interface PushedManifest {
  platform: string
  digest: string
  mediaType: string
  size: number
  configDigest: string
  layerDigest: string
  /** The exact manifest bytes pushed. */
  bytes: Buffer
}

export interface PushedImage {
  /** The digest the tag points at: the image manifest, or the index with `platforms`. */
  digest: string
  mediaType: string
  bytes: Buffer
  /** The image manifests: one for a single image, one per platform for an index. */
  images: PushedManifest[]
}

const MEDIA = {
  oci: {
    index: 'application/vnd.oci.image.index.v1+json',
    manifest: 'application/vnd.oci.image.manifest.v1+json',
    config: 'application/vnd.oci.image.config.v1+json',
    layer: 'application/vnd.oci.image.layer.v1.tar+gzip'
  },
  docker: {
    index: 'application/vnd.docker.distribution.manifest.list.v2+json',
    manifest: 'application/vnd.docker.distribution.manifest.v2+json',
    config: 'application/vnd.docker.container.image.v1+json',
    layer: 'application/vnd.docker.image.rootfs.diff.tar.gzip'
  }
}

/** Push a tiny real image (config, one gzip layer, manifest; or an index over several) through the HTTP API. */
export async function pushTestImage(
  registry: RegistryTarget,
  repository: string,
  tag: string,
  options: PushImageOptions = {}
): Promise<PushedImage> {
  const media = MEDIA[options.format ?? 'oci']
  const content = options.content ?? `hello from ${repository}:${tag}\n`
  if (!options.platforms) {
    const image = await pushImageManifest(registry, repository, tag, 'linux/amd64', content, options)
    return { digest: image.digest, mediaType: image.mediaType, bytes: image.bytes, images: [image] }
  }
  const images: PushedManifest[] = []
  for (const platform of options.platforms) {
    const image = await pushImageManifest(
      registry,
      repository,
      undefined,
      platform,
      `${content}${platform}\n`,
      options
    )
    images.push(image)
  }
  const index = {
    schemaVersion: 2,
    mediaType: media.index,
    manifests: images.map(image => ({
      mediaType: image.mediaType,
      digest: image.digest,
      size: image.size,
      platform: platformObject(image.platform)
    }))
  }
  const bytes = Buffer.from(JSON.stringify(index, null, 2))
  const digest = await putManifest(registry, repository, tag, bytes, media.index)
  return { digest, mediaType: media.index, bytes, images }
}

async function pushImageManifest(
  registry: RegistryTarget,
  repository: string,
  tag: string | undefined,
  platform: string,
  content: string,
  options: PushImageOptions
): Promise<PushedManifest> {
  const media = MEDIA[options.format ?? 'oci']
  const tar = tarFile('hello.txt', Buffer.from(content))
  const layer = gzipSync(tar)
  const { os, architecture, variant } = platformObject(platform)
  const config = Buffer.from(
    JSON.stringify({
      architecture,
      os,
      ...(variant ? { variant } : {}),
      created: '2024-01-01T00:00:00Z',
      config: { Cmd: ['/hello.txt'], Labels: options.labels ?? {} },
      rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
      history: [{ created: '2024-01-01T00:00:00Z', created_by: 'pushTestImage' }]
    })
  )
  const layerDigest = await putBlob(registry, repository, layer)
  const configDigest = await putBlob(registry, repository, config)
  const manifest = {
    schemaVersion: 2,
    mediaType: media.manifest,
    config: { mediaType: media.config, digest: configDigest, size: config.length },
    layers: [{ mediaType: media.layer, digest: layerDigest, size: layer.length }]
  }
  const bytes = Buffer.from(JSON.stringify(manifest, null, 2))
  const digest = await putManifest(registry, repository, tag ?? sha256(bytes), bytes, media.manifest)
  return { platform, digest, mediaType: media.manifest, size: bytes.length, configDigest, layerDigest, bytes }
}

function platformObject(platform: string): { os: string; architecture: string; variant?: string } {
  const [os = 'linux', architecture = 'amd64', variant] = platform.split('/')
  return variant ? { os, architecture, variant } : { os, architecture }
}

/** The registry's own URL (plain HTTP for a `plainHttp` registry), else HTTPS to its host. */
function baseUrl(registry: RegistryTarget): string {
  return registry.url ?? `https://${registry.host}`
}

function authHeaders(registry: RegistryTarget): Record<string, string> {
  if (!registry.username || registry.password === undefined) return {}
  const encoded = Buffer.from(`${registry.username}:${registry.password}`).toString('base64')
  return { authorization: `Basic ${encoded}` }
}

async function putBlob(registry: RegistryTarget, repository: string, blob: Buffer): Promise<string> {
  const digest = sha256(blob)
  const base = `${baseUrl(registry)}/v2/${repository}/blobs/`
  const headers = authHeaders(registry)
  const started = await request('POST', new URL('uploads/', base), { ca: registry.caPem, headers })
  if (started.status !== 202)
    throw new Error(`starting an upload to ${repository}: ${describeAnswer(started)}`)
  const location = new URL(String(started.headers.location), base)
  location.searchParams.set('digest', digest)
  const put = await request('PUT', location, {
    ca: registry.caPem,
    headers: { ...headers, 'content-type': 'application/octet-stream' },
    body: blob
  })
  if (put.status !== 201) throw new Error(`uploading ${digest} to ${repository}: ${describeAnswer(put)}`)
  return digest
}

async function putManifest(
  registry: RegistryTarget,
  repository: string,
  reference: string,
  bytes: Buffer,
  mediaType: string
): Promise<string> {
  const url = new URL(`${baseUrl(registry)}/v2/${repository}/manifests/${reference}`)
  const answer = await request('PUT', url, {
    ca: registry.caPem,
    headers: { ...authHeaders(registry), 'content-type': mediaType },
    body: bytes
  })
  if (answer.status !== 201)
    throw new Error(`putting manifest ${repository}:${reference}: ${describeAnswer(answer)}`)
  const digest = sha256(bytes)
  if (answer.headers['docker-content-digest'] !== digest) {
    throw new Error(`registry stored ${String(answer.headers['docker-content-digest'])}, expected ${digest}`)
  }
  return digest
}

function describeAnswer(answer: RawAnswer): string {
  return `${answer.status} ${answer.body.toString('utf8').slice(0, 300)}`
}

/** sha256 digest of bytes, as 'sha256:<hex>'. */
export function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`
}

/** A ustar archive holding one regular file: enough for a layer, with no tar binary involved. */
function tarFile(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512)
  const field = (value: string, offset: number, length: number): void => {
    header.write(value, offset, length, 'ascii')
  }
  const octal = (value: number, length: number): string => value.toString(8).padStart(length - 1, '0') + '\0'
  field(name, 0, 100)
  field(octal(0o644, 8), 100, 8)
  field(octal(0, 8), 108, 8)
  field(octal(0, 8), 116, 8)
  field(octal(content.length, 12), 124, 12)
  field(octal(1704067200, 12), 136, 12)
  field('        ', 148, 8)
  field('0', 156, 1)
  field('ustar\0', 257, 6)
  field('00', 263, 2)
  let sum = 0
  for (const byte of header) sum += byte
  field(octal(sum, 7) + ' ', 148, 8)
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512)
  return Buffer.concat([header, content, padding, Buffer.alloc(1024)])
}
