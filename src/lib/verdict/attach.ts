import { ExternalError } from '../errors.js'
import {
  OCI_INDEX,
  OCI_MANIFEST,
  type Descriptor,
  type ManifestJson,
  type RegistryClient,
  type RegistryRef
} from '../registry/index.js'
import { CREATED_ANNOTATION, DECISION_ANNOTATION, VERDICT_ARTIFACT_TYPE, type Verdict } from './verdict.js'

/** The registry operations verdicts need. */
export type VerdictRegistry = Pick<
  RegistryClient,
  'getManifest' | 'getBlob' | 'putBlob' | 'putManifest' | 'putReferrer' | 'getReferrers'
>

/** How a referrer was made findable: the registry's referrers API, or the `sha256-<hex>` referrers tag. */
export type ReferrersVia = 'referrers-api' | 'referrers-tag'

export interface AttachedVerdict {
  /** Digest of the verdict manifest. */
  digest: string
  /** `registry/repository@sha256:…` of the verdict manifest. */
  ref: string
  via: ReferrersVia
  /** The referrers tag written (`sha256-<hex>`), when the registry has no referrers API. */
  tag?: string
}

/** The OCI empty descriptor (`{}`), the config of artifacts that have none. */
export const EMPTY_CONFIG: Descriptor & { data: string } = {
  mediaType: 'application/vnd.oci.empty.v1+json',
  digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
  size: 2,
  data: 'e30='
}

const TAG_ATTEMPTS = 3

/** The referrers tag schema's tag for a digest: `sha256:ab…` → `sha256-ab…` (at most 128 characters). */
export function referrersTag(digest: string): string {
  return digest.replace(':', '-').slice(0, 128)
}

/**
 * Pushes the verdict as an OCI artifact whose `subject` is the scanned manifest. Where the registry indexes
 * referrers itself (it answers `OCI-Subject`, or lists the verdict in its referrers API) that is all; otherwise the
 * `sha256-<hex>` referrers tag is updated: an OCI index listing the subject's referrers, read back to be sure.
 */
export async function attachVerdict(
  registry: VerdictRegistry,
  subjectRef: RegistryRef & { digest: string },
  verdict: Verdict
): Promise<AttachedVerdict> {
  const repo: RegistryRef = { registry: subjectRef.registry, repository: subjectRef.repository }
  const subject = await registry.getManifest({ ...repo, digest: subjectRef.digest })
  const body = Buffer.from(JSON.stringify(verdict, null, 2) + '\n')
  await registry.putBlob(repo, Buffer.from('{}'))
  const layer = await registry.putBlob(repo, body)
  const annotations = { [CREATED_ANNOTATION]: verdict.time, [DECISION_ANNOTATION]: verdict.decision }
  const manifest: ManifestJson = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: VERDICT_ARTIFACT_TYPE,
    config: EMPTY_CONFIG,
    layers: [
      {
        mediaType: VERDICT_ARTIFACT_TYPE,
        digest: layer.digest,
        size: layer.size,
        annotations: { 'org.opencontainers.image.title': 'verdict.json' }
      }
    ],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.bytes.length },
    annotations
  }
  const pushed = await registry.putReferrer(repo, manifest)
  const ref = `${repo.registry}/${repo.repository}@${pushed.digest}`
  const descriptor: Descriptor = {
    mediaType: OCI_MANIFEST,
    digest: pushed.digest,
    size: Buffer.byteLength(JSON.stringify(manifest)),
    artifactType: VERDICT_ARTIFACT_TYPE,
    annotations
  }
  if (pushed.subjectIndexed) return { digest: pushed.digest, ref, via: 'referrers-api' }
  const listed = await registry.getReferrers({ ...repo, digest: subject.digest }, VERDICT_ARTIFACT_TYPE)
  if (listed?.manifests?.some(entry => entry.digest === pushed.digest)) {
    return { digest: pushed.digest, ref, via: 'referrers-api' }
  }
  const tag = await addToReferrersTag(registry, repo, subject.digest, descriptor)
  return { digest: pushed.digest, ref, via: 'referrers-tag', tag }
}

/** Adds a descriptor to the subject's referrers tag index (creating it), then reads it back: another writer may race. */
async function addToReferrersTag(
  registry: VerdictRegistry,
  repo: RegistryRef,
  subjectDigest: string,
  descriptor: Descriptor
): Promise<string> {
  const tag = referrersTag(subjectDigest)
  for (let attempt = 1; attempt <= TAG_ATTEMPTS; attempt++) {
    const index = await readReferrersTag(registry, repo, subjectDigest)
    const manifests = index?.manifests ?? []
    if (!manifests.some(entry => entry.digest === descriptor.digest)) {
      const updated: ManifestJson = {
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [...manifests, descriptor]
      }
      await registry.putManifest({ ...repo, tag }, updated, OCI_INDEX)
    }
    const check = await readReferrersTag(registry, repo, subjectDigest)
    if (check?.manifests?.some(entry => entry.digest === descriptor.digest)) return tag
  }
  throw new ExternalError(
    `registry ${repo.registry}: the referrers tag ${repo.repository}:${tag} lost the verdict ${descriptor.digest} ` +
      `${TAG_ATTEMPTS} times (another writer is updating it): try again`
  )
}

/** The index under a subject's referrers tag; undefined when there is none. Refuses a tag holding something else. */
export async function readReferrersTag(
  registry: Pick<VerdictRegistry, 'getManifest'>,
  repo: RegistryRef,
  subjectDigest: string
): Promise<ManifestJson | undefined> {
  const tag = referrersTag(subjectDigest)
  try {
    const found = await registry.getManifest({ ...repo, tag, digest: undefined })
    if (found.mediaType !== OCI_INDEX || !Array.isArray(found.json.manifests)) {
      throw new ExternalError(
        `registry ${repo.registry}: ${repo.repository}:${tag} is a ${found.mediaType}, not the OCI index the referrers tag schema puts there: refusing to touch it`
      )
    }
    return found.json
  } catch (error) {
    if ((error as { notFound?: boolean }).notFound) return undefined
    throw error
  }
}
