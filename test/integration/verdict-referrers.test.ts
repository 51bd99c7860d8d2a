import { afterEach, describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { createRegistryClient, OCI_MANIFEST } from '../../src/lib/registry/index.js'
import { SEVERITIES } from '../../src/lib/scanner/index.js'
import {
  attachVerdict,
  findVerdict,
  VERDICT_ARTIFACT_TYPE,
  type Verdict
} from '../../src/lib/verdict/index.js'
import { startReferrersRegistry, type ReferrersRegistry } from '../support/scanner/referrers-registry.js'

let registry: ReferrersRegistry | undefined

afterEach(async () => {
  await registry?.stop()
  registry = undefined
})

function verdictFor(digest: string, decision: 'pass' | 'fail', time: string): Verdict {
  const zero = { total: 0, fixable: 0, blocking: 0, suppressed: 0 }
  return {
    schemaVersion: 1,
    decision,
    subject: { name: `${registry?.host}/octo/app`, digest },
    blocking: decision === 'fail' ? 1 : 0,
    counts: Object.fromEntries(SEVERITIES.map(s => [s, zero])) as Verdict['counts'],
    policy: {
      digest: `sha256:${'0'.repeat(64)}`,
      severity: 'high',
      ignoreUnfixed: false,
      failOnExpiredIgnore: false,
      max: {}
    },
    scanner: {
      name: 'trivy',
      version: '0.69.2',
      reportFormat: 'trivy',
      reportDigest: `sha256:${'1'.repeat(64)}`
    },
    expiredIgnores: 0,
    time
  }
}

/** Pushes a small image manifest to the fake registry; returns its digest. */
async function pushImage(client: ReturnType<typeof createRegistryClient>, host: string): Promise<string> {
  const repo = { registry: host, repository: 'octo/app' }
  const config = await client.putBlob(repo, Buffer.from('{"architecture":"amd64","os":"linux"}'))
  const layer = await client.putBlob(repo, Buffer.from('layer'))
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: config.digest,
      size: config.size
    },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layer.digest, size: layer.size }]
  }
  return client.putManifest({ ...repo, tag: 'v1' }, manifest)
}

describe('verdicts on a registry with the OCI 1.1 referrers API (small fake in test/support)', () => {
  it('uses the referrers API: no referrers tag is written, and findVerdict reads through the API', async () => {
    registry = await startReferrersRegistry()
    const client = createRegistryClient({ env: {}, retries: 0 })
    const digest = await pushImage(client, registry.host)
    const ref = { registry: registry.host, repository: 'octo/app', digest }

    const attached = await attachVerdict(client, ref, verdictFor(digest, 'fail', '2026-03-01T00:00:00.000Z'))
    expect([attached.via, attached.tag]).toEqual(['referrers-api', undefined])
    const stored = registry.manifests.get(attached.digest)
    expect(stored?.mediaType).toBe(OCI_MANIFEST)
    expect(
      `sha256:${createHash('sha256')
        .update(stored?.bytes ?? Buffer.alloc(0))
        .digest('hex')}`
    ).toBe(attached.digest)
    expect(JSON.parse(stored?.bytes.toString('utf8') ?? '{}')).toMatchObject({
      artifactType: VERDICT_ARTIFACT_TYPE,
      subject: { digest }
    })
    expect([...registry.tags.keys()]).toEqual(['octo/app:v1'])

    const later = await attachVerdict(client, ref, verdictFor(digest, 'pass', '2026-03-02T00:00:00.000Z'))
    const found = await findVerdict(client, ref)
    expect(found).toMatchObject({ digest: later.digest, via: 'referrers-api', count: 2 })
    expect(found?.verdict.decision).toBe('pass')
    expect(registry.requests).toContain(
      `GET /v2/octo/app/referrers/${digest}?artifactType=${encodeURIComponent(VERDICT_ARTIFACT_TYPE)}`
    )
    expect(registry.requests.filter(line => line.includes('/manifests/sha256-'))).toEqual([])
  })

  it('without the OCI-Subject answer, still uses the API when it lists the verdict', async () => {
    registry = await startReferrersRegistry({ ociSubjectHeader: false })
    const client = createRegistryClient({ env: {}, retries: 0 })
    const digest = await pushImage(client, registry.host)
    const attached = await attachVerdict(
      client,
      { registry: registry.host, repository: 'octo/app', digest },
      verdictFor(digest, 'pass', '2026-03-01T00:00:00.000Z')
    )
    expect(attached.via).toBe('referrers-api')
    expect([...registry.tags.keys()]).toEqual(['octo/app:v1'])
  })

  it('refuses a verdict whose manifest names another subject, instead of trusting it', async () => {
    registry = await startReferrersRegistry()
    const client = createRegistryClient({ env: {}, retries: 0 })
    const digest = await pushImage(client, registry.host)
    const ref = { registry: registry.host, repository: 'octo/app', digest }
    await attachVerdict(
      client,
      ref,
      verdictFor(`sha256:${'e'.repeat(64)}`, 'pass', '2026-03-01T00:00:00.000Z')
    )
    await expect(findVerdict(client, ref)).rejects.toThrow(`is about sha256:${'e'.repeat(64)}, not ${digest}`)
  })
})
