import { createHash, randomUUID } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A small in-memory OCI distribution registry (plain HTTP on loopback) that has what the Debian docker-registry 2.8
 * lacks: the OCI 1.1 referrers API (`GET /v2/<name>/referrers/<digest>`) and the `OCI-Subject` answer to a manifest
 * with a subject. Enough of the API for pushing and reading artifacts; nothing else.
 */
export interface ReferrersRegistry {
  host: string
  /** `METHOD path` of every request, in order. */
  requests: string[]
  /** Manifests stored, by digest. */
  manifests: Map<string, { mediaType: string; bytes: Buffer }>
  tags: Map<string, string>
  stop(): Promise<void>
}

export async function startReferrersRegistry(
  options: { ociSubjectHeader?: boolean } = {}
): Promise<ReferrersRegistry> {
  const blobs = new Map<string, Buffer>()
  const manifests = new Map<string, { mediaType: string; bytes: Buffer }>()
  const tags = new Map<string, string>()
  const requests: string[] = []
  const sha256 = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      const url = new URL(req.url ?? '/', 'http://registry')
      const method = req.method ?? 'GET'
      requests.push(`${method} ${url.pathname}${url.search}`)
      const send = (
        status: number,
        headers: Record<string, string> = {},
        payload: Buffer = Buffer.alloc(0)
      ): void => {
        res.writeHead(status, { 'content-length': String(payload.length), ...headers })
        res.end(method === 'HEAD' ? undefined : payload)
      }
      const notFound = (): void =>
        send(404, { 'content-type': 'application/json' }, Buffer.from('{"errors":[{"code":"NOT_FOUND"}]}'))
      if (url.pathname === '/v2/') return send(200)
      const match = /^\/v2\/(.+)\/(blobs|manifests|referrers)\/(.+)$/.exec(url.pathname)
      if (!match) return notFound()
      const [, name, kind, reference] = match as unknown as [string, string, string, string]
      if (kind === 'blobs') {
        if (reference === 'uploads/' && method === 'POST')
          return send(202, { location: `/v2/${name}/blobs/uploads/${randomUUID()}` })
        if (reference.startsWith('uploads/') && method === 'PUT') {
          const digest = url.searchParams.get('digest') ?? ''
          if (sha256(body) !== digest) return send(400)
          blobs.set(digest, body)
          return send(201, { 'docker-content-digest': digest })
        }
        const blob = blobs.get(reference)
        return blob ? send(200, { 'docker-content-digest': reference }, blob) : notFound()
      }
      if (kind === 'manifests') {
        if (method === 'PUT') {
          const digest = sha256(body)
          const mediaType = (req.headers['content-type'] ?? '').split(';')[0] as string
          manifests.set(digest, { mediaType, bytes: body })
          if (!reference.startsWith('sha256:')) tags.set(`${name}:${reference}`, digest)
          const subject = (JSON.parse(body.toString('utf8')) as { subject?: { digest?: string } }).subject
            ?.digest
          const headers: Record<string, string> = {
            'docker-content-digest': digest,
            location: `/v2/${name}/manifests/${digest}`
          }
          if (subject && options.ociSubjectHeader !== false) headers['oci-subject'] = subject
          return send(201, headers)
        }
        const digest = reference.startsWith('sha256:') ? reference : tags.get(`${name}:${reference}`)
        const manifest = digest ? manifests.get(digest) : undefined
        if (!manifest || !digest) return notFound()
        return send(
          200,
          { 'content-type': manifest.mediaType, 'docker-content-digest': digest },
          manifest.bytes
        )
      }
      const artifactType = url.searchParams.get('artifactType')
      const referrers = [...manifests.entries()].flatMap(([digest, { mediaType, bytes }]) => {
        const json = JSON.parse(bytes.toString('utf8')) as {
          subject?: { digest?: string }
          artifactType?: string
          annotations?: Record<string, string>
        }
        if (json.subject?.digest !== reference) return []
        if (artifactType && json.artifactType !== artifactType) return []
        return [
          {
            mediaType,
            digest,
            size: bytes.length,
            artifactType: json.artifactType,
            annotations: json.annotations
          }
        ]
      })
      const index = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.index.v1+json',
          manifests: referrers
        })
      )
      return send(
        200,
        {
          'content-type': 'application/vnd.oci.image.index.v1+json',
          ...(artifactType ? { 'oci-filters-applied': 'artifactType' } : {})
        },
        index
      )
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    host: `127.0.0.1:${port}`,
    requests,
    manifests,
    tags,
    stop: () => new Promise(resolve => server.close(() => resolve()))
  }
}
