/**
 * Hostile input through the committed scan-gate bundle, run as the runner runs it: reports that prove nothing,
 * files that point outside the workspace, FIFOs, symlinked outputs, HTML in findings, a scanner that hangs. Every
 * case also checks that neither the registry password nor a credential planted outside the workspace shows up in
 * anything scan-gate writes: log, annotations, summary, outputs, the normalised report and the SARIF file.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRegistryClient } from '../../src/lib/registry/index.js'
import { findVerdict } from '../../src/lib/verdict/index.js'
import { runAction, shownText, type ActionResult } from '../support/action-runner.js'
import { pushTestImage, startRegistry, type PushedImage, type TestRegistry } from '../support/registry.js'
import {
  fixture,
  FIXTURE_DIGEST,
  FIXTURE_IMAGE,
  mirroredStandinTrivy,
  type ArchiveServer
} from '../support/scanner/standin.js'

const PASSWORD = 'hostile-Gate-Pass-6604'
const CREDENTIAL = 'ghp_PlantedCredentialNeverShown0451'
const IMAGE_REF = `${FIXTURE_IMAGE}@${FIXTURE_DIGEST}`
const HTML = '<img src=x onerror=alert(document.domain)>'

let registry: TestRegistry
let server: ArchiveServer
let sum: string
let image: PushedImage
let root: string
/** A home directory outside the workspace holding credentials, as a runner's does. */
let home: string
const results: ActionResult[] = []

beforeAll(async () => {
  let mirror: Awaited<ReturnType<typeof mirroredStandinTrivy>>
  ;[registry, mirror] = await Promise.all([
    startRegistry({ auth: { username: 'bot', password: PASSWORD } }),
    mirroredStandinTrivy()
  ])
  server = mirror.server
  sum = mirror.sha256
  image = await pushTestImage(registry, 'octo/app', 'v3', { content: 'hostile gate\n' })
  root = await mkdtemp(join(tmpdir(), 'e2e-hostile-'))
  home = join(root, 'home')
  await mkdir(home)
  await writeFile(join(home, '.git-credentials'), `https://octo-bot:${CREDENTIAL}@github.com\n`)
  await writeFile(join(home, 'policy.yml'), `severity: critical # ${CREDENTIAL}\n`)
  await writeFile(join(home, 'target.sarif'), 'untouched\n')
  await copyFile(fixture('trivy-clean.json'), join(home, 'report.json'))
}, 60_000)

afterAll(async () => {
  for (const result of results) await result.cleanup()
  await Promise.all([registry?.stop(), server?.stop()])
  await rm(root, { recursive: true, force: true })
})

type Setup = (workspace: string) => Promise<void>

interface Case {
  name: string
  setup?: Setup
  inputs: Record<string, string>
  env?: Record<string, string>
  /** A failing run: the one error annotation matches this. */
  error?: RegExp
  /** A run that decides: its decision and, optionally, what else must hold. */
  decision?: 'pass' | 'fail'
  check?: (result: ActionResult, workspace: string) => Promise<void> | void
  /** The run must end within this long (a FIFO or a hanging scanner must not hold it). */
  withinMs?: number
}

const trivy = (fields: Record<string, unknown>) =>
  JSON.stringify({ SchemaVersion: 2, Results: [], ...fields })
const file =
  (name: string, content: string): Setup =>
  async workspace => {
    await mkdir(join(workspace, name, '..'), { recursive: true })
    await writeFile(join(workspace, name), content)
  }
const link =
  (name: string, target: () => string): Setup =>
  workspace =>
    symlink(target(), join(workspace, name))
const fifo =
  (name: string): Setup =>
  async workspace => {
    execFileSync('mkfifo', [join(workspace, name)])
  }
const all =
  (...setups: Setup[]): Setup =>
  async workspace => {
    for (const setup of setups) await setup(workspace)
  }
const cleanReport = file('report.json', trivy({ ArtifactName: IMAGE_REF }))

async function grypeWithNullSeverity(workspace: string): Promise<void> {
  const report = JSON.parse(await readFile(fixture('grype-mixed.json'), 'utf8'))
  report.matches = report.matches.slice(0, 1)
  report.matches[0].vulnerability.severity = null
  report.matches[0].vulnerability.id = 'CVE-2024-7777'
  await writeFile(join(workspace, 'grype.json'), JSON.stringify(report))
}

async function htmlFindings(workspace: string): Promise<void> {
  const report = JSON.parse(await readFile(fixture('trivy-mixed.json'), 'utf8'))
  const first = report.Results[0].Vulnerabilities[0]
  first.PkgName = `libssl3 ${HTML}`
  first.Title = HTML
  first.PrimaryURL = 'javascript:alert(1)'
  first.InstalledVersion = '[click](https://evil.example/)'
  first.Severity = 'CRITICAL'
  await writeFile(join(workspace, 'report.json'), JSON.stringify(report))
}

const CASES: Case[] = [
  // 1. A report must identify the image it gates.
  {
    name: 'a SARIF log without runs',
    setup: file('report.json', JSON.stringify({ version: '2.1.0', runs: [] })),
    inputs: { report: 'report.json' },
    error:
      /the report does not say it is of ghcr\.io\/octo\/app@sha256:a1.*records no image digest nor repository/
  },
  {
    name: 'a legacy Trivy array',
    setup: file('report.json', '[]'),
    inputs: { report: 'report.json' },
    error: /does not say it is of .*the legacy array .* never names the image.*set report-subject: trust/
  },
  {
    name: 'the legacy Trivy null',
    setup: file('report.json', 'null'),
    inputs: { report: 'report.json' },
    error: /does not say it is of/
  },
  {
    name: 'a Grype report with an empty target',
    setup: file('report.json', JSON.stringify({ matches: [], source: { type: 'image', target: {} } })),
    inputs: { report: 'report.json' },
    error: /records no image digest nor repository \(looked in source\.target/
  },
  {
    name: 'a Trivy report of another repository, by tag',
    setup: file(
      'report.json',
      trivy({ ArtifactName: 'docker.io/evil/other:latest', ArtifactType: 'container_image' })
    ),
    inputs: { report: 'report.json' },
    error: /the report is for another image: it records 'docker\.io\/evil\/other', not ghcr\.io\/octo\/app/
  },
  {
    name: 'a Trivy report of a tarball path',
    setup: file('report.json', trivy({ ArtifactName: '/tmp/image.tar', ArtifactType: 'container_image' })),
    inputs: { report: 'report.json' },
    error: /it records '\/tmp\/image\.tar', which is not an image reference/
  },
  {
    name: 'a Trivy report of another digest of the same repository',
    setup: file('report.json', trivy({ ArtifactName: `${FIXTURE_IMAGE}@sha256:${'0f'.repeat(32)}` })),
    inputs: { report: 'report.json' },
    error: /the report is for another image: it records 'sha256:0f0f/
  },
  {
    name: 'a legacy array accepted on purpose with report-subject: trust',
    setup: file('report.json', '[]'),
    inputs: { 'image-ref': '<registry>', report: 'report.json', 'report-subject': 'trust', attach: 'true' },
    decision: 'pass',
    check: async result => {
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
      expect(found?.verdict.reportSubject).toBe('trusted')
      expect(result.summary).toContain('its subject was taken on trust (`report-subject: trust`)')
      expect(result.annotations.filter(a => a.level === 'warning').map(a => a.message)).toContainEqual(
        expect.stringMatching(/^the report's subject was taken on trust \(report-subject: trust\)/)
      )
      const normalised = JSON.parse(await readFile(result.outputs.report as string, 'utf8'))
      expect(normalised.reportSubject.how).toBe('trusted')
    }
  },
  {
    name: 'a Trivy report naming the repository by tag (no digest): passes, warning the version is unknown',
    setup: file(
      'report.json',
      trivy({ ArtifactName: `${FIXTURE_IMAGE}:1.0`, ArtifactType: 'container_image' })
    ),
    inputs: { report: 'report.json' },
    decision: 'pass',
    check: result => {
      expect(result.annotations.map(a => a.message)).toContainEqual(
        expect.stringContaining('but no digest: which version of it was scanned is not recorded')
      )
    }
  },
  // 2. A Grype match whose severity is null is an unknown finding.
  {
    name: 'a Grype match with severity null, threshold unknown',
    setup: grypeWithNullSeverity,
    inputs: { report: 'grype.json', severity: 'unknown', fail: 'false' },
    decision: 'fail',
    check: result => {
      expect(result.outputs.blocking).toBe('1')
      expect(JSON.parse(result.outputs.counts as string).unknown).toMatchObject({ total: 1, blocking: 1 })
      expect(result.summary).toContain('CVE\\-2024\\-7777')
    }
  },
  {
    name: 'a Grype match with severity null, threshold high',
    setup: grypeWithNullSeverity,
    inputs: { report: 'grype.json' },
    decision: 'pass',
    check: result => {
      expect(JSON.parse(result.outputs.counts as string).unknown).toMatchObject({ total: 1, blocking: 0 })
    }
  },
  // 3. Stay inside the workspace; never echo what a file holds; regular files only.
  {
    name: '.trivyignore committed as a symlink to ~/.git-credentials',
    setup: all(
      cleanReport,
      link('.trivyignore', () => join(home, '.git-credentials'))
    ),
    inputs: { report: 'report.json' },
    error: /^\.trivyignore in the workspace: '\.trivyignore' resolves outside the workspace/
  },
  {
    name: '.trivyignore committed as a symlink to /proc/self/environ',
    setup: all(
      cleanReport,
      link('.trivyignore', () => '/proc/self/environ')
    ),
    inputs: { report: 'report.json' },
    error: /^\.trivyignore in the workspace: '\.trivyignore' resolves outside the workspace/
  },
  {
    name: '.trivyignore.yaml committed as a symlink to ~/.git-credentials',
    setup: all(
      cleanReport,
      link('.trivyignore.yaml', () => join(home, '.git-credentials'))
    ),
    inputs: { report: 'report.json' },
    error: /resolves outside the workspace/
  },
  {
    name: 'a .trivyignore holding a credential line inside the workspace',
    setup: all(
      cleanReport,
      file('.trivyignore', `CVE-2024-0001\nhttps://octo-bot:${CREDENTIAL}@github.com\n`)
    ),
    inputs: { report: 'report.json' },
    error: /^\.trivyignore:2: the entry is not a vulnerability id .*the line is not shown here/
  },
  {
    name: 'a FIFO as .trivyignore',
    setup: all(cleanReport, fifo('.trivyignore')),
    inputs: { report: 'report.json' },
    error: /^\.trivyignore in the workspace: '.*\.trivyignore' is not a regular file/,
    withinMs: 15_000
  },
  {
    name: 'a FIFO as the policy file',
    setup: all(cleanReport, fifo('policy.yml')),
    inputs: { report: 'report.json', policy: 'policy.yml' },
    error: /^input 'policy': .*policy\.yml' is not a regular file/,
    withinMs: 15_000
  },
  {
    name: 'a FIFO as the report',
    setup: fifo('report.json'),
    inputs: { report: 'report.json' },
    error: /^input 'report': 'report\.json' is not a regular file/,
    withinMs: 15_000
  },
  {
    name: 'a policy file outside the workspace',
    setup: cleanReport,
    inputs: { report: 'report.json', policy: '../home/policy.yml' },
    error: /^input 'policy': .* resolves outside the workspace/
  },
  {
    name: 'a policy file symlinked outside the workspace',
    setup: all(
      cleanReport,
      link('policy.yml', () => join(home, 'policy.yml'))
    ),
    inputs: { report: 'report.json', policy: 'policy.yml' },
    error: /^input 'policy': .* resolves outside the workspace/
  },
  {
    name: 'a VEX file symlinked to the credentials',
    setup: all(
      cleanReport,
      link('app.vex.json', () => join(home, '.git-credentials'))
    ),
    inputs: { report: 'report.json', vex: 'app.vex.json' },
    error: /^input 'vex': .* resolves outside the workspace/
  },
  {
    name: 'a baseline report symlinked outside the workspace',
    setup: all(
      cleanReport,
      link('baseline.json', () => join(home, 'report.json'))
    ),
    inputs: { report: 'report.json', baseline: 'baseline.json' },
    error: /^input 'baseline': 'baseline\.json' resolves outside the workspace/
  },
  {
    name: 'a report symlinked outside the workspace',
    setup: link('report.json', () => join(home, 'report.json')),
    inputs: { report: 'report.json' },
    error: /^input 'report': 'report\.json' resolves outside the workspace/
  },
  {
    name: 'a report that is /dev/zero',
    inputs: { report: '/dev/zero' },
    error: /^input 'report': '\/dev\/zero' resolves outside the workspace/,
    withinMs: 15_000
  },
  {
    name: 'sarif naming a symlink to a file outside the workspace',
    setup: all(
      cleanReport,
      link('scan.sarif', () => join(home, 'target.sarif'))
    ),
    inputs: { report: 'report.json', sarif: 'scan.sarif' },
    error: /^input 'sarif': 'scan\.sarif' is a symlink; name a regular file to write/,
    check: async () => expect(await readFile(join(home, 'target.sarif'), 'utf8')).toBe('untouched\n')
  },
  {
    name: 'sarif inside a directory symlinked outside the workspace',
    setup: all(
      cleanReport,
      link('out', () => home)
    ),
    inputs: { report: 'report.json', sarif: 'out/new.sarif' },
    error: /^input 'sarif': .*out' resolves outside the workspace/,
    check: () => expect(existsSync(join(home, 'new.sarif'))).toBe(false)
  },
  {
    name: 'sarif under /proc',
    setup: cleanReport,
    inputs: { report: 'report.json', sarif: '/proc/self/fd/1' },
    error: /^input 'sarif': '\/proc\/self\/fd' resolves outside the workspace/,
    withinMs: 15_000
  },
  {
    name: 'sarif in a new directory of the workspace',
    setup: cleanReport,
    inputs: { report: 'report.json', sarif: 'reports/deep/scan.sarif' },
    decision: 'pass',
    check: async (result, workspace) => {
      expect(result.outputs.sarif).toBe(join(workspace, 'reports/deep/scan.sarif'))
      expect(JSON.parse(await readFile(result.outputs.sarif as string, 'utf8')).version).toBe('2.1.0')
    }
  },
  // 4. Markdown from findings is escaped.
  {
    name: 'HTML, a javascript: link and Markdown in finding fields',
    setup: htmlFindings,
    inputs: { report: 'report.json', fail: 'false', severity: 'critical', sarif: 'scan.sarif' },
    decision: 'fail',
    check: async (result, workspace) => {
      const outsideCode = result.summary.replace(/(`+)([\s\S]*?[^`])\1(?!`)/g, '')
      expect(outsideCode).not.toMatch(/<(?!br>)/)
      expect(result.summary).not.toContain('javascript:')
      expect(result.summary).not.toContain('](https://evil.example')
      expect(result.summary).toContain('libssl3 &lt;img src\\=x onerror\\=alert\\(document\\.domain\\)&gt;')
      const sarif = await readFile(join(workspace, 'scan.sarif'), 'utf8')
      expect(sarif).not.toContain('(javascript:')
    }
  },
  // Own cases.
  {
    name: 'an unknown report-subject',
    setup: cleanReport,
    inputs: { report: 'report.json', 'report-subject': 'maybe' },
    error: /^input 'report-subject' must be one of verify, trust; got 'maybe'$/
  },
  {
    name: 'a report that is a directory',
    setup: async workspace => mkdir(join(workspace, 'report.json')),
    inputs: { report: 'report.json' },
    error: /^input 'report': 'report\.json' is not a regular file/
  },
  {
    name: 'a timeout that is not a duration',
    setup: cleanReport,
    inputs: { report: 'report.json', timeout: 'forever' },
    error: /^input 'timeout' must be a duration such as 90s, 20m or 2h/
  },
  {
    name: 'a scanner that hangs is stopped at the timeout',
    inputs: {
      'image-ref': '<registry>',
      'scanner-url': '<mirror>',
      'scanner-version': '<version>',
      timeout: '3s'
    },
    env: { STANDIN_MODE: 'hang' },
    error: /^scanner failed: trivy did not finish within 3s and was stopped; raise the timeout input/,
    withinMs: 40_000
  },
  {
    name: 'the stand-in scanner (a real run) still passes the subject check and writes SARIF',
    inputs: {
      'image-ref': '<registry>',
      'scanner-url': '<mirror>',
      'scanner-version': '<version>',
      sarif: 'scan.sarif',
      fail: 'false'
    },
    decision: 'fail',
    check: result => {
      expect(result.summary).toContain(`| Report subject | records ${image.digest.replace(/:/, '\\:')} |`)
    }
  }
]

/** The text of every file scan-gate wrote: log and annotations, summary, outputs, the report and the SARIF. */
async function written(result: ActionResult): Promise<string[]> {
  const files = [result.outputs.report, result.outputs.sarif].filter((f): f is string => !!f && existsSync(f))
  return [...shownText(result), ...(await Promise.all(files.map(f => readFile(f, 'utf8'))))]
}

describe('scan-gate bundle on hostile input', () => {
  it.each(CASES.map(c => [c.name, c] as const))('%s', async (_name, testCase) => {
    const workspace = await mkdtemp(join(root, 'ws-'))
    await testCase.setup?.(workspace)
    const inputs = Object.fromEntries(
      Object.entries({ 'image-ref': IMAGE_REF, ...testCase.inputs }).map(([key, value]) => [
        key,
        value
          .replace('<registry>', `${registry.host}/octo/app@${image.digest}`)
          .replace('<mirror>', `${server.url}/mirror`)
          .replace('<version>', `0.69.2@sha256:${sum}`)
      ])
    )
    const started = Date.now()
    const result = await runAction({
      actionDir: 'actions/scan-gate',
      inputs: { 'registry-username': 'bot', 'registry-password': PASSWORD, ...inputs },
      workspace,
      env: { NODE_EXTRA_CA_CERTS: registry.caFile, HOME: home, ...testCase.env },
      context: { repository: 'octo/app' },
      timeoutMs: 60_000
    })
    results.push(result)
    const errors = result.annotations.filter(a => a.level === 'error').map(a => a.message)
    if (testCase.error) {
      expect(result.exitCode).toBe(1)
      expect(errors).toEqual([expect.stringMatching(testCase.error)])
      expect(result.outputs.decision).toBeUndefined()
    } else {
      expect(errors).toEqual([])
      expect(result.exitCode).toBe(0)
      expect(result.outputs.decision).toBe(testCase.decision)
    }
    if (testCase.withinMs) expect(Date.now() - started).toBeLessThan(testCase.withinMs)
    await testCase.check?.(result, workspace)

    // Secrets never reach anything scan-gate writes (the runner masks the password in its log; the files are ours).
    expect(result.secrets).toContain(PASSWORD)
    for (const text of await written(result)) {
      expect(text).not.toContain(PASSWORD)
      expect(text).not.toContain(CREDENTIAL)
    }
  })
})
