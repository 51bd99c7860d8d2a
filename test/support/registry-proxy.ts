import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import https from 'node:https'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { TestRegistry } from './registry.js'

/** What the proxy does to one registry request instead of forwarding it faithfully. */
export type Fault =
  | { kind: 'status'; status: number; retryAfter?: string }
  /** Close the connection without answering. */
  | { kind: 'drop' }
  /** Never answer, so the client's timeout fires. */
  | { kind: 'hang' }
  /** Forward, but append a byte to the body the registry sent. */
  | { kind: 'corrupt' }
  /** Answer 200 and send `bytes` single bytes `everyMs` apart: never idle, never done for a long time. */
  | { kind: 'trickle'; everyMs: number; bytes: number }

export interface ProxyOptions {
  /**
   * Put a token service in front: registry requests need `Authorization: Bearer`, issued by `GET /token`
   * (which wants these credentials as basic auth when given) for a `repository:<name>:<actions>` scope.
   */
  bearer?: { username?: string; password?: string; service?: string; tokenField?: 'token' | 'access_token' }
}

export interface SeenRequest {
  method: string
  path: string
  authorization?: string
}

/** An HTTPS server in front of a test registry that can fail requests or demand bearer tokens. */
export interface RegistryProxy {
  host: string
  /** Registry requests (`/v2/…`) in arrival order, failed ones included. */
  requests: SeenRequest[]
  /** Token requests: scope, service and the basic-auth user name they came with. */
  tokenRequests: Array<{ scope: string | null; service: string | null; username?: string }>
  /** Apply these faults to the next registry requests, one each, in order. */
  failNext(...faults: Fault[]): void
  reset(): void
  stop(): Promise<void>
}

/** Start a proxy to `registry` on a free loopback port, with the registry's own certificate. */
export async function startRegistryProxy(
  registry: TestRegistry,
  options: ProxyOptions = {}
): Promise<RegistryProxy> {
  const [cert, key] = await Promise.all([readFile(registry.certFile), readFile(registry.keyFile)])
  const faults: Fault[] = []
  const requests: SeenRequest[] = []
  const tokenRequests: RegistryProxy['tokenRequests'] = []
  const grants = new Map<string, { repository: string; actions: Set<string> }>()
  const service = options.bearer?.service ?? 'test-registry'
  let host = ''

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', `https://${host}`)
    if (options.bearer && url.pathname === '/token') {
      issueToken(req, res, url)
      return
    }
    requests.push({
      method: req.method ?? '',
      path: url.pathname + url.search,
      authorization: req.headers.authorization
    })
    const fault = faults.shift()
    if (fault?.kind === 'drop') {
      req.socket.destroy()
      return
    }
    if (fault?.kind === 'hang') return
    if (fault?.kind === 'trickle') {
      res.writeHead(200, { 'content-type': 'application/json' })
      let sent = 0
      const timer = setInterval(() => {
        if (sent++ >= fault.bytes || res.destroyed) {
          clearInterval(timer)
          res.end()
          return
        }
        res.write(' ')
      }, fault.everyMs)
      res.on('close', () => clearInterval(timer))
      return
    }
    if (fault?.kind === 'status') {
      const headers: Record<string, string> = { 'content-type': 'application/json' }
      if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter
      res.writeHead(fault.status, headers)
      res.end(JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: 'injected failure' }] }))
      return
    }
    if (options.bearer && !authorised(req, url)) {
      const match = /^\/v2\/(.+)\/(manifests|blobs|tags)\//.exec(url.pathname)
      const actions = req.method === 'GET' || req.method === 'HEAD' ? 'pull' : 'pull,push'
      const scope = match ? `,scope="repository:${match[1]}:${actions}"` : ''
      const error = req.headers.authorization ? ',error="invalid_token"' : ''
      res.writeHead(401, {
        'content-type': 'application/json',
        'www-authenticate': `Bearer realm="https://${host}/token",service="${service}"${scope}${error}`
      })
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }))
      return
    }
    forward(req, res, fault?.kind === 'corrupt')
  }

  const issueToken = (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')
    const decoded = basic ? Buffer.from(basic[1]!, 'base64').toString('utf8') : undefined
    const username = decoded?.slice(0, decoded.indexOf(':'))
    const password = decoded?.slice(decoded.indexOf(':') + 1)
    tokenRequests.push({
      scope: url.searchParams.get('scope'),
      service: url.searchParams.get('service'),
      username
    })
    const wanted = options.bearer
    if (wanted?.username !== undefined && (username !== wanted.username || password !== wanted.password)) {
      res.writeHead(401, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ details: 'incorrect username or password' }))
      return
    }
    const token = randomBytes(16).toString('hex')
    const scope = /^repository:([^:]+):(.+)$/.exec(url.searchParams.get('scope') ?? '')
    if (scope) grants.set(token, { repository: scope[1]!, actions: new Set(scope[2]!.split(',')) })
    else grants.set(token, { repository: '', actions: new Set() })
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ [wanted?.tokenField ?? 'token']: token, expires_in: 300 }))
  }

  const authorised = (req: IncomingMessage, url: URL): boolean => {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]
    const grant = token ? grants.get(token) : undefined
    if (!grant) return false
    if (url.pathname === '/v2/') return true
    if (!url.pathname.startsWith(`/v2/${grant.repository}/`)) return false
    return grant.actions.has(req.method === 'GET' || req.method === 'HEAD' ? 'pull' : 'push')
  }

  const forward = (req: IncomingMessage, res: ServerResponse, corrupt: boolean): void => {
    const headers = { ...req.headers }
    // The registry builds upload Locations from Host, so they keep pointing at the proxy.
    if (options.bearer) delete headers.authorization
    const upstream = https.request(
      `${registry.url}${req.url ?? '/'}`,
      { method: req.method, headers, ca: registry.caPem, agent: false },
      answer => {
        if (!corrupt) {
          res.writeHead(answer.statusCode ?? 502, answer.headers)
          answer.pipe(res)
          return
        }
        const chunks: Buffer[] = []
        answer.on('data', (chunk: Buffer) => chunks.push(chunk))
        answer.on('end', () => {
          const body = Buffer.concat([...chunks, Buffer.from(' ')])
          res.writeHead(answer.statusCode ?? 502, {
            ...answer.headers,
            'content-length': String(body.length)
          })
          res.end(body)
        })
      }
    )
    upstream.on('error', () => res.destroy())
    req.pipe(upstream)
  }

  const server = https.createServer({ cert, key }, handle)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    host,
    requests,
    tokenRequests,
    failNext: (...next) => faults.push(...next),
    reset: () => {
      faults.length = 0
      requests.length = 0
      tokenRequests.length = 0
    },
    stop: () =>
      new Promise<void>(resolve => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
  }
}
