import { ExternalError } from '../../lib/errors.js'
import type { ImageRef } from '../../lib/image-ref.js'

/** What this action needs from a registry: read-only questions about what it serves. */
export interface RegistryView {
  resolveDigest(ref: ImageRef): Promise<string>
  getManifest(ref: ImageRef): Promise<{ digest: string; mediaType: string; json: unknown }>
  /** The image config JSON of a single-platform image manifest. */
  getConfig(ref: ImageRef): Promise<unknown>
}

export interface Confirmed {
  digest: string
  mediaType: string
  /** Platform (`os/arch[/variant]`) → manifest digest. */
  platformDigests: Record<string, string>
  /** Labels as the registry serves them (of the first platform for an index). */
  labels: Record<string, string>
}

interface ImageConfig {
  os?: string
  architecture?: string
  variant?: string
  config?: { Labels?: Record<string, string> | null }
}

interface Descriptor {
  digest?: string
  platform?: { os?: string; architecture?: string; variant?: string }
  annotations?: Record<string, string>
}

/**
 * Asks the registry for every pushed tag and for `image@digest`: the digest is claimed only when the registry
 * serves it under every tag. `expected` is what the builder reported, when it reported one.
 */
export async function confirmPush(
  registry: RegistryView,
  image: ImageRef,
  tags: string[],
  expected: string | undefined
): Promise<Confirmed> {
  const [firstTag] = tags
  if (firstTag === undefined) throw new Error('confirmPush needs at least one tag')
  const name = `${image.registry}/${image.repository}`
  const served = new Map<string, string>()
  for (const tag of tags) {
    let digest: string
    try {
      digest = await registry.resolveDigest({ ...image, tag, digest: undefined })
    } catch (error) {
      throw new ExternalError(
        `the registry does not serve ${name}:${tag} after the push: ${(error as Error).message}`
      )
    }
    served.set(tag, digest)
  }
  const digest = expected ?? (served.get(firstTag) as string)
  const wrong = [...served].filter(([, d]) => d !== digest)
  if (wrong.length > 0) {
    throw new ExternalError(
      `the registry serves another digest than ${expected ? 'the builder pushed' : `tag ${firstTag}`} (${digest}): ` +
        wrong.map(([tag, d]) => `${name}:${tag} → ${d}`).join(', ') +
        '. Another build may have pushed the same tag at the same time; no digest is reported.'
    )
  }

  const manifest = await registry.getManifest({ ...image, tag: undefined, digest })
  if (manifest.digest !== digest) {
    throw new ExternalError(`the registry served ${manifest.digest} when asked for ${name}@${digest}`)
  }
  const json = manifest.json as { manifests?: Descriptor[] }
  const platformDigests: Record<string, string> = {}
  let labels: Record<string, string> = {}
  if (Array.isArray(json.manifests)) {
    for (const entry of json.manifests) {
      const platform = platformName(entry.platform)
      // buildx attaches provenance as an extra manifest with platform unknown/unknown: not a runnable image.
      if (
        !platform ||
        !entry.digest ||
        entry.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest'
      ) {
        continue
      }
      platformDigests[platform] = entry.digest
    }
    const first = Object.values(platformDigests)[0]
    if (first) labels = labelsOf(await registry.getConfig({ ...image, tag: undefined, digest: first }))
  } else {
    const config = (await registry.getConfig({ ...image, tag: undefined, digest })) as ImageConfig | null
    const platform = platformName(config ?? undefined)
    if (platform) platformDigests[platform] = digest
    labels = labelsOf(config)
  }
  return { digest, mediaType: manifest.mediaType, platformDigests, labels }
}

function platformName(platform: Descriptor['platform']): string | undefined {
  if (!platform?.os || !platform.architecture || platform.os === 'unknown') return undefined
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join('/')
}

function labelsOf(config: unknown): Record<string, string> {
  return (config as ImageConfig | null)?.config?.Labels ?? {}
}
