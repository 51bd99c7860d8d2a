import { ExternalError } from '../errors.js'
import type { Descriptor, RegistryRef } from '../registry/index.js'
import { readReferrersTag, type ReferrersVia, type VerdictRegistry } from './attach.js'
import { CREATED_ANNOTATION, parseVerdict, VERDICT_ARTIFACT_TYPE, type Verdict } from './verdict.js'

export interface FoundVerdict {
  verdict: Verdict
  /** Digest of the verdict manifest, and `registry/repository@digest` of it. */
  digest: string
  ref: string
  via: ReferrersVia
  /** How many verdicts the digest has; the newest is returned. */
  count: number
}

/**
 * The newest scan-gate verdict attached to `ref.digest` (referrers API, else the `sha256-<hex>` referrers tag);
 * undefined when it has none. A verdict that does not check out (wrong subject, bad JSON) is an error, never
 * skipped in favour of an older one.
 */
export async function findVerdict(
  registry: Pick<VerdictRegistry, 'getManifest' | 'getBlob' | 'getReferrers'>,
  ref: RegistryRef & { digest: string }
): Promise<FoundVerdict | undefined> {
  const repo: RegistryRef = { registry: ref.registry, repository: ref.repository }
  let via: ReferrersVia = 'referrers-api'
  let index = await registry.getReferrers({ ...repo, digest: ref.digest }, VERDICT_ARTIFACT_TYPE)
  if (!index) {
    via = 'referrers-tag'
    index = await readReferrersTag(registry, repo, ref.digest)
  }
  const verdicts = (index?.manifests ?? []).filter(entry => entry.artifactType === VERDICT_ARTIFACT_TYPE)
  if (verdicts.length === 0) return undefined
  const newest = verdicts.reduce((best, entry) => (created(entry) >= created(best) ? entry : best))

  const manifest = await registry.getManifest({ ...repo, digest: newest.digest })
  const where = `the verdict ${repo.registry}/${repo.repository}@${newest.digest}`
  if (manifest.json.subject?.digest !== ref.digest) {
    throw new ExternalError(
      `${where} has subject ${manifest.json.subject?.digest ?? 'none'}, not ${ref.digest}`
    )
  }
  if (manifest.json.artifactType !== VERDICT_ARTIFACT_TYPE) {
    throw new ExternalError(`${where} has artifactType ${manifest.json.artifactType ?? 'none'}`)
  }
  const layer = manifest.json.layers?.find(entry => entry.mediaType === VERDICT_ARTIFACT_TYPE)
  if (!layer) throw new ExternalError(`${where} has no verdict layer`)
  const verdict = parseVerdict(await registry.getBlob(repo, layer.digest), where)
  if (verdict.subject.digest !== ref.digest) {
    throw new ExternalError(`${where} is about ${verdict.subject.digest}, not ${ref.digest}`)
  }
  return {
    verdict,
    digest: newest.digest,
    ref: `${repo.registry}/${repo.repository}@${newest.digest}`,
    via,
    count: verdicts.length
  }
}

function created(entry: Descriptor): number {
  const time = Date.parse(entry.annotations?.[CREATED_ANNOTATION] ?? '')
  return Number.isNaN(time) ? 0 : time
}
