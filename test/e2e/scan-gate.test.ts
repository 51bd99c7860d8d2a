import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cell } from '../../src/lib/summary.js'
import { createRegistryClient } from '../../src/lib/registry/index.js'
import { findVerdict } from '../../src/lib/verdict/index.js'
import { runAction, shownText, type ActionResult } from '../support/action-runner.js'
import { pushTestImage, startRegistry, type PushedImage, type TestRegistry } from '../support/registry.js'
import { sarifValidator } from '../support/scanner/sarif-schema.js'
import {
  fixture,
  FIXTURE_DIGEST,
  FIXTURE_IMAGE,
  mirroredStandinTrivy,
  type ArchiveServer
} from '../support/scanner/standin.js'

const PASSWORD = 'e2e-Gate-Pass-8812'
const TRIVY_FILE = 'trivy_0.69.2_Linux-64bit.tar.gz'

let registry: TestRegistry
let server: ArchiveServer
let sum: string
let image: PushedImage
let workspace: string
const results: ActionResult[] = []

beforeAll(async () => {
  let mirror: Awaited<ReturnType<typeof mirroredStandinTrivy>>
  ;[registry, mirror] = await Promise.all([
    startRegistry({ auth: { username: 'bot', password: PASSWORD } }),
    mirroredStandinTrivy()
  ])
  server = mirror.server
  sum = mirror.sha256
  image = await pushTestImage(registry, 'octo/app', 'v2', { content: 'e2e gate\n' })
  workspace = await mkdtemp(join(tmpdir(), 'e2e-gate-ws-'))
}, 60_000)

afterAll(async () => {
  for (const result of results) await result.cleanup()
  await Promise.all([registry?.stop(), server?.stop()])
  await rm(workspace, { recursive: true, force: true })
})

async function gate(
  inputs: Record<string, string>,
  dir = workspace,
  env: Record<string, string> = {}
): Promise<ActionResult> {
  const result = await runAction({
    actionDir: 'actions/scan-gate',
    inputs,
    workspace: dir,
    env: { NODE_EXTRA_CA_CERTS: registry.caFile, ...env },
    context: { repository: 'octo/app' },
    timeoutMs: 60_000
  })
  results.push(result)
  return result
}

const errors = (result: ActionResult) =>
  result.annotations.filter(a => a.level === 'error').map(a => a.message)

describe('scan-gate bundle, run as the runner runs it', () => {
  it('installs the stand-in trivy from a mirror, blocks, attaches the verdict, and never shows the password', async () => {
    const ref = `${registry.host}/octo/app@${image.digest}`
    const result = await gate({
      'image-ref': ref,
      'scanner-url': `${server.url}/mirror`,
      'scanner-version': `0.69.2@sha256:${sum}`,
      'registry-username': 'bot',
      'registry-password': PASSWORD,
      attach: 'true',
      sarif: 'scan-gate.sarif'
    })
    expect(result.exitCode).toBe(1)
    expect(errors(result)).toEqual([
      `scan-gate blocked ${ref}: fail (1 critical finding (none allowed); 1 high finding (none allowed)): see the job summary for the findings`
    ])
    expect(result.outputs.decision).toBe('fail')
    expect(result.outputs.blocking).toBe('2')
    expect(result.log).toContain(`Checksum of ${TRIVY_FILE} verified: sha256 ${sum}`)
    expect(server.requests).toContain(`/mirror/${TRIVY_FILE}`)
    expect(result.summary).toContain('## ❌ scan-gate: fail')
    expect(result.summary).toContain('| critical | 1 | 1 | 1 | 0 |')

    const client = createRegistryClient({
      credentials: { username: 'bot', password: PASSWORD },
      ca: registry.caPem,
      env: {}
    })
    const found = await findVerdict(client, {
      registry: registry.host,
      repository: 'octo/app',
      digest: image.digest
    })
    expect(found?.ref).toBe(result.outputs['verdict-ref'])
    expect(found?.verdict).toMatchObject({ decision: 'fail', blocking: 2, subject: { digest: image.digest } })

    // Every file scan-gate wrote: log and annotations, summary, outputs, the normalised report, the SARIF, the verdict.
    expect(result.secrets).toContain(PASSWORD)
    const files = [result.outputs.report, result.outputs.sarif] as string[]
    expect(files.every(file => file !== '')).toBe(true)
    const written = [
      ...shownText(result),
      ...(await Promise.all(files.map(file => readFile(file, 'utf8')))),
      JSON.stringify(found?.verdict)
    ]
    for (const text of written) expect(text).not.toContain(PASSWORD)
  })

  it("scans with every finding whatever the job's TRIVY_* settings, naming (not showing) the ones it dropped", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'e2e-gate-env-'))
    try {
      await writeFile(join(dir, '.trivyignore'), '# patched in our fork\nCVE-2024-1001\n')
      const ignorefile = join(dir, 'job-wide.trivyignore')
      await writeFile(ignorefile, 'CVE-2024-1002\n')
      const result = await gate(
        {
          'image-ref': `${registry.host}/octo/app@${image.digest}`,
          'scanner-url': `${server.url}/mirror`,
          'scanner-version': `0.69.2@sha256:${sum}`,
          'registry-username': 'bot',
          'registry-password': PASSWORD
        },
        dir,
        // What a job that also runs trivy-action often sets for all its steps.
        { TRIVY_SEVERITY: 'CRITICAL', TRIVY_IGNORE_UNFIXED: 'true', TRIVY_IGNOREFILE: ignorefile }
      )
      expect([result.outputs.decision, result.outputs.blocking]).toEqual(['fail', '1'])
      expect(errors(result)).toEqual([
        expect.stringContaining('fail (1 high finding (none allowed)): see the job summary')
      ])
      expect(result.log).toContain(
        "trivy runs without TRIVY_IGNOREFILE, TRIVY_IGNORE_UNFIXED, TRIVY_SEVERITY from the job's environment"
      )
      expect(result.log).not.toContain(ignorefile)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('judges a report with the policy file, .trivyignore, VEX and ignore-unfixed: passes, writes schema-valid SARIF', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'e2e-gate-report-'))
    try {
      await copyFile(fixture('trivy-mixed.json'), join(dir, 'trivy.json'))
      await writeFile(
        join(dir, 'scan-policy.yml'),
        [
          'severity: high',
          'ignore-unfixed: true',
          'ignore:',
          '  - { id: CVE-2024-0001, package: libssl3, reason: reached only by the admin CLI, expires: 2099-12-31 }',
          '  - { id: CVE-2024-0002, reason: timing side channel needs local access, expires: 2020-01-01 }'
        ].join('\n')
      )
      await writeFile(
        join(dir, '.trivyignore'),
        '# bash is not in the runtime path\nCVE-2024-0010\nCVE-2024-0002\n'
      )
      await writeFile(
        join(dir, 'app.vex.json'),
        JSON.stringify({
          '@context': 'https://openvex.dev/ns/v0.2.0',
          '@id': 'https://example.com/vex/1',
          author: 'octo security',
          timestamp: '2026-01-01T00:00:00Z',
          version: 1,
          statements: [
            {
              vulnerability: { name: 'CVE-2023-45288' },
              products: [
                { '@id': `pkg:oci/app@${encodeURIComponent(FIXTURE_DIGEST)}?repository_url=ghcr.io/octo/app` }
              ],
              status: 'not_affected',
              justification: 'vulnerable_code_not_in_execute_path',
              impact_statement: 'the HTTP/2 server is never started'
            }
          ]
        })
      )
      const result = await gate(
        {
          'image-ref': `${FIXTURE_IMAGE}:1.0@${FIXTURE_DIGEST}`,
          report: 'trivy.json',
          policy: 'scan-policy.yml',
          vex: 'app.vex.json',
          sarif: 'out/scan-gate.sarif'
        },
        dir
      )
      expect(errors(result)).toEqual([])
      expect(result.exitCode).toBe(0)
      expect(result.outputs.decision).toBe('pass')
      expect(result.outputs.sarif).toBe(join(dir, 'out/scan-gate.sarif'))
      expect(JSON.parse(result.outputs['expired-ignores'] as string)).toEqual([
        {
          id: 'CVE-2024-0002',
          expires: '2020-01-01',
          reason: 'timing side channel needs local access',
          source: 'scan-policy.yml:5',
          matches: 1
        }
      ])
      expect(result.annotations.filter(a => a.level === 'warning').map(a => a.message)).toContain(
        'ignore entry CVE-2024-0002 at scan-policy.yml:5 expired on 2020-01-01: it no longer applies'
      )
      expect(JSON.parse(result.outputs.counts as string).high).toEqual({
        total: 4,
        fixable: 2,
        blocking: 0,
        suppressed: 4
      })
      expect(result.summary).toContain(
        cell('not affected (VEX): vulnerable_code_not_in_execute_path; the HTTP/2 server is never started')
      )
      expect(result.summary).toContain(cell('bash is not in the runtime path [.trivyignore:2]'))
      const sarif = JSON.parse(await readFile(join(dir, 'out/scan-gate.sarif'), 'utf8'))
      const validate = sarifValidator()
      expect(validate(sarif)).toBe(true)
      expect(sarif.runs[0].results).toHaveLength(13)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('fails closed on a truncated report, with the reason and no decision', async () => {
    const text = await readFile(fixture('trivy-mixed.json'), 'utf8')
    await writeFile(join(workspace, 'cut.json'), text.slice(0, 4000))
    const result = await gate({
      'image-ref': `${FIXTURE_IMAGE}@${FIXTURE_DIGEST}`,
      report: 'cut.json',
      severity: 'critical',
      fail: 'false'
    })
    expect(result.exitCode).toBe(1)
    expect(errors(result)).toEqual([
      expect.stringMatching(
        /^input 'report' \(file cut\.json\) is truncated: the document is truncated: it ends after 4000 bytes inside Results/
      )
    ])
    expect(result.outputs).toEqual({})
  })

  it('refuses a tag-only image reference with a hint', async () => {
    const result = await gate({ 'image-ref': `${registry.host}/octo/app:v2`, report: 'cut.json' })
    expect(result.exitCode).toBe(1)
    expect(errors(result)[0]).toContain('set allow-mutable: true to scan the digest the tag points at now')
  })
})
