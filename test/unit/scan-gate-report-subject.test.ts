import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { scanGate, type Collaborators } from '../../src/actions/scan-gate/main.js'
import { checkReportSubject, type GatedImage } from '../../src/actions/scan-gate/report-subject.js'
import { createCommandRunner } from '../../src/lib/exec.js'
import { mapInputs } from '../../src/lib/inputs.js'
import { parseImageRef } from '../../src/lib/image-ref.js'
import { parseReport, ReportError } from '../../src/lib/scanner/index.js'

const DIGEST = `sha256:${'a1'.repeat(32)}`
const PLATFORM = `sha256:${'b2'.repeat(32)}`
const OTHER = `sha256:${'c3'.repeat(32)}`
const IMAGE: GatedImage = { registry: 'ghcr.io', repository: 'octo/app', digest: DIGEST }
const REDIS: GatedImage = { registry: 'docker.io', repository: 'library/redis', digest: DIGEST }

const trivy = (fields: Record<string, unknown>) =>
  JSON.stringify({ SchemaVersion: 2, Results: [], ...fields })
const grype = (target: unknown, type = 'image') => JSON.stringify({ matches: [], source: { type, target } })
const sarif = (properties?: Record<string, unknown>) =>
  JSON.stringify({
    version: '2.1.0',
    runs: [{ tool: { driver: { name: 'Trivy' } }, results: [], ...(properties ? { properties } : {}) }]
  })

async function check(content: string, image = IMAGE, mode: 'verify' | 'trust' = 'verify') {
  return checkReportSubject(parseReport(content), image, mode, async () => [PLATFORM])
}

async function refusal(content: string, image = IMAGE): Promise<string> {
  const error = await check(content, image).then(
    () => undefined,
    (thrown: unknown) => thrown
  )
  if (!(error instanceof ReportError)) throw new Error(`not refused with a ReportError: ${String(error)}`)
  return error.message
}

describe('a report must identify the image it gates', () => {
  it.each([
    [
      'a SARIF log without runs',
      JSON.stringify({ version: '2.1.0', runs: [] }),
      /records no image digest nor repository/
    ],
    ['a legacy Trivy array', '[]', /legacy array .* never names the image/],
    ['the legacy Trivy null', 'null', /legacy array/],
    ['a Grype report with an empty target', grype({}), /records no image digest nor repository/],
    [
      'a Trivy report of another repository',
      trivy({ ArtifactName: 'docker.io/evil/other:latest', ArtifactType: 'container_image' }),
      /is for another image: it records 'docker.io\/evil\/other', not ghcr.io\/octo\/app/
    ],
    ['a Trivy report with an empty ArtifactName', trivy({ ArtifactName: '' }), /records no image digest/],
    ['a Trivy report without ArtifactName', trivy({}), /records no image digest/],
    [
      'a Trivy report of a tarball',
      trivy({ ArtifactName: '/tmp/app.tar', ArtifactType: 'container_image' }),
      /it records '\/tmp\/app.tar', which is not an image reference/
    ],
    [
      'a Trivy filesystem scan of a directory named like the image',
      trivy({ ArtifactName: 'ghcr.io/octo/app', ArtifactType: 'filesystem' }),
      /records no image digest/
    ],
    ['a Grype directory scan', grype('/src', 'directory'), /records no image digest/],
    [
      'a Grype report of another digest',
      grype({ userInput: 'ghcr.io/octo/app', manifestDigest: OTHER }),
      /is for another image: it records 'sha256:c3c3.*', not sha256:a1a1.* nor one of its platform images/
    ],
    [
      'a SARIF log of another repository',
      sarif({ imageName: 'ghcr.io/octo/other', repoTags: ['ghcr.io/octo/other:1'] }),
      /records 'ghcr.io\/octo\/other', not ghcr.io\/octo\/app/
    ],
    ['a SARIF log whose run has no properties', sarif(), /records no image digest/]
  ])('refuses %s, saying why', async (_, content, reason) => {
    const message = await refusal(content)
    expect(message).toMatch(reason)
  })

  it('says how to accept a report that names no image on purpose', async () => {
    expect(await refusal('[]')).toContain('set report-subject: trust')
  })

  it.each([
    ['a Trivy report of the digest', trivy({ ArtifactName: `ghcr.io/octo/app@${DIGEST}` }), 'digest'],
    [
      'a Trivy report recording the digest in RepoDigests only',
      trivy({
        ArtifactName: 'ghcr.io/octo/app:1.0',
        Metadata: { RepoDigests: [`ghcr.io/octo/app@${DIGEST}`] }
      }),
      'digest'
    ],
    ['a Grype report of a platform image', grype({ userInput: 'x', manifestDigest: PLATFORM }), 'platform'],
    ['a SARIF log of the digest', sarif({ imageName: 'ghcr.io/octo/app', imageDigest: DIGEST }), 'digest'],
    [
      'a Trivy report naming the repository by tag, without a digest',
      trivy({ ArtifactName: 'ghcr.io/octo/app:1.0', ArtifactType: 'container_image' }),
      'repository'
    ]
  ])('accepts %s', async (_, content, how) => {
    expect((await check(content)).how).toBe(how)
  })

  it.each([
    'redis',
    'redis:7',
    'docker.io/redis',
    'index.docker.io/library/redis:7',
    'docker.io/library/redis'
  ])("normalises names as Docker does: '%s' is docker.io/library/redis", async name => {
    expect((await check(trivy({ ArtifactName: name }), REDIS)).how).toBe('repository')
  })

  it('does not take a user/redis repository for the official redis', async () => {
    expect(await refusal(trivy({ ArtifactName: 'someone/redis' }), REDIS)).toMatch(/another image/)
  })

  it('with report-subject: trust, accepts a report that names no image and says so', async () => {
    const checked = await check('[]', IMAGE, 'trust')
    expect(checked.how).toBe('trusted')
    expect(checked.text).toMatch(/^taken on trust \(report-subject: trust\)/)
  })

  it('with report-subject: trust, still refuses a report of another image', async () => {
    const error = await check(trivy({ ArtifactName: 'docker.io/evil/other:latest' }), IMAGE, 'trust').catch(
      (thrown: unknown) => thrown
    )
    expect(error).toBeInstanceOf(ReportError)
  })

  it('asks for platform images only when the report records another digest', async () => {
    let asked = 0
    await checkReportSubject(
      parseReport(trivy({ ArtifactName: `ghcr.io/octo/app@${DIGEST}` })),
      IMAGE,
      'verify',
      async () => {
        asked++
        return []
      }
    )
    expect(asked).toBe(0)
  })
})

// Identities a report may record: digests and names, most of them not the gated image's.
const hex = fc.constantFrom('a1', 'b2', 'c3', 'd4', 'e5').map(pair => `sha256:${pair.repeat(32)}`)
const repository = fc.constantFrom(
  'ghcr.io/octo/app',
  'ghcr.io/octo/other',
  'docker.io/library/redis',
  'redis',
  'ghcr.io/octo/app-evil',
  'ghcr.io/octo',
  'registry.example.com/octo/app'
)
const reference = fc.oneof(
  repository,
  fc.tuple(repository, fc.constantFrom('latest', '1.0')).map(([name, tag]) => `${name}:${tag}`),
  fc.tuple(repository, hex).map(([name, digest]) => `${name}@${digest}`),
  fc.constantFrom('', '/tmp/app.tar', 'app.tar', '.', 'C:\\image.tar')
)
const gated = fc.record({
  registry: fc.constant('ghcr.io'),
  repository: fc.constantFrom('octo/app', 'octo/other'),
  digest: hex
})

/** What the rule says: a recorded digest decides; else a recorded repository; else nothing matches. */
function matches(references: string[], image: GatedImage, platforms: string[]): boolean {
  const digests = references.flatMap(r => /@(sha256:[a-f0-9]{64})$/.exec(r)?.[1] ?? [])
  if (digests.length) return digests.includes(image.digest) || digests.some(d => platforms.includes(d))
  return references.some(r => {
    try {
      const ref = parseImageRef(r)
      return ref.registry === image.registry && ref.repository === image.repository
    } catch {
      return false
    }
  })
}

describe('property: no report without a matching identity ever passes', () => {
  it('holds for Trivy, Grype and SARIF reports recording any mix of names and digests', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('trivy', 'grype', 'sarif'),
        fc.array(reference, { maxLength: 4 }),
        gated,
        fc.array(hex, { maxLength: 2 }),
        async (format, references, image, platforms) => {
          const content =
            format === 'trivy'
              ? trivy({ ArtifactName: references[0] ?? '', Metadata: { RepoTags: references.slice(1) } })
              : format === 'grype'
                ? grype({ userInput: references[0] ?? '', tags: references.slice(1) })
                : sarif({ imageName: references[0] ?? '', repoTags: references.slice(1) })
          const outcome = await checkReportSubject(
            parseReport(content),
            image,
            'verify',
            async () => platforms
          ).then(
            checked => checked.how,
            (error: unknown) => {
              if (!(error instanceof ReportError)) throw error
              return 'refused'
            }
          )
          const recorded = references.filter(r => r !== '')
          expect(outcome !== 'refused').toBe(matches(recorded, image, platforms))
          expect(outcome).not.toBe('trusted')
        }
      ),
      { numRuns: 500 }
    )
  })
})

describe('property, through the whole gate: a report without a matching identity never yields a decision', () => {
  let workspace: string
  beforeAll(async () => {
    workspace = await mkdtemp(join(tmpdir(), 'subject-gate-'))
  })
  afterAll(() => rm(workspace, { recursive: true, force: true }))

  it('holds for reports of other images, and for reports that name none (without trust)', async () => {
    let run = 0
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('trivy', 'grype', 'sarif'),
        fc.array(reference, { maxLength: 3 }),
        async (format, references) => {
          const recorded = references.filter(r => r !== '')
          // Reports that do identify the gated image are the other property's business.
          fc.pre(!matches(recorded, IMAGE, []))
          const content =
            format === 'trivy'
              ? trivy({ ArtifactName: references[0] ?? '', Metadata: { RepoTags: references.slice(1) } })
              : format === 'grype'
                ? grype({ userInput: references[0] ?? '', tags: references.slice(1) })
                : sarif({ imageName: references[0] ?? '', repoTags: references.slice(1) })
          const name = `report-${run++}.json`
          await writeFile(join(workspace, name), content)
          const outputs: Record<string, string> = {}
          const outcome = await scanGate({
            inputs: mapInputs({ 'image-ref': `ghcr.io/octo/app@${DIGEST}`, report: name, fail: 'false' }),
            env: { GITHUB_WORKSPACE: workspace, RUNNER_TEMP: workspace },
            runner: createCommandRunner(),
            registry: offlineRegistry,
            install: () => Promise.reject(new Error('no scanner is installed for a report')),
            setOutput: (output, value) => (outputs[output] = value),
            writeSummary: async () => {},
            now: () => Date.parse('2026-03-15T12:00:00Z')
          }).then(
            evaluation => evaluation.decision,
            (error: unknown) => error
          )
          expect(outcome).toBeInstanceOf(ReportError)
          expect(outputs.decision).toBeUndefined()
        }
      ),
      { numRuns: 150 }
    )
  })
})

/** A registry that cannot be reached: asking it for platform images fails, so only the report's content counts. */
function offlineRegistry(): ReturnType<Collaborators['registry']> {
  const offline = (): never => {
    throw new Error('registry unreachable in this test')
  }
  return {
    resolveDigest: offline,
    getManifest: offline,
    getBlob: offline,
    putBlob: offline,
    putManifest: offline,
    putReferrer: offline,
    getReferrers: offline
  }
}
