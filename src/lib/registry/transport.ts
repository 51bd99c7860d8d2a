import { STATUS_CODES } from 'node:http'
import { jitteredBackoff } from '../backoff.js'
import { ExternalError } from '../errors.js'
import { DOCKER_HUB, type ImageRef } from '../image-ref.js'
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

// The distribution API's transport: authentication (basic, and bearer with a token cache), redirects, retries with
// backoff and Retry-After, the plain-HTTP downgrade for loopback registries, and errors free of secrets. What the
// requests mean (manifests, blobs, digests) is the client's business, in client.ts.

/** The parts of an image reference the client needs. */
export type RegistryRef = Pick<ImageRef, 'registry' | 'repository' | 'tag' | 'digest'>

export interface TransportOptions {
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

/** One request of an operation, and what it is about (for messages). */
export interface Exchange {
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

export interface Answer extends HttpResponse {
  attempts: number
}

const MAX_TOKEN_BYTES = 1024 * 1024
const MAX_REDIRECTS = 5
const MAX_RETRY_AFTER_MS = 30_000
const BACKOFF_BASE_MS = 1000
const BACKOFF_MAX_MS = 15_000

/** Sends the client's requests: one instance per client, holding its credentials, tokens and what it learnt. */
export class RegistryTransport {
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

  constructor(private readonly options: TransportOptions) {
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

  /** An exchange for `/v2/<repository>/<path>` of the ref's registry. */
  prepare(
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

  /** True once `registry` (a loopback one) was found to speak plain HTTP. */
  usesPlainHttp(registry: string): boolean {
    return this.plainHttp.has(registry)
  }

  /** One request with authentication: answers 401 by following the challenge once. */
  async exchange(op: Exchange): Promise<Answer> {
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

  /** The error for an unexpected status, worded by what the status means to the caller. */
  fail(op: Exchange, answer: Answer, target?: string): RegistryError {
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

  /** An error about the ref's registry, with every secret this transport has seen taken out. */
  error(op: Pick<Exchange, 'ref'>, text: string, status?: number, target?: string): RegistryError {
    const who = target ? `registry ${op.ref.registry} ${target}` : `registry ${op.ref.registry}`
    return new RegistryError(this.redact(`${who} ${text}`), {
      registry: op.ref.registry,
      repository: op.ref.repository,
      status
    })
  }

  /** Progress for the debug log, redacted. */
  note(message: string): void {
    this.debug(this.redact(message))
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
      this.note(
        `${target ?? `registry ${op.ref.registry}`}: ${request.method} for ${op.subject} failed with ${reason}; ` +
          `retrying in ${delay} ms (attempt ${attempt + 1} of ${attempts})`
      )
      await this.sleep(delay)
    }
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

  private redact(text: string): string {
    let result = text
    for (const secret of this.secrets) if (secret !== '') result = result.split(secret).join('***')
    return result
  }
}

/** The first value of a response header. */
export function header(answer: HttpResponse, name: string): string | undefined {
  const value = answer.headers[name]
  return Array.isArray(value) ? value[0] : value
}

/** Docker Hub's API lives on another host than the name people write. */
function registryOrigin(registry: string): string {
  return `https://${registry === DOCKER_HUB ? 'registry-1.docker.io' : registry}`
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
