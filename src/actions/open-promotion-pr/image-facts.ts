import { ConfigurationError } from '../../lib/errors.js'
import type { ImageRef } from '../../lib/image-ref.js'
import { platformManifests, RegistryError, type RegistryClient } from '../../lib/registry/index.js'
import { findVerdict } from '../../lib/verdict/index.js'
import type { ImageVersion, VerdictState } from './state-block.js'

export const SOURCE_LABEL = 'org.opencontainers.image.source'
export const REVISION_LABEL = 'org.opencontainers.image.revision'

export type ImageRegistry = Pick<RegistryClient, 'getManifest' | 'getConfig' | 'getBlob' | 'getReferrers'>

/** The image's source labels; a digest the registry does not have is an error that says so. */
export async function readVersion(
  registry: ImageRegistry,
  image: ImageRef,
  version: { digest: string; tag?: string },
  what: string
): Promise<ImageVersion> {
  const ref = { registry: image.registry, repository: image.repository, digest: version.digest }
  let manifest
  try {
    manifest = await registry.getManifest(ref)
  } catch (error) {
    if (error instanceof RegistryError && error.notFound) {
      throw new ConfigurationError(
        `${what} ${image.registry}/${image.repository}@${version.digest} does not exist in the registry: ` +
          'check the digest (it may have been deleted by a retention policy) and the image name'
      )
    }
    throw error
  }
  const platform = platformManifests(manifest)[0]?.platform
  const config = await registry.getConfig(ref, platform)
  const labels = config.config?.Labels ?? {}
  return {
    ...version,
    source: typeof labels[SOURCE_LABEL] === 'string' ? labels[SOURCE_LABEL] : undefined,
    revision: typeof labels[REVISION_LABEL] === 'string' ? labels[REVISION_LABEL] : undefined
  }
}

/** The newest scan-gate verdict attached to the digest, in the form the state keeps; null when none is. */
export async function readVerdict(
  registry: ImageRegistry,
  image: ImageRef,
  digest: string
): Promise<VerdictState | null> {
  const found = await findVerdict(registry, {
    registry: image.registry,
    repository: image.repository,
    digest
  })
  if (!found) return null
  const counts: Record<string, number> = {}
  for (const [severity, count] of Object.entries(found.verdict.counts)) counts[severity] = count.total
  return {
    decision: found.verdict.decision,
    blocking: found.verdict.blocking,
    counts,
    policyDigest: found.verdict.policy.digest,
    time: found.verdict.time,
    ref: found.ref
  }
}
