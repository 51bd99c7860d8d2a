import { createHash } from 'node:crypto'
import { STATUS_CODES } from 'node:http'
import { jitteredBackoff } from '../backoff.js'
import { ConfigurationError, ExternalError } from '../errors.js'
import { DOCKER_HUB, parseDigest, type ImageRef } from '../image-ref.js'
import {
  parseAuthenticate,
  readDockerConfigCredentials,
  type AuthChallenge,
  type Credentials,
  type CredentialsResolver
} from './auth.js'
import {
  createHttpSend,
  fallsBackToHttp,
  TransportError,
  type HttpRequest,
  type HttpResponse,
  type HttpSend
} from './http.js'
import {
  isImageManifestMediaType,
  isIndexMediaType,
  MANIFEST_ACCEPT,
  OCI_INDEX,
  OCI_MANIFEST
} from './media-types.js'

/** The parts of an image reference the client needs. */
export type RegistryRef = Pick<ImageRef, 'registry' | 'repository' | 'tag' | 'digest'>

export interface RegistryClientOptions {
  /** An object is sent to every registry this client talks to; a resolver chooses per host. Else the Docker config. */
  credentials?: Credentials | CredentialsResolver
  /** A PEM CA to trust besides the system ones (a private registry, a test registry). */
  ca?: string | Buffer
  userAgent?: string
  /** Retries after the first attempt on 5xx, 429, timeouts and dropped connections (default 3). */
  retries?: number
  /** Idle time allowed per request before it counts as failed (default 30 s). */
  timeoutMs?: number
  /** Time allowed for one whole request, however slowly its answer trickles in (default 5 min). */
  deadlineMs?: number
  /** Injected by tests to make backoff instant. */
  sleep?: (ms: number) => Promise<void>
  /** Receives progress lines (retries); never secrets. */
  debug?: (message: string) => void
  /** Where to find DOCKER_CONFIG (default process.env). */
  env?: NodeJS.ProcessEnv
}

export interface Platform {
  architecture: string
  os: string
  variant?: string
  'os.version'?: string
}

export interface Descriptor {
  mediaType: string
  digest: string
  size: number
  platform?: Platform
  annotations?: Record<string, string>
  artifactType?: string
}

export interface ManifestJson {
  schemaVersion: number
  mediaType?: string
  artifactType?: string
  config?: Descriptor
  layers?: Descriptor[]
  manifests?: Descriptor[]
  subject?: Descriptor
  annotations?: Record<string, string>
}

export interface Manifest {
  digest: string
  mediaType: string
  /** The exact bytes served; the digest is of these, never of a re-serialisation. */
  bytes: Buffer
  json: ManifestJson
}

/** An image config blob (OCI image-spec config), as far as callers read it. */
export interface ImageConfigJson {
  architecture?: string
  os?: string
  variant?: string
  created?: string
  config?: { Labels?: Record<string, string> | null; [key: string]: unknown }
  rootfs?: { type: string; diff_ids: string[] }
  [key: string]: unknown
}

export interface PlatformManifest {
  /** 'os/architecture[/variant]', e.g. 'linux/arm64/v8'. */
  platform: string
  digest: string
  mediaType: string
  size: number
}

/** The operations the actions need from an OCI distribution registry. */
export interface RegistryClient {
  /** The digest a tag points at (HEAD, falling back to GET); a digest reference is fetched and verified. */
  resolveDigest(ref: RegistryRef): Promise<string>
  /** The manifest or index, with its bytes checked against the requested or served digest. */
  getManifest(ref: RegistryRef): Promise<Manifest>
  /** A blob of the repository, checked against its digest. */
  getBlob(ref: RegistryRef, digest: string): Promise<Buffer>
  /** The parsed image config; for an index, `platform` ('linux/amd64') chooses the image. */
  getConfig(ref: RegistryRef, platform?: string): Promise<ImageConfigJson>
  /** Fails with a RegistryError unless the credentials may push to the repository (starts and cancels an upload). */
  checkPushAccess(ref: RegistryRef): Promise<void>
  /** Upload a blob unless the repository has it; returns its digest and size. */
  putBlob(ref: RegistryRef, bytes: Buffer): Promise<{ digest: string; size: number }>
  /** Put a manifest under the ref's tag (or its digest); returns the manifest digest. */
  putManifest(ref: RegistryRef, manifest: Buffer | ManifestJson, mediaType?: string): Promise<string>
  /**
   * Put an OCI 1.1 artifact manifest (one with a `subject`) by its digest; `subjectIndexed` is true when the registry
   * answers `OCI-Subject`, i.e. it keeps the subject's referrers itself and no referrers tag is needed.
   */
  putReferrer(ref: RegistryRef, manifest: ManifestJson): Promise<{ digest: string; subjectIndexed: boolean }>
  /**
   * The OCI 1.1 referrers index of `ref.digest`, filtered by `artifactType` when given (the registry may ignore the
   * filter); undefined when the registry has no referrers API (it answers 404).
   */
  getReferrers(ref: RegistryRef, artifactType?: string): Promise<ManifestJson | undefined>
  /** True once `registry` (a loopback one) was found to speak plain HTTP: builders must then push without TLS. */
  usesPlainHttp(registry: string): boolean
}

/** A registry answered with an error or could not be reached; `status` is the HTTP status when there was one. */
export class RegistryError extends ExternalError {
  override name = 'RegistryError'
  readonly registry: string
  readonly repository: string
  readonly status?: number

  constructor(message: string, details: { registry: string; repository: string; status?: number }) {
    super(message)
    this.registry = details.registry
    this.repository = details.repository
    this.status = details.status
  }

  /** True when the registry does not have the manifest or blob (404): "no such tag" for callers. */
  get notFound(): boolean {
    return this.status === 404
  }
}

/** Create a client; nothing is contacted until an operation runs. */
export function createRegistryClient(options: RegistryClientOptions = {}): RegistryClient {
  return new DistributionClient(options)
}

/** The platform images of an index, leaving out attestation entries (buildx marks them 'unknown/unknown'). */
export function platformManifests(manifest: Pick<Manifest, 'mediaType' | 'json'>): PlatformManifest[] {
  if (!isIndexMediaType(manifest.mediaType)) return []
  const entries: PlatformManifest[] = []
  for (const descriptor of manifest.json.manifests ?? []) {
    const platform = descriptor.platform
    if (!platform || platform.os === 'unknown' || platform.architecture === 'unknown') continue
    if (descriptor.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest') continue
    entries.push({
      platform: formatPlatform(platform),
      digest: descriptor.digest,
      mediaType: descriptor.mediaType,
      size: descriptor.size
    })
  }
  return entries
}

/** The digest of `bytes` with the algorithm of `like` ('sha256:…' or 'sha512:…'), sha256 by default. */
export function computeDigest(bytes: Buffer, like = 'sha256:'): string {
  const algorithm = like.slice(0, like.indexOf(':'))
  if (algorithm !== 'sha256' && algorithm !== 'sha512') {
    throw new ConfigurationError(`digest algorithm '${algorithm}' is not supported: use sha256 or sha512`)
  }
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`
}

const MAX_MANIFEST_BYTES = 4 * 1024 * 1024
const MAX_TOKEN_BYTES = 1024 * 1024
const MAX_REDIRECTS = 5
const MAX_RETRY_AFTER_MS = 30_000
const BACKOFF_BASE_MS = 1000
const BACKOFF_MAX_MS = 15_000
const DIGEST_HEADER = 'docker-content-digest'

interface Exchange {
  ref: RegistryRef
  push: boolean
  /** What the request is about, for messages: 'app/web:v1', 'blob sha256:… of app/web'. */
  subject: string
  /** What the client was doing, for messages: 'resolve', 'get', 'upload'. */
  verb: string
  method: string
  url: URL
  headers?: Record<string, string>
  body?: Buffer
  maxBytes?: number
}

interface Answer extends HttpResponse {
  attempts: number
}

class DistributionClient implements RegistryClient {
  private readonly send: HttpSend
  private readonly retries: number
  private readonly sleep: (ms: number) => Promise<void>
  private readonly debug: (message: string) => void
  private readonly userAgent: string
  private readonly secrets = new Set<string>()
  private readonly credentials = new Map<string, Promise<Credentials | undefined>>()
  private readonly challenges = new Map<string, AuthChallenge>()
  private readonly tokens = new Map<string, { token: string; expiresAt: number }>()
  /** Loopback registries found to speak plain HTTP (as a `registry:2` service container does). */
  private readonly plainHttp = new Set<string>()

  constructor(private readonly options: RegistryClientOptions) {
    this.send = createHttpSend({
      ca: options.ca,
      timeoutMs: options.timeoutMs ?? 30_000,
      deadlineMs: options.deadlineMs ?? 300_000
    })
    this.retries = Math.max(0, options.retries ?? 3)
    this.sleep = options.sleep ?? (ms => new Promise(resolve => setTimeout(resolve, ms)))
    this.debug = options.debug ?? (() => {})
    this.userAgent = options.userAgent ?? 'digest-delivery'
  }

  async resolveDigest(ref: RegistryRef): Promise<string> {
    if (ref.digest) return (await this.getManifest(ref)).digest
    const op = this.manifestExchange(ref, 'resolve', 'HEAD')
    // HEAD first: Docker Hub does not count it against the pull rate limit.
    const answer = await this.exchange(op)
    const served = header(answer, DIGEST_HEADER)
    if (answer.status === 200 && served && isSupportedDigest(served)) return served
    if (answer.status !== 200 && ![400, 405, 501].includes(answer.status)) throw this.fail(op, answer)
    return (await this.getManifest(ref)).digest
  }

  async getManifest(ref: RegistryRef): Promise<Manifest> {
    const op = this.manifestExchange(ref, 'get', 'GET')
    const answer = await this.exchange(op)
    if (answer.status !== 200) throw this.fail(op, answer)
    const bytes = answer.body
    const digest = this.verifyDigest(op, bytes, ref.digest, header(answer, DIGEST_HEADER))
    const json = this.parseJson(op, bytes) as ManifestJson
    const contentType = header(answer, 'content-type')?.split(';')[0]?.trim()
    const mediaType = typeof json.mediaType === 'string' ? json.mediaType : contentType
    if (!mediaType) throw this.error(op, `served ${op.subject} without a media type`)
    return { digest, mediaType, bytes, json }
  }

  async getBlob(ref: RegistryRef, digest: string): Promise<Buffer> {
    parseDigest(digest)
    const op = this.exchangeFor(ref, 'get', 'GET', `blobs/${digest}`, `blob ${digest} of ${ref.repository}`)
    const answer = await this.exchange(op)
    if (answer.status !== 200) throw this.fail(op, answer)
    this.verifyDigest(op, answer.body, digest, undefined)
    return answer.body
  }

  async getConfig(ref: RegistryRef, platform?: string): Promise<ImageConfigJson> {
    let manifest = await this.getManifest(ref)
    if (isIndexMediaType(manifest.mediaType)) {
      const available = platformManifests(manifest)
      const names = available.map(entry => entry.platform).join(', ')
      if (!platform) {
        throw new ConfigurationError(
          `${formatSubject(ref)} is a multi-platform index (${names}): name the platform whose config to read`
        )
      }
      const entry =
        available.find(candidate => candidate.platform === platform) ??
        available.find(candidate => candidate.platform.startsWith(`${platform}/`))
      if (!entry) {
        throw new RegistryError(
          `registry ${ref.registry} has no ${platform} image in ${formatSubject(ref)} (it has ${names || 'none'})`,
          { registry: ref.registry, repository: ref.repository, status: 404 }
        )
      }
      manifest = await this.getManifest({ ...ref, tag: undefined, digest: entry.digest })
    }
    const config = manifest.json.config
    if (!isImageManifestMediaType(manifest.mediaType) || !config) {
      throw new RegistryError(
        `registry ${ref.registry} served ${formatSubject(ref)} as ${manifest.mediaType}, which is not an image manifest`,
        { registry: ref.registry, repository: ref.repository }
      )
    }
    const bytes = await this.getBlob(ref, config.digest)
    return this.parseJson(
      { ref, subject: `config ${config.digest} of ${ref.repository}` },
      bytes
    ) as ImageConfigJson
  }

  async checkPushAccess(ref: RegistryRef): Promise<void> {
    const start = this.exchangeFor(ref, 'start an upload to', 'POST', 'blobs/uploads/', ref.repository, true)
    start.body = Buffer.alloc(0)
    const started = await this.exchange(start)
    if (started.status !== 202) throw this.fail(start, started)
    const location = header(started, 'location')
    if (!location) return
    // Cancelling is a courtesy: the registry expires abandoned uploads anyway.
    const cancel: Exchange = {
      ...start,
      verb: 'cancel an upload to',
      method: 'DELETE',
      url: new URL(location, start.url)
    }
    cancel.body = undefined
    try {
      const cancelled = await this.exchange(cancel)
      if (cancelled.status >= 300) {
        this.debug(`registry ${ref.registry}: cancelling the test upload answered ${cancelled.status}`)
      }
    } catch (error) {
      this.debug(`registry ${ref.registry}: cancelling the test upload failed: ${(error as Error).message}`)
    }
  }

  async putBlob(ref: RegistryRef, bytes: Buffer): Promise<{ digest: string; size: number }> {
    const digest = computeDigest(bytes)
    const subject = `blob ${digest} of ${ref.repository}`
    const result = { digest, size: bytes.length }
    const exists = (): Promise<Answer> =>
      this.exchange(this.exchangeFor(ref, 'check', 'HEAD', `blobs/${digest}`, subject, true))
    const head = await exists()
    if (head.status === 200) return result

    const start = this.exchangeFor(ref, 'upload', 'POST', 'blobs/uploads/', subject, true)
    start.body = Buffer.alloc(0)
    const started = await this.exchange(start)
    const location = header(started, 'location')
    if (started.status !== 202) throw this.fail(start, started)
    if (!location) throw this.error(start, `answered the upload of ${subject} without a Location`)

    const url = new URL(location, start.url)
    url.searchParams.set('digest', digest)
    const put: Exchange = { ...start, method: 'PUT', url, body: bytes }
    put.headers = { 'content-type': 'application/octet-stream' }
    const finished = await this.exchange(put)
    if (finished.status === 201) return result
    // A retried PUT finds its upload already completed and gone: the blob is there.
    if (finished.status === 404 && finished.attempts > 1 && (await exists()).status === 200) return result
    throw this.fail(put, finished)
  }

  async putManifest(ref: RegistryRef, manifest: Buffer | ManifestJson, mediaType?: string): Promise<string> {
    const bytes = Buffer.isBuffer(manifest) ? manifest : Buffer.from(JSON.stringify(manifest))
    const json = Buffer.isBuffer(manifest) ? undefined : manifest
    const type = mediaType ?? json?.mediaType ?? mediaTypeOf(bytes)
    if (!type) {
      throw new ConfigurationError('putManifest needs a media type: the manifest has no mediaType field')
    }
    const digest = computeDigest(bytes, ref.digest ?? 'sha256:')
    if (ref.digest && digest !== ref.digest) {
      throw new ConfigurationError(
        `the manifest bytes hash to ${digest}, not to ${ref.digest} as the reference says`
      )
    }
    const reference = ref.tag ?? digest
    const op = this.exchangeFor(ref, 'put', 'PUT', `manifests/${reference}`, formatSubject(ref), true)
    op.headers = { 'content-type': type }
    op.body = bytes
    const answer = await this.exchange(op)
    if (answer.status !== 201 && answer.status !== 200) throw this.fail(op, answer)
    return digest
  }

  async putReferrer(
    ref: RegistryRef,
    manifest: ManifestJson
  ): Promise<{ digest: string; subjectIndexed: boolean }> {
    const subject = manifest.subject?.digest
    if (!subject) throw new ConfigurationError('putReferrer needs a manifest with a subject')
    const bytes = Buffer.from(JSON.stringify(manifest))
    const digest = computeDigest(bytes)
    const type = manifest.mediaType ?? OCI_MANIFEST
    const target = { ...ref, tag: undefined, digest }
    const op = this.exchangeFor(target, 'put', 'PUT', `manifests/${digest}`, formatSubject(target), true)
    op.headers = { 'content-type': type }
    op.body = bytes
    const answer = await this.exchange(op)
    if (answer.status !== 201 && answer.status !== 200) throw this.fail(op, answer)
    return { digest, subjectIndexed: header(answer, 'oci-subject') === subject }
  }

  async getReferrers(ref: RegistryRef, artifactType?: string): Promise<ManifestJson | undefined> {
    const digest = parseDigest(ref.digest ?? '')
    const query = artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : ''
    const subject = `referrers of ${ref.repository}@${digest}`
    const op = this.exchangeFor(ref, 'list', 'GET', `referrers/${digest}${query}`, subject)
    op.headers = { accept: OCI_INDEX }
    op.maxBytes = MAX_MANIFEST_BYTES
    const answer = await this.exchange(op)
    // A registry with the API never answers 404 for it (OCI distribution-spec 1.1): 404 means no API.
    if ([404, 405, 501].includes(answer.status)) return undefined
    if (answer.status !== 200) throw this.fail(op, answer)
    const json = this.parseJson(op, answer.body) as ManifestJson
    if (!Array.isArray(json.manifests)) throw this.error(op, `served the ${subject} without a manifests list`)
    return json
  }

  private manifestExchange(ref: RegistryRef, verb: string, method: string): Exchange {
    const reference = ref.digest ?? ref.tag
    if (!reference) {
      throw new ConfigurationError(
        `${formatSubject(ref)} has neither a tag nor a digest: add ':<tag>' or '@sha256:…'`
      )
    }
    const op = this.exchangeFor(ref, verb, method, `manifests/${reference}`, formatSubject(ref))
    op.headers = { accept: MANIFEST_ACCEPT }
    op.maxBytes = MAX_MANIFEST_BYTES
    return op
  }

  private exchangeFor(
    ref: RegistryRef,
    verb: string,
    method: string,
    path: string,
    subject: string,
    push = false
  ): Exchange {
    const url = new URL(`/v2/${ref.repository}/${path}`, this.origin(ref.registry))
    return { ref, push, subject, verb, method, url }
  }

  /** One request with authentication: answers 401 by following the challenge once. */
  private async exchange(op: Exchange): Promise<Answer> {
    const host = op.ref.registry
    const scope = `repository:${op.ref.repository}:${op.push ? 'pull,push' : 'pull'}`
    const sent = await this.authorization(op, scope, false)
    const answer = await this.sendFollowing(op, sent)
    if (answer.status !== 401) return answer

    const challenge = chooseChallenge(header(answer, 'www-authenticate'))
    if (!challenge) {
      throw this.error(
        op,
        `requires authentication for ${op.ref.repository} (401 Unauthorized) but names no scheme`,
        401
      )
    }
    const credentials = await this.credentialsFor(host)
    if (challenge.scheme === 'basic' && (sent?.startsWith('Basic ') || !credentials)) {
      throw this.authFailure(op, answer, credentials !== undefined)
    }
    this.challenges.set(host, challenge)
    const retried = await this.sendFollowing(op, await this.authorization(op, scope, true))
    if (retried.status === 401) throw this.authFailure(op, retried, credentials !== undefined)
    return retried
  }

  private async authorization(op: Exchange, scope: string, refresh: boolean): Promise<string | undefined> {
    const host = op.ref.registry
    const challenge = this.challenges.get(host)
    if (!challenge) return undefined
    const credentials = await this.credentialsFor(host)
    if (challenge.scheme === 'basic') return credentials ? this.basic(credentials) : undefined
    const key = `${host} ${scope}`
    const cached = this.tokens.get(key)
    if (!refresh && cached && cached.expiresAt > Date.now()) return `Bearer ${cached.token}`
    const token = await this.fetchToken(op, challenge, scope, credentials)
    this.tokens.set(key, token)
    return `Bearer ${token.token}`
  }

  private async fetchToken(
    op: Exchange,
    challenge: AuthChallenge,
    scope: string,
    credentials: Credentials | undefined
  ): Promise<{ token: string; expiresAt: number }> {
    const realm = challenge.params.realm
    let url: URL
    try {
      url = new URL(realm ?? '')
    } catch {
      throw this.error(op, `sent a Bearer challenge without a usable realm URL (${realm ?? 'none'})`)
    }
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service)
    url.searchParams.set('scope', scope)
    const headers: Record<string, string> = { 'user-agent': this.userAgent, accept: 'application/json' }
    if (credentials) headers.authorization = this.basic(credentials)
    const request = { method: 'GET', url, headers, maxBytes: MAX_TOKEN_BYTES }
    const answer = await this.sendWithRetry(request, op, `token service ${url.host}`)
    if (answer.status === 401 || answer.status === 403) {
      throw this.authFailure(op, answer, credentials !== undefined, `token service ${url.host}`)
    }
    if (answer.status !== 200) throw this.fail(op, answer, `token service ${url.host}`)
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown }
    try {
      body = JSON.parse(answer.body.toString('utf8')) as typeof body
    } catch {
      throw this.error(op, `token service ${url.host} answered with something other than JSON`)
    }
    const token = typeof body.token === 'string' ? body.token : body.access_token
    if (typeof token !== 'string' || token === '') {
      throw this.error(op, `token service ${url.host} answered without a token`)
    }
    this.secrets.add(token)
    // Tokens live 60 s unless the service says otherwise; renew a little early.
    const lifetime = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60
    return { token, expiresAt: Date.now() + lifetime * 900 }
  }

  private basic(credentials: Credentials): string {
    const encoded = Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')
    this.secrets.add(encoded)
    return `Basic ${encoded}`
  }

  private credentialsFor(host: string): Promise<Credentials | undefined> {
    let pending = this.credentials.get(host)
    if (!pending) {
      pending = this.lookUpCredentials(host)
      this.credentials.set(host, pending)
    }
    return pending
  }

  private async lookUpCredentials(host: string): Promise<Credentials | undefined> {
    const given = this.options.credentials
    const found =
      (typeof given === 'function' ? await given(host) : given) ??
      (await readDockerConfigCredentials(host, this.options.env ?? process.env))
    if (found?.password) this.secrets.add(found.password)
    return found
  }

  /** Follows redirects of reads; Authorization goes only to the registry's own origin, never to blob storage. */
  private async sendFollowing(op: Exchange, authorization: string | undefined): Promise<Answer> {
    let url = op.url
    for (let hop = 0; ; hop++) {
      // The URL and the origin both after any downgrade: else the header is dropped as if sent elsewhere.
      url = this.withKnownScheme(url)
      const origin = this.origin(op.ref.registry)
      const headers: Record<string, string> = { 'user-agent': this.userAgent, ...op.headers }
      if (authorization && url.origin === origin) headers.authorization = authorization
      const request: HttpRequest = { method: op.method, url, headers, body: op.body, maxBytes: op.maxBytes }
      const answer = await this.sendWithRetry(request, op)
      const location = header(answer, 'location')
      const redirected = [301, 302, 303, 307, 308].includes(answer.status)
      if (!redirected || !location || hop >= MAX_REDIRECTS || !['GET', 'HEAD'].includes(op.method)) {
        return answer
      }
      url = new URL(location, url)
    }
  }

  private async sendWithRetry(request: HttpRequest, op: Exchange, target?: string): Promise<Answer> {
    const attempts = this.retries + 1
    for (let attempt = 1; ; attempt++) {
      let reason: string
      let delay = backoff(attempt)
      try {
        const answer = await this.send(request)
        if (!isRetryableStatus(answer.status) || attempt >= attempts) return { ...answer, attempts: attempt }
        reason = `${answer.status} ${STATUS_CODES[answer.status] ?? ''}`.trim()
        delay = retryAfter(header(answer, 'retry-after')) ?? delay
      } catch (error) {
        if (!(error instanceof TransportError)) throw error
        if (fallsBackToHttp(request.url, error)) {
          this.plainHttp.add(request.url.host)
          this.debug(
            `registry ${request.url.host} does not speak TLS; it is on loopback, so plain HTTP is used`
          )
          request = { ...request, url: new URL(request.url.href.replace(/^https:/, 'http:')) }
          attempt--
          continue
        }
        if (!error.retryable || attempt >= attempts) {
          const tries = attempt > 1 ? ` (${attempt} attempts)` : ''
          throw this.error(
            op,
            `could not be reached to ${op.verb} ${op.subject}: ${error.message} (${error.code})${tries}`,
            undefined,
            target
          )
        }
        reason = error.code
      }
      this.debug(
        this.redact(
          `${target ?? `registry ${op.ref.registry}`}: ${request.method} for ${op.subject} failed with ${reason}; ` +
            `retrying in ${delay} ms (attempt ${attempt + 1} of ${attempts})`
        )
      )
      await this.sleep(delay)
    }
  }

  usesPlainHttp(registry: string): boolean {
    return this.plainHttp.has(registry)
  }

  private withKnownScheme(url: URL): URL {
    return url.protocol === 'https:' && this.plainHttp.has(url.host)
      ? new URL(url.href.replace(/^https:/, 'http:'))
      : url
  }

  private origin(registry: string): string {
    const origin = registryOrigin(registry)
    return this.plainHttp.has(registry) ? origin.replace(/^https:/, 'http:') : origin
  }

  private verifyDigest(
    op: Pick<Exchange, 'ref' | 'subject'>,
    bytes: Buffer,
    expected: string | undefined,
    served: string | undefined
  ): string {
    if (expected) {
      const actual = computeDigest(bytes, expected)
      if (actual !== expected) {
        throw this.error(op, `served content for ${op.subject} that hashes to ${actual}, not ${expected}`)
      }
      return expected
    }
    if (served && isSupportedDigest(served)) {
      const actual = computeDigest(bytes, served)
      if (actual !== served) {
        throw this.error(op, `served ${op.subject} as ${served} but its bytes hash to ${actual}`)
      }
      return served
    }
    return computeDigest(bytes)
  }

  private parseJson(op: Pick<Exchange, 'ref' | 'subject'>, bytes: Buffer): unknown {
    try {
      const value: unknown = JSON.parse(bytes.toString('utf8'))
      if (typeof value === 'object' && value !== null) return value
    } catch {
      // reported below
    }
    throw this.error(op, `served ${op.subject} that is not a JSON object`)
  }

  private authFailure(
    op: Exchange,
    answer: HttpResponse,
    hadCredentials: boolean,
    target?: string
  ): RegistryError {
    const status = statusText(answer.status)
    const repository = op.ref.repository
    const message = hadCredentials
      ? `refused credentials for ${repository} (${status}): check registry-username / registry-password`
      : `requires credentials for ${repository} (${status}): set registry-username / registry-password or run docker login`
    return this.error(op, message, answer.status, target)
  }

  /** The error for an unexpected status, worded by what the status means to the caller. */
  private fail(op: Exchange, answer: Answer, target?: string): RegistryError {
    const status = statusText(answer.status)
    const detail = errorDetail(answer.body)
    if (answer.status === 401) return this.authFailure(op, answer, true, target)
    if (answer.status === 403) {
      const access = op.push ? 'push' : 'pull'
      return this.error(
        op,
        `denied ${access} access to ${op.ref.repository} (${status})${detail}: check that the credentials may ${access}`,
        403,
        target
      )
    }
    if (answer.status === 404)
      return this.error(op, `does not have ${op.subject} (${status})${detail}`, 404, target)
    const tries = answer.attempts > 1 ? ` after ${answer.attempts} attempts` : ''
    return this.error(
      op,
      `answered ${status} to ${op.verb} ${op.subject}${detail}${tries}`,
      answer.status,
      target
    )
  }

  private error(op: Pick<Exchange, 'ref'>, text: string, status?: number, target?: string): RegistryError {
    const who = target ? `registry ${op.ref.registry} ${target}` : `registry ${op.ref.registry}`
    return new RegistryError(this.redact(`${who} ${text}`), {
      registry: op.ref.registry,
      repository: op.ref.repository,
      status
    })
  }

  private redact(text: string): string {
    let result = text
    for (const secret of this.secrets) if (secret !== '') result = result.split(secret).join('***')
    return result
  }
}

/** Docker Hub's API lives on another host than the name people write. */
function registryOrigin(registry: string): string {
  return `https://${registry === DOCKER_HUB ? 'registry-1.docker.io' : registry}`
}

function formatSubject(ref: RegistryRef): string {
  return `${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`
}

function formatPlatform(platform: Platform): string {
  return `${platform.os}/${platform.architecture}${platform.variant ? `/${platform.variant}` : ''}`
}

function header(answer: HttpResponse, name: string): string | undefined {
  const value = answer.headers[name]
  return Array.isArray(value) ? value[0] : value
}

function isSupportedDigest(value: string): boolean {
  return /^sha256:[a-f0-9]{64}$/.test(value) || /^sha512:[a-f0-9]{128}$/.test(value)
}

function mediaTypeOf(bytes: Buffer): string | undefined {
  try {
    const value = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType
    return typeof value === 'string' ? value : undefined
  } catch {
    return undefined
  }
}

/** Prefer Bearer: registries that offer both give scoped tokens that way. */
function chooseChallenge(value: string | undefined): AuthChallenge | undefined {
  const challenges = parseAuthenticate(value ?? '')
  return challenges.find(c => c.scheme === 'bearer') ?? challenges.find(c => c.scheme === 'basic')
}

// 501 and 505 say the server will never do it, so waiting does not help.
function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status !== 501 && status !== 505)
}

function backoff(attempt: number): number {
  return jitteredBackoff(attempt, BACKOFF_BASE_MS, BACKOFF_MAX_MS)
}

function retryAfter(value: string | undefined): number | undefined {
  if (!value) return undefined
  const seconds = /^\d+$/.test(value.trim()) ? Number(value.trim()) * 1000 : Date.parse(value) - Date.now()
  if (Number.isNaN(seconds)) return undefined
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, seconds))
}

function statusText(status: number): string {
  return `${status} ${STATUS_CODES[status] ?? ''}`.trim()
}

/** The registry's own error code and message (`{"errors":[{"code","message"}]}`), kept short. */
function errorDetail(body: Buffer): string {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as {
      errors?: Array<{ code?: unknown; message?: unknown }>
    }
    const first = parsed.errors?.[0]
    if (!first) return ''
    const text = [first.code, first.message]
      .filter(part => typeof part === 'string' && part !== '')
      .join(': ')
    return text === '' ? '' : ` [${text.slice(0, 200)}]`
  } catch {
    return ''
  }
}
