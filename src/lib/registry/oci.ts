import { createHash } from 'node:crypto'
import { ConfigurationError } from '../errors.js'
import { isIndexMediaType } from './media-types.js'

// The OCI image and distribution JSON shapes the actions read and write, and digests of bytes.

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

/** A sha256 or sha512 digest in canonical form. */
export function isSupportedDigest(value: string): boolean {
  return /^sha256:[a-f0-9]{64}$/.test(value) || /^sha512:[a-f0-9]{128}$/.test(value)
}

function formatPlatform(platform: Platform): string {
  return `${platform.os}/${platform.architecture}${platform.variant ? `/${platform.variant}` : ''}`
}
