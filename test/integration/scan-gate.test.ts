import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals'
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { scanGate, type Collaborators } from '../../src/actions/scan-gate/main.js'
import type { OutputName } from '../../src/actions/scan-gate/inputs.js'
import { ConfigurationError, ExternalError } from '../../src/lib/errors.js'
import { createCommandRunner } from '../../src/lib/exec.js'
import { mapInputs } from '../../src/lib/inputs.js'
import { cell } from '../../src/lib/summary.js'
import { createRegistryClient, OCI_INDEX } from '../../src/lib/registry/index.js'
import { installScanner, ReportError } from '../../src/lib/scanner/index.js'
import { findVerdict, referrersTag, VERDICT_ARTIFACT_TYPE } from '../../src/lib/verdict/index.js'
import {
  pushTestImage,
  request,
  startRegistry,
  type PushedImage,
  type TestRegistry
} from '../support/registry.js'
import { startRegistryProxy, type RegistryProxy } from '../support/registry-proxy.js'
import { standInHelper } from '../support/credential-helper.js'
import {
  fixture,
  standinArchive,
  startArchiveServer,
  type ArchiveServer
} from '../support/scanner/standin.js'

const PASSWORD = 'gate-Registry-Pass-5521'
const OTHER_PASSWORD = 'baseline-Registry-Pass-7730'
const TRIVY_FILE = 'trivy_0.69.2_Linux-64bit.tar.gz'
const GRYPE_FILE = 'grype_0.104.0_linux_amd64.tar.gz'
const NOW = Date.parse('2026-03-15T12:00:00Z')

let registry: TestRegistry
let server: ArchiveServer
let trivySum: string
let grypeSum: string
let image: PushedImage
let multi: PushedImage
let dir: string
let workspace: string
const savedEnv = { ...process.env }

beforeAll(async () => {
  ;[registry, server] = await Promise.all([
    startRegistry({ auth: { username: 'bot', password: PASSWORD } }),
    startArchiveServer()
  ])
  const [trivy, grype] = await Promise.all([
    standinArchive('trivy', TRIVY_FILE),
    standinArchive('grype', GRYPE_FILE)
  ])
  server.serve(`/${TRIVY_FILE}`, trivy.bytes)
  server.serve(`/${GRYPE_FILE}`, grype.bytes)
  trivySum = trivy.sha256
  grypeSum = grype.sha256
  image = await pushTestImage(registry, 'octo/app', 'v1', { content: 'gate me\n' })
  multi = await pushTestImage(registry, 'octo/multi', 'v1', { platforms: ['linux/amd64', 'linux/arm64'] })
}, 60_000)

afterAll(async () => {
  await Promise.all([registry?.stop(), server?.stop()])
})

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scan-gate-it-'))
  workspace = join(dir, 'ws')
  await import('node:fs/promises').then(fs => fs.mkdir(workspace))
  process.env.RUNNER_TOOL_CACHE = join(dir, 'tool-cache')
  process.env.RUNNER_TEMP = join(dir, 'temp')
  await import('node:fs/promises').then(fs => fs.mkdir(join(dir, 'temp')))
})

afterEach(async () => {
  process.env = { ...savedEnv }
  await rm(dir, { recursive: true, force: true })
})

interface Run {
  outputs: Partial<Record<OutputName, string>>
  summary: string
  error?: unknown
}

async function gate(
  values: Record<string, string>,
  options: { now?: number; registry?: Collaborators['registry']; env?: Record<string, string> } = {}
): Promise<Run> {
  const now = options.now ?? NOW
  const outputs: Run['outputs'] = {}
  let summary = ''
  const deps: Collaborators = {
    inputs: mapInputs({
      'image-ref': `${registry.host}/octo/app@${image.digest}`,
      'scanner-url': server.url,
      'scanner-version': `0.69.2@sha256:${trivySum}`,
      'registry-username': 'bot',
      'registry-password': PASSWORD,
      ...values
    }),
    env: {
      GITHUB_WORKSPACE: workspace,
      RUNNER_TEMP: join(dir, 'temp'),
      RUNNER_TOOL_CACHE: join(dir, 'tool-cache'),
      ...options.env
    },
    runner: createCommandRunner(),
    registry:
      options.registry ??
      (credentials => createRegistryClient({ credentials, ca: registry.caPem, env: {}, retries: 0 })),
    install: options => installScanner(options),
    setOutput: (name, value) => (outputs[name] = value),
    writeSummary: async markdown => {
      summary += markdown
    },
    now: () => now
  }
  try {
    await scanGate(deps)
    return { outputs, summary }
  } catch (error) {
    return { outputs, summary, error }
  }
}

const pinned = (): string => `${registry.host}/octo/app@${image.digest}`
const basic = (username: string, password: string): string =>
  `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`

/** What the stand-in scanner logged about each run: the image it scanned and the credentials it was given. */
async function scannerCalls(): Promise<Array<{ image: string; credentials: object }>> {
  return (
    (await readFile(join(dir, 'standin.log'), 'utf8'))
      .trim()
      .split('\n')
      .map(line => JSON.parse(line))
      // Scans only: the database status and update calls name no image.
      .filter(call => call.argv.some((arg: string) => arg.includes('@sha256:')))
      .map(call => ({
        image: call.argv.find((arg: string) => arg.includes('@sha256:')),
        credentials: call.credentials
      }))
  )
}

/** Every call of the stand-in scanner, in order: database status and update calls, and scans. */
async function standinLog(): Promise<
  Array<{ tool: string; argv: string[]; cwd: string; credentials: object; db: Record<string, string> }>
> {
  return (await readFile(join(dir, 'standin.log'), 'utf8'))
    .trim()
    .split('\n')
    .map(line => JSON.parse(line))
}
const scan = (call: { argv: string[] }): boolean => call.argv.some(arg => arg.includes('@sha256:'))

/** The newest verdict attached to the image, read back as a later stage reads it. */
function attachedVerdict(): ReturnType<typeof findVerdict> {
  const client = createRegistryClient({
    credentials: { username: 'bot', password: PASSWORD },
    ca: registry.caPem,
    env: {}
  })
  return findVerdict(client, { registry: registry.host, repository: 'octo/app', digest: image.digest })
}

/** Runs `body` with stdout captured: what core.info writes to the job log. */
async function jobLog<T>(body: () => Promise<T>): Promise<[T, string]> {
  const written: string[] = []
  const write = process.stdout.write
  process.stdout.write = ((chunk: string | Uint8Array) => {
    written.push(String(chunk))
    return true
  }) as typeof process.stdout.write
  try {
    return [await body(), written.join('')]
  } finally {
    process.stdout.write = write
  }
}

describe('scan-gate in-process, stand-in trivy installed from a local server, real registry', () => {
  it('scans exactly the digest, blocks on critical and high, writes outputs, report and summary', async () => {
    process.env.STANDIN_LOG = join(dir, 'standin.log')
    const run = await gate({})
    expect((run.error as Error).name).toBe('GateFailure')
    expect((run.error as Error).message).toBe(
      `scan-gate blocked ${pinned()}: fail (1 critical finding (none allowed); 1 high finding (none allowed)): ` +
        'see the job summary for the findings'
    )
    expect(run.outputs.decision).toBe('fail')
    expect(run.outputs.blocking).toBe('2')
    expect(JSON.parse(run.outputs.counts as string)).toEqual({
      critical: { total: 1, fixable: 1, blocking: 1, suppressed: 0 },
      high: { total: 1, fixable: 0, blocking: 1, suppressed: 0 },
      medium: { total: 0, fixable: 0, blocking: 0, suppressed: 0 },
      low: { total: 1, fixable: 1, blocking: 0, suppressed: 0 },
      unknown: { total: 0, fixable: 0, blocking: 0, suppressed: 0 }
    })
    expect([run.outputs['verdict-ref'], run.outputs.sarif, run.outputs['expired-ignores']]).toEqual([
      '',
      '',
      '[]'
    ])
    const normalised = JSON.parse(await readFile(run.outputs.report as string, 'utf8'))
    expect(normalised.image).toBe(pinned())
    expect(
      normalised.findings.map((f: { id: string; disposition: string }) => [f.id, f.disposition])
    ).toEqual([
      ['CVE-2024-1001', 'blocking'],
      ['CVE-2024-1002', 'blocking'],
      ['CVE-2024-1003', 'allowed']
    ])
    expect(run.summary).toContain('## ❌ scan-gate: fail')
    expect(run.summary).toContain(
      `| [CVE\\-2024\\-1001](https://avd.aquasec.com/nvd/cve-2024-1001) | openssl | ${cell('3.0.11-1')} → ${cell('3.0.14-1')} | critical |`
    )
    expect(run.summary).toContain(
      `| [CVE\\-2024\\-1002](https://avd.aquasec.com/nvd/cve-2024-1002) | zlib1g | ${cell('1.2.13')} → no fix | high |`
    )

    // The scanner was asked for exactly the digest, with the credentials in its environment only.
    const call = (await standinLog()).find(scan) as Awaited<ReturnType<typeof standinLog>>[number]
    expect(call.argv.at(-1)).toBe(pinned())
    expect(call.credentials).toEqual({ username: 'bot', password: PASSWORD })
    expect(call.argv.join(' ')).not.toContain(PASSWORD)
    expect(call.cwd).not.toBe(workspace)
  })

  /** Runs `work` with the stand-in helper's variables in the process environment (it finds the helper on PATH). */
  async function withHelper<T>(helperEnv: Record<string, string>, work: () => Promise<T>): Promise<T> {
    const saved = { ...process.env }
    Object.assign(process.env, helperEnv)
    try {
      return await work()
    } finally {
      for (const key of Object.keys(helperEnv)) delete process.env[key]
      Object.assign(process.env, saved)
    }
  }
  const scans = async (): Promise<number> => (await standinLog().catch(() => [])).filter(scan).length

  it('without registry inputs, gives the scanner what the Docker config credential helper answers', async () => {
    process.env.STANDIN_LOG = join(dir, 'standin.log')
    const helper = await standInHelper(
      { credHelpers: { [registry.host]: 'standin' } },
      { [registry.host]: { Username: 'helped', Secret: 'Helper-Secret-41' } }
    )
    try {
      await withHelper(helper.env, () =>
        gate({ 'registry-username': '', 'registry-password': '', fail: 'false' }, { env: helper.env })
      )
      expect(await helper.asked()).toContain(registry.host)
      const call = (await standinLog()).filter(scan).at(-1)
      expect(call?.credentials).toEqual({ username: 'helped', password: 'Helper-Secret-41' })
    } finally {
      await helper.cleanup()
    }
  })

  it('a failing credential helper stops the run, naming it, before the scanner runs anonymously', async () => {
    process.env.STANDIN_LOG = join(dir, 'standin.log')
    const before = await scans()
    const helper = await standInHelper({ credHelpers: { [registry.host]: 'standin' } }, {}, 'fail')
    try {
      const run = await withHelper(helper.env, () =>
        gate({ 'registry-username': '', 'registry-password': '' }, { env: helper.env })
      )
      expect(String(run.error)).toMatch(/docker-credential-standin/)
      expect(await scans()).toBe(before)
    } finally {
      await helper.cleanup()
    }
  })

  it('with allow-mutable, gates the digest the tag points at now, and scans by that digest', async () => {
    process.env.STANDIN_LOG = join(dir, 'standin.log')
    const run = await gate({
      'image-ref': `${registry.host}/octo/app:v1`,
      'allow-mutable': 'true',
      fail: 'false'
    })
    expect(run.error).toBeUndefined()
    expect(run.summary).toContain(`| Digest | \`${image.digest}\` |`)
    const call = (await standinLog()).find(scan) as Awaited<ReturnType<typeof standinLog>>[number]
    expect(call.argv.at(-1)).toBe(pinned())
    const refused = await gate({ 'image-ref': `${registry.host}/octo/app:v1` })
    expect((refused.error as Error).message).toContain("input 'image-ref' must carry a digest")
  })

  it('passes with ignore-unfixed and an ignore for the critical, listing what it suppressed and why', async () => {
    await writeFile(
      join(workspace, '.trivyignore'),
      '# patched in our fork\nCVE-2024-1001 exp:2026-12-31\nCVE-2099-0001\n'
    )
    const run = await gate({ 'ignore-unfixed': 'true' })
    expect(run.error).toBeUndefined()
    expect([run.outputs.decision, run.outputs.blocking]).toEqual(['pass', '0'])
    expect(run.summary).toContain('## ✅ scan-gate: pass')
    expect(run.summary).toContain(`| ${cell('patched in our fork (until 2026-12-31) [.trivyignore:2]')} |`)
    expect(run.summary).toContain(`| ${cell('no fix available (ignore-unfixed)')} |`)
    expect(run.summary).toContain('- `CVE-2099-0001` (`.trivyignore:3`)')
  })

  it('attaches the verdict as a referrer of the digest; the Debian registry gets the sha256-<hex> referrers tag', async () => {
    const first = await gate({ attach: 'true', fail: 'false' })
    expect(first.error).toBeUndefined()
    const verdictRef = first.outputs['verdict-ref'] as string
    expect(verdictRef).toMatch(new RegExp(`^${registry.host}/octo/app@sha256:[a-f0-9]{64}$`))
    const verdictDigest = verdictRef.split('@')[1] as string

    // What the registry itself serves under the referrers tag: an OCI index listing the verdict manifest.
    const auth = {
      authorization: `Basic ${Buffer.from(`bot:${PASSWORD}`).toString('base64')}`,
      accept: OCI_INDEX
    }
    const tag = referrersTag(image.digest)
    expect(tag).toBe(image.digest.replace('sha256:', 'sha256-'))
    const served = await request('GET', new URL(`https://${registry.host}/v2/octo/app/manifests/${tag}`), {
      ca: registry.caPem,
      headers: auth
    })
    expect(served.status).toBe(200)
    const index = JSON.parse(served.body.toString('utf8'))
    expect(index.mediaType).toBe(OCI_INDEX)
    expect(index.manifests).toEqual([
      expect.objectContaining({
        digest: verdictDigest,
        artifactType: VERDICT_ARTIFACT_TYPE,
        mediaType: 'application/vnd.oci.image.manifest.v1+json'
      })
    ])
    const manifest = await request(
      'GET',
      new URL(`https://${registry.host}/v2/octo/app/manifests/${verdictDigest}`),
      {
        ca: registry.caPem,
        headers: { ...auth, accept: 'application/vnd.oci.image.manifest.v1+json' }
      }
    )
    const artifact = JSON.parse(manifest.body.toString('utf8'))
    expect(artifact.subject).toEqual({
      mediaType: image.mediaType,
      digest: image.digest,
      size: image.bytes.length
    })
    expect(artifact.artifactType).toBe(VERDICT_ARTIFACT_TYPE)
    expect(index.manifests[0].size).toBe(manifest.body.length)

    // The library function a later stage uses reads it back.
    const client = createRegistryClient({
      credentials: { username: 'bot', password: PASSWORD },
      ca: registry.caPem,
      env: {}
    })
    const ref = { registry: registry.host, repository: 'octo/app', digest: image.digest }
    const found = await findVerdict(client, ref)
    expect(found).toMatchObject({ digest: verdictDigest, ref: verdictRef, via: 'referrers-tag', count: 1 })
    expect(found?.verdict).toMatchObject({
      schemaVersion: 1,
      decision: 'fail',
      subject: { name: `${registry.host}/octo/app`, digest: image.digest },
      blocking: 2,
      counts: JSON.parse(first.outputs.counts as string),
      scanner: { name: 'trivy', version: '0.69.2', reportFormat: 'trivy' },
      time: new Date(NOW).toISOString()
    })
    expect(found?.verdict.policy.digest).toMatch(/^sha256:[a-f0-9]{64}$/)

    // A later verdict (another policy) is added to the same index; the newest is found.
    const second = await gate(
      { attach: 'true', severity: 'critical', 'ignore-unfixed': 'true', fail: 'false' },
      { now: NOW + 60_000 }
    )
    const again = await findVerdict(client, ref)
    expect(again).toMatchObject({ ref: second.outputs['verdict-ref'], count: 2 })
    expect(again?.verdict.policy).toMatchObject({ severity: 'critical', ignoreUnfixed: true })
    expect(again?.verdict.blocking).toBe(1)

    // An image without verdicts has none.
    expect(
      await findVerdict(client, { registry: registry.host, repository: 'octo/multi', digest: multi.digest })
    ).toBeUndefined()
  })

  it('refuses a report of another image (it records a different digest)', async () => {
    await copyFile(fixture('trivy-mixed.json'), join(workspace, 'trivy-mixed.json'))
    const run = await gate({ report: 'trivy-mixed.json' })
    expect(run.error).toBeInstanceOf(ReportError)
    expect((run.error as Error).message).toBe(
      `the report is for another image: it records 'sha256:${'a1'.repeat(32)}', not ${image.digest}`
    )
    expect(run.outputs.decision).toBeUndefined()
  })

  it('accepts a report recording a platform image of the index it gates', async () => {
    const platform = multi.images[1]?.digest as string
    const report = JSON.parse(await readFile(fixture('trivy-clean.json'), 'utf8'))
    report.Metadata.RepoDigests = [`${registry.host}/octo/multi@${platform}`]
    report.ArtifactName = `${registry.host}/octo/multi@${multi.digest}`.replace(/@.*/, ':v1')
    await writeFile(join(workspace, 'multi.json'), JSON.stringify(report))
    const run = await gate({
      'image-ref': `${registry.host}/octo/multi@${multi.digest}`,
      report: 'multi.json'
    })
    expect(run.error).toBeUndefined()
    expect(run.outputs.decision).toBe('pass')
    expect(run.summary).toContain(cell(`records ${platform}, a platform image of ${multi.digest}`))
  })

  it.each([
    ['crash', 'scanner failed: trivy exited with code 3 and wrote no report'],
    [
      'truncated',
      'scanner failed: trivy exited with code 1 and its report is incomplete (the trivy report is truncated'
    ]
  ])(
    'a scanner that exits non-zero without a complete report is an error, not a finding (stand-in %s)',
    async (mode, message) => {
      process.env.STANDIN_MODE = mode
      const run = await gate({})
      expect(run.error).toBeInstanceOf(ExternalError)
      expect((run.error as Error).message).toContain(message)
      expect(run.outputs.decision).toBeUndefined()
    }
  )

  it('stops a scanner that does not finish within the timeout, and fails saying so (stand-in hang)', async () => {
    process.env.STANDIN_MODE = 'hang'
    const started = Date.now()
    const run = await gate({ timeout: '2s' })
    expect(run.error).toBeInstanceOf(ExternalError)
    expect((run.error as Error).message).toMatch(
      /^scanner failed: trivy did not finish within 2s and was stopped; raise the timeout input/
    )
    expect(Date.now() - started).toBeLessThan(30_000)
    expect(run.outputs.decision).toBeUndefined()
  })

  it('decides from a complete report even when the scanner exits non-zero (stand-in exit-1)', async () => {
    process.env.STANDIN_MODE = 'exit-1'
    const run = await gate({ fail: 'false' })
    expect(run.error).toBeUndefined()
    expect([run.outputs.decision, run.outputs.blocking]).toEqual(['fail', '2'])
  })

  it('with a baseline image, only findings absent from it block (stand-in scans both)', async () => {
    process.env.STANDIN_LOG = join(dir, 'standin.log')
    const run = await gate({ baseline: `${registry.host}/octo/multi:v1` })
    expect(run.error).toBeUndefined()
    expect([run.outputs.decision, run.outputs.blocking]).toEqual(['pass', '0'])
    expect(run.summary).toContain('3 findings are also in the baseline and cannot block')
    expect(run.summary).toContain(cell(`image ${registry.host}/octo/multi@${multi.digest}`))
    // The baseline is on the image's registry: its scan gets the same credentials.
    const credentials = { username: 'bot', password: PASSWORD }
    expect(await scannerCalls()).toEqual([
      { image: pinned(), credentials },
      { image: `${registry.host}/octo/multi@${multi.digest}`, credentials }
    ])
  })

  it.each([
    ['trivy', { TRIVY_SEVERITY: 'CRITICAL', TRIVY_IGNORE_UNFIXED: 'true' }],
    ['grype', { GRYPE_ONLY_FIXED: 'true', GRYPE_CONFIG: '/nonexistent/job-grype.yaml' }]
  ])(
    "ignores the job's %s settings that would drop findings, and names them in the log",
    async (scanner, settings) => {
      // The critical finding is ignored here; the high one (no fix) is left for the scanner settings to hide.
      await writeFile(join(workspace, '.trivyignore'), '# patched in our fork\nCVE-2024-1001\n')
      Object.assign(process.env, settings)
      const version = scanner === 'trivy' ? `0.69.2@sha256:${trivySum}` : `0.104.0@sha256:${grypeSum}`
      const [run, log] = await jobLog(() => gate({ scanner, 'scanner-version': version }))
      expect([run.outputs.decision, run.outputs.blocking]).toEqual(['fail', '1'])
      expect((run.error as Error).message).toContain('fail (1 high finding (none allowed))')
      // Names only: the values never reach the log line.
      expect(log.split('\n').filter(line => line.includes('from the job'))).toEqual([
        `${scanner} runs without ${Object.keys(settings).sort().join(', ')} from the job's environment: the gate ` +
          'needs every finding and applies its own policy (set it with the severity, ignore-unfixed and policy inputs)'
      ])
    }
  )
})

describe('the vulnerability database comes from a cache (stand-in scanners)', () => {
  const HOUR = 3_600_000
  const cacheDir = (): string => join(dir, 'db-cache')
  const seed = async (scanner: 'trivy' | 'grype', builtAt: number): Promise<void> => {
    const built = new Date(builtAt).toISOString()
    const file = join(cacheDir(), scanner === 'trivy' ? 'db/metadata.json' : 'standin-status.json')
    await mkdir(join(file, '..'), { recursive: true })
    await writeFile(file, JSON.stringify(scanner === 'trivy' ? { Version: 2, UpdatedAt: built } : { built }))
  }
  const updates = (calls: Awaited<ReturnType<typeof standinLog>>) =>
    calls.filter(call => call.argv.includes('--download-db-only') || call.argv.join(' ') === 'db update')
  const grype = { scanner: 'grype', 'scanner-version': '' }

  beforeEach(() => {
    process.env.STANDIN_LOG = join(dir, 'standin.log')
  })

  it('a fresh database is used without an update; the summary and the verdict say how old it is', async () => {
    await seed('trivy', NOW - 2 * HOUR)
    // Later than the verdicts other tests attach to the same image, so this one is the newest.
    const run = await gate(
      { 'cache-dir': cacheDir(), fail: 'false', attach: 'true' },
      { now: NOW + 10 * 60_000 }
    )
    expect(run.error).toBeUndefined()
    const calls = await standinLog()
    expect(updates(calls)).toEqual([])
    const scanCall = calls.find(scan)
    expect(scanCall?.argv).toEqual(expect.arrayContaining(['--cache-dir', cacheDir(), '--skip-db-update']))
    const built = new Date(NOW - 2 * HOUR).toISOString()
    expect(run.summary).toContain(
      `| Vulnerability database | ${cell(`built ${built} (2h old), from the cache; source Trivy's default repository (mirror.gcr.io/aquasec/trivy-db, ghcr.io)`)} |`
    )
    const found = await attachedVerdict()
    expect(found?.verdict.database).toEqual({
      built,
      age: '2h',
      state: 'cache',
      source: "Trivy's default repository (mirror.gcr.io/aquasec/trivy-db, ghcr.io)"
    })
  })

  it('a stale database is updated first (from the mirror set), then scanned with', async () => {
    await seed('trivy', NOW - 72 * HOUR)
    process.env.STANDIN_DB_BUILT = new Date(NOW - HOUR).toISOString()
    const run = await gate({
      'cache-dir': cacheDir(),
      'db-repository': 'registry.example.com/mirror/trivy-db',
      'java-db-repository': 'registry.example.com/mirror/trivy-java-db',
      fail: 'false'
    })
    expect(run.error).toBeUndefined()
    const calls = await standinLog()
    expect(updates(calls).map(call => call.argv)).toEqual([
      [
        'image',
        '--download-db-only',
        '--cache-dir',
        cacheDir(),
        '--db-repository',
        'registry.example.com/mirror/trivy-db',
        '--java-db-repository',
        'registry.example.com/mirror/trivy-java-db'
      ]
    ])
    expect(calls.find(scan)?.argv).toEqual(
      expect.arrayContaining(['--skip-db-update', '--db-repository', 'registry.example.com/mirror/trivy-db'])
    )
    expect(run.summary).toContain(
      cell('(1h old), updated by this run; source registry.example.com/mirror/trivy-db')
    )
  })

  it('a missing database is downloaded into the cache-dir default under the tool cache', async () => {
    const run = await gate({ fail: 'false' })
    expect(run.error).toBeUndefined()
    const calls = await standinLog()
    expect(updates(calls)).toHaveLength(1)
    expect(updates(calls)[0]?.argv).toContain(join(dir, 'tool-cache', 'scan-gate-db', 'trivy'))
  })

  it.each([
    [
      'stale',
      NOW - 72 * HOUR,
      /the cached database was built .* \(3d 0h ago\), older than db-max-age: refusing to scan/
    ],
    ['missing', undefined, /and there is no database in the cache: refusing to scan with it/]
  ])(
    'a failed update with a %s database fails closed, saying how to fix it',
    async (_name, builtAt, message) => {
      if (builtAt !== undefined) await seed('trivy', builtAt)
      process.env.STANDIN_DB_UPDATE = 'fail'
      const run = await gate({ 'cache-dir': cacheDir() })
      expect(run.error).toBeInstanceOf(ExternalError)
      expect((run.error as Error).message).toMatch(message)
      expect((run.error as Error).message).toContain(
        'Set db-repository to a reachable mirror, or raise db-max-age'
      )
      expect((run.error as Error).message).toContain('TOOMANYREQUESTS')
      expect(run.outputs.decision).toBeUndefined()
      expect((await standinLog()).filter(scan)).toEqual([])
    }
  )

  it('db-update-after: a failed update scans with a cached database younger than db-max-age, with a warning', async () => {
    await seed('trivy', NOW - 10 * HOUR)
    process.env.STANDIN_DB_UPDATE = 'fail'
    const [run, log] = await jobLog(() =>
      gate(
        { 'cache-dir': cacheDir(), 'db-update-after': '6h', fail: 'false', attach: 'true' },
        { now: NOW + 20 * 60_000 }
      )
    )
    expect(run.error).toBeUndefined()
    const calls = await standinLog()
    expect(updates(calls)).toHaveLength(1)
    expect(calls.filter(scan)).toHaveLength(1)
    const built = new Date(NOW - 10 * HOUR).toISOString()
    expect(log).toContain(
      `::warning::the trivy vulnerability database could not be updated from Trivy's default repository ` +
        `(mirror.gcr.io/aquasec/trivy-db, ghcr.io) (exit code 1): scanning with the cached database, built ${built} ` +
        `(10h ago, within db-max-age 24h)`
    )
    expect(log).toContain('TOOMANYREQUESTS')
    expect(run.summary).toContain(cell('(10h old), from the cache: its update failed'))
    const found = await attachedVerdict()
    expect(found?.verdict.database).toMatchObject({ built, age: '10h', state: 'stale' })
  })

  it('db-update-after: younger than it, no update; older than db-max-age, a failed update still fails closed', async () => {
    await seed('trivy', NOW - 5 * HOUR)
    const young = await gate({ 'cache-dir': cacheDir(), 'db-update-after': '6h', fail: 'false' })
    expect(young.error).toBeUndefined()
    expect(updates(await standinLog())).toEqual([])

    await seed('trivy', NOW - 30 * HOUR)
    process.env.STANDIN_DB_UPDATE = 'fail'
    const old = await gate({ 'cache-dir': cacheDir(), 'db-update-after': '6h' })
    expect((old.error as Error).message).toMatch(
      /the cached database was built .* \(30h ago\), older than db-max-age: refusing to scan/
    )
    expect((await standinLog()).filter(scan)).toHaveLength(1)
  })

  it('db-update-after longer than db-max-age is refused', async () => {
    const run = await gate({ 'db-update-after': '2d', 'db-max-age': '1d' })
    expect(run.error).toBeInstanceOf(ConfigurationError)
    expect((run.error as Error).message).toContain(
      "input 'db-update-after' (2d) is longer than db-max-age (1d)"
    )
  })

  it('db-max-age decides what is fresh: 3 days old passes with db-max-age 7d', async () => {
    await seed('trivy', NOW - 72 * HOUR)
    process.env.STANDIN_DB_UPDATE = 'fail'
    const run = await gate({ 'cache-dir': cacheDir(), 'db-max-age': '7d', fail: 'false' })
    expect(run.error).toBeUndefined()
    expect(updates(await standinLog())).toEqual([])
  })

  it('grype: the cache, no auto-update and the mirror reach it through its environment', async () => {
    await seed('grype', NOW - 30 * HOUR)
    process.env.STANDIN_DB_BUILT = new Date(NOW - HOUR).toISOString()
    const version = `0.104.0@sha256:${grypeSum}`
    const run = await gate({
      ...grype,
      'scanner-version': version,
      'cache-dir': cacheDir(),
      'db-update-url': 'https://mirror.example.com/grype/databases/',
      fail: 'false'
    })
    expect(run.error).toBeUndefined()
    const calls = await standinLog()
    const env = {
      GRYPE_DB_CACHE_DIR: cacheDir(),
      GRYPE_DB_AUTO_UPDATE: 'false',
      GRYPE_DB_MAX_ALLOWED_BUILT_AGE: '86400s',
      GRYPE_DB_UPDATE_URL: 'https://mirror.example.com/grype/databases/'
    }
    expect(updates(calls).map(call => call.db)).toEqual([env])
    expect(calls.find(scan)?.db).toEqual(env)
    expect(run.summary).toContain(
      cell('(1h old), updated by this run; source https://mirror.example.com/grype/databases/')
    )
  })

  it('refuses a mirror input of the other scanner', async () => {
    const run = await gate({ 'db-update-url': 'https://mirror.example.com/' })
    expect(run.error).toBeInstanceOf(ConfigurationError)
    expect((run.error as Error).message).toBe(
      "input 'db-update-url' is for Grype, but scanner is trivy: use db-repository (and java-db-repository) for trivy"
    )
  })
})

describe('registry credentials go only to the image registry', () => {
  let other: TestRegistry
  let imageProxy: RegistryProxy
  let baselineProxy: RegistryProxy
  let base: PushedImage

  beforeAll(async () => {
    other = await startRegistry()
    base = await pushTestImage(other, 'octo/base', 'v1', { content: 'baseline\n' })
    // Both record what they receive; the baseline's also has a token service that wants its own credentials.
    ;[imageProxy, baselineProxy] = await Promise.all([
      startRegistryProxy(registry),
      startRegistryProxy(other, { bearer: { username: 'reader', password: OTHER_PASSWORD } })
    ])
  }, 60_000)

  afterAll(async () => {
    await Promise.all([imageProxy?.stop(), baselineProxy?.stop()])
    await other?.stop()
  })

  it("a baseline on another registry gets that registry's Docker config credentials, never the inputs", async () => {
    const dockerConfig = join(dir, 'docker')
    await mkdir(dockerConfig)
    await writeFile(
      join(dockerConfig, 'config.json'),
      JSON.stringify({
        auths: { [baselineProxy.host]: { auth: Buffer.from(`reader:${OTHER_PASSWORD}`).toString('base64') } }
      })
    )
    process.env.STANDIN_LOG = join(dir, 'standin.log')
    const subject = `${imageProxy.host}/octo/app@${image.digest}`
    const run = await gate(
      { 'image-ref': subject, baseline: `${baselineProxy.host}/octo/base:v1`, attach: 'true' },
      {
        registry: credentials =>
          createRegistryClient({
            credentials,
            ca: registry.caPem + other.caPem,
            env: { DOCKER_CONFIG: dockerConfig },
            retries: 0
          })
      }
    )
    // The baseline registry and its token service got only their own credentials, from the Docker config...
    expect(baselineProxy.tokenRequests.length).toBeGreaterThan(0)
    expect(baselineProxy.tokenRequests.map(r => r.username)).toEqual(
      baselineProxy.tokenRequests.map(() => 'reader')
    )
    const sent = baselineProxy.requests.map(r => r.authorization ?? '')
    expect(sent.filter(authorization => !/^(Bearer .+)?$/.test(authorization))).toEqual([])
    expect(run.error).toBeUndefined()
    expect([run.outputs.decision, run.outputs.blocking]).toEqual(['pass', '0'])
    expect(run.outputs['verdict-ref']).toMatch(new RegExp(`^${imageProxy.host}/octo/app@sha256:`))
    // ...while the image registry got the inputs' (pushing the verdict).
    expect(imageProxy.requests.some(r => r.authorization === basic('bot', PASSWORD))).toBe(true)

    // The scanner: credentials for the image's scan, none for the baseline's.
    expect(await scannerCalls()).toEqual([
      { image: subject, credentials: { username: 'bot', password: PASSWORD } },
      { image: `${baselineProxy.host}/octo/base@${base.digest}`, credentials: {} }
    ])
  })
})
