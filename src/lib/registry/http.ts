import http, { type IncomingHttpHeaders } from 'node:http'
import https from 'node:https'
import { rootCertificates } from 'node:tls'

export interface HttpRequest {
  method: string
  url: URL
  headers: Record<string, string>
  body?: Buffer
  /** Larger responses are cut off with an error instead of filling memory. */
  maxBytes?: number
}

export interface HttpResponse {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
}

export type HttpSend = (request: HttpRequest) => Promise<HttpResponse>

/** A failure below HTTP (refused, reset, timed out, TLS); `retryable` says whether trying again can help. */
export class TransportError extends Error {
  override name = 'TransportError'
  constructor(
    message: string,
    readonly code: string,
    readonly retryable: boolean
  ) {
    super(message)
  }
}

const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN'
])

/**
 * An HTTPS sender trusting the system CAs plus `ca` (plain HTTP only when the caller asks with an http: URL, which
 * the client does for loopback registries alone); Node's own error objects never leave it.
 */
export function createHttpSend(options: {
  ca?: string | Buffer
  /** Idle time allowed before a request counts as failed. */
  timeoutMs: number
  /** Time allowed for a whole request and its response, however slowly it trickles (default 10 × timeoutMs). */
  deadlineMs?: number
}): HttpSend {
  const deadlineMs = options.deadlineMs ?? options.timeoutMs * 10
  // An explicit `ca` replaces Node's trust store, so keep the public roots beside the extra CA.
  const ca = options.ca === undefined ? undefined : [...rootCertificates, options.ca.toString()]
  const agent = new https.Agent({ keepAlive: false, ca })
  return request =>
    new Promise<HttpResponse>((resolve, reject) => {
      const plain = request.url.protocol === 'http:'
      if (!plain && request.url.protocol !== 'https:') {
        reject(new TransportError(`unsupported protocol ${request.url.protocol}`, 'EPROTO', false))
        return
      }
      if (!isPlainTextAllowed(request.url)) {
        reject(
          new TransportError(
            `refused plain HTTP to ${request.url.host}, which is not on loopback`,
            'EPROTO',
            false
          )
        )
        return
      }
      const headers: Record<string, string> = { ...request.headers }
      if (request.body) headers['content-length'] = String(request.body.length)
      const send = plain ? http.request : https.request
      let response: http.IncomingMessage | undefined
      const deadline = setTimeout(() => {
        const error = new TransportError(`not finished within ${deadlineMs} ms`, 'ETIMEDOUT', true)
        response?.destroy(error)
        req.destroy(error)
      }, deadlineMs)
      const done = (answer: HttpResponse): void => {
        clearTimeout(deadline)
        resolve(answer)
      }
      const fail = (error: Error): void => {
        clearTimeout(deadline)
        reject(toTransportError(error))
      }
      const req = send(
        request.url,
        { method: request.method, headers, agent: plain ? undefined : agent },
        res => {
          response = res
          const chunks: Buffer[] = []
          let size = 0
          res.on('data', (chunk: Buffer) => {
            size += chunk.length
            if (request.maxBytes !== undefined && size > request.maxBytes) {
              req.destroy(
                new TransportError(`response is larger than ${request.maxBytes} bytes`, 'ETOOLARGE', false)
              )
              return
            }
            chunks.push(chunk)
          })
          res.on('end', () =>
            done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) })
          )
          res.on('error', fail)
        }
      )
      req.setTimeout(options.timeoutMs, () =>
        req.destroy(new TransportError(`no answer within ${options.timeoutMs} ms`, 'ETIMEDOUT', true))
      )
      req.on('error', fail)
      req.end(request.body)
    })
}

function toTransportError(error: Error): TransportError {
  if (error instanceof TransportError) return error
  const code = (error as NodeJS.ErrnoException).code ?? 'EUNKNOWN'
  // Only the message and code are kept: Node's error objects can carry the request options.
  return new TransportError(error.message, code, RETRYABLE_CODES.has(code))
}

/**
 * True when an HTTPS request to a loopback registry failed because the server speaks plain HTTP: Docker then
 * uses HTTP for 127.0.0.0/8 and localhost, and so do we. Nothing else is ever downgraded.
 */
export function fallsBackToHttp(url: URL, error: Pick<TransportError, 'code' | 'message'>): boolean {
  const loopback = isLoopback(url)
  const notTls =
    /^(EPROTO|ERR_SSL_WRONG_VERSION_NUMBER|ERR_SSL_PACKET_LENGTH_TOO_LONG)$/.test(error.code) ||
    /wrong version number|packet length too long/i.test(error.message)
  return url.protocol === 'https:' && loopback && notTls
}

/** HTTPS anywhere; plain HTTP to loopback only (a realm or a redirect to http: elsewhere is refused). */
export function isPlainTextAllowed(url: URL): boolean {
  return url.protocol !== 'http:' || isLoopback(url)
}

function isLoopback(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '')
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
}
