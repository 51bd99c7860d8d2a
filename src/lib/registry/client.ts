import { ConfigurationError } from '../errors.js'
import { parseDigest } from '../image-ref.js'
import {
  isImageManifestMediaType,
  isIndexMediaType,
  MANIFEST_ACCEPT,
  OCI_INDEX,
  OCI_MANIFEST
} from './media-types.js'
import {
  computeDigest,
  isSupportedDigest,
  platformManifests,
  type ImageConfigJson,
  type Manifest,
  type ManifestJson
} from './oci.js'
import {
  header,
  RegistryError,
  RegistryTransport,
  type Answer,
  type Exchange,
  type RegistryRef,
  type TransportOptions
} from './transport.js'

// The OCI distribution operations the actions use: manifests, blobs, referrers, and digests checked against the
// bytes served. How requests travel (auth, retries, redirects, plain HTTP on loopback) is transport.ts's business.

export type { RegistryRef } from './transport.js'
export { RegistryError } from './transport.js'
export {
  computeDigest,
  platformManifests,
  type Descriptor,
  type ImageConfigJson,
  type Manifest,
  type ManifestJson,
  type Platform,
  type PlatformManifest
} from './oci.js'

export type RegistryClientOptions = TransportOptions

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

/** Create a client; nothing is contacted until an operation runs. */
export function createRegistryClient(options: RegistryClientOptions = {}): RegistryClient {
  return new DistributionClient(options)
}

const MAX_MANIFEST_BYTES = 4 * 1024 * 1024
const DIGEST_HEADER = 'docker-content-digest'

class DistributionClient implements RegistryClient {
  private readonly transport: RegistryTransport

  constructor(options: RegistryClientOptions) {
    this.transport = new RegistryTransport(options)
  }

  usesPlainHttp(registry: string): boolean {
    return this.transport.usesPlainHttp(registry)
  }

  async resolveDigest(ref: RegistryRef): Promise<string> {
    if (ref.digest) return (await this.getManifest(ref)).digest
    const op = this.manifestExchange(ref, 'resolve', 'HEAD')
    // HEAD first: Docker Hub does not count it against the pull rate limit.
    const answer = await this.transport.exchange(op)
    const served = header(answer, DIGEST_HEADER)
    if (answer.status === 200 && served && isSupportedDigest(served)) return served
    if (answer.status !== 200 && ![400, 405, 501].includes(answer.status))
      throw this.transport.fail(op, answer)
    return (await this.getManifest(ref)).digest
  }

  async getManifest(ref: RegistryRef): Promise<Manifest> {
    const op = this.manifestExchange(ref, 'get', 'GET')
    const answer = await this.transport.exchange(op)
    if (answer.status !== 200) throw this.transport.fail(op, answer)
    const bytes = answer.body
    const digest = this.verifyDigest(op, bytes, ref.digest, header(answer, DIGEST_HEADER))
    const json = this.parseJson(op, bytes) as ManifestJson
    const contentType = header(answer, 'content-type')?.split(';')[0]?.trim()
    const mediaType = typeof json.mediaType === 'string' ? json.mediaType : contentType
    if (!mediaType) throw this.transport.error(op, `served ${op.subject} without a media type`)
    return { digest, mediaType, bytes, json }
  }

  async getBlob(ref: RegistryRef, digest: string): Promise<Buffer> {
    parseDigest(digest)
    const op = this.transport.prepare(
      ref,
      'get',
      'GET',
      `blobs/${digest}`,
      `blob ${digest} of ${ref.repository}`
    )
    const answer = await this.transport.exchange(op)
    if (answer.status !== 200) throw this.transport.fail(op, answer)
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
    const start = this.transport.prepare(
      ref,
      'start an upload to',
      'POST',
      'blobs/uploads/',
      ref.repository,
      true
    )
    start.body = Buffer.alloc(0)
    const started = await this.transport.exchange(start)
    if (started.status !== 202) throw this.transport.fail(start, started)
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
      const cancelled = await this.transport.exchange(cancel)
      if (cancelled.status >= 300) {
        this.transport.note(
          `registry ${ref.registry}: cancelling the test upload answered ${cancelled.status}`
        )
      }
    } catch (error) {
      this.transport.note(
        `registry ${ref.registry}: cancelling the test upload failed: ${(error as Error).message}`
      )
    }
  }

  async putBlob(ref: RegistryRef, bytes: Buffer): Promise<{ digest: string; size: number }> {
    const digest = computeDigest(bytes)
    const subject = `blob ${digest} of ${ref.repository}`
    const result = { digest, size: bytes.length }
    const exists = (): Promise<Answer> =>
      this.transport.exchange(this.transport.prepare(ref, 'check', 'HEAD', `blobs/${digest}`, subject, true))
    const head = await exists()
    if (head.status === 200) return result

    const start = this.transport.prepare(ref, 'upload', 'POST', 'blobs/uploads/', subject, true)
    start.body = Buffer.alloc(0)
    const started = await this.transport.exchange(start)
    const location = header(started, 'location')
    if (started.status !== 202) throw this.transport.fail(start, started)
    if (!location) throw this.transport.error(start, `answered the upload of ${subject} without a Location`)

    const url = new URL(location, start.url)
    url.searchParams.set('digest', digest)
    const put: Exchange = { ...start, method: 'PUT', url, body: bytes }
    put.headers = { 'content-type': 'application/octet-stream' }
    const finished = await this.transport.exchange(put)
    if (finished.status === 201) return result
    // A retried PUT finds its upload already completed and gone: the blob is there.
    if (finished.status === 404 && finished.attempts > 1 && (await exists()).status === 200) return result
    throw this.transport.fail(put, finished)
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
    const op = this.transport.prepare(ref, 'put', 'PUT', `manifests/${reference}`, formatSubject(ref), true)
    op.headers = { 'content-type': type }
    op.body = bytes
    const answer = await this.transport.exchange(op)
    if (answer.status !== 201 && answer.status !== 200) throw this.transport.fail(op, answer)
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
    const op = this.transport.prepare(
      target,
      'put',
      'PUT',
      `manifests/${digest}`,
      formatSubject(target),
      true
    )
    op.headers = { 'content-type': type }
    op.body = bytes
    const answer = await this.transport.exchange(op)
    if (answer.status !== 201 && answer.status !== 200) throw this.transport.fail(op, answer)
    return { digest, subjectIndexed: header(answer, 'oci-subject') === subject }
  }

  async getReferrers(ref: RegistryRef, artifactType?: string): Promise<ManifestJson | undefined> {
    const digest = parseDigest(ref.digest ?? '')
    const query = artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : ''
    const subject = `referrers of ${ref.repository}@${digest}`
    const op = this.transport.prepare(ref, 'list', 'GET', `referrers/${digest}${query}`, subject)
    op.headers = { accept: OCI_INDEX }
    op.maxBytes = MAX_MANIFEST_BYTES
    const answer = await this.transport.exchange(op)
    // A registry with the API never answers 404 for it (OCI distribution-spec 1.1): 404 means no API.
    if ([404, 405, 501].includes(answer.status)) return undefined
    if (answer.status !== 200) throw this.transport.fail(op, answer)
    const json = this.parseJson(op, answer.body) as ManifestJson
    if (!Array.isArray(json.manifests))
      throw this.transport.error(op, `served the ${subject} without a manifests list`)
    return json
  }

  private manifestExchange(ref: RegistryRef, verb: string, method: string): Exchange {
    const reference = ref.digest ?? ref.tag
    if (!reference) {
      throw new ConfigurationError(
        `${formatSubject(ref)} has neither a tag nor a digest: add ':<tag>' or '@sha256:…'`
      )
    }
    const op = this.transport.prepare(ref, verb, method, `manifests/${reference}`, formatSubject(ref))
    op.headers = { accept: MANIFEST_ACCEPT }
    op.maxBytes = MAX_MANIFEST_BYTES
    return op
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
        throw this.transport.error(
          op,
          `served content for ${op.subject} that hashes to ${actual}, not ${expected}`
        )
      }
      return expected
    }
    if (served && isSupportedDigest(served)) {
      const actual = computeDigest(bytes, served)
      if (actual !== served) {
        throw this.transport.error(op, `served ${op.subject} as ${served} but its bytes hash to ${actual}`)
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
    throw this.transport.error(op, `served ${op.subject} that is not a JSON object`)
  }
}

function formatSubject(ref: RegistryRef): string {
  return `${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`
}

function mediaTypeOf(bytes: Buffer): string | undefined {
  try {
    const value = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType
    return typeof value === 'string' ? value : undefined
  } catch {
    return undefined
  }
}
