import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readInputs } from '../../src/actions/scan-gate/inputs.js'
import { ConfigurationError } from '../../src/lib/errors.js'
import { mapInputs } from '../../src/lib/inputs.js'
import { commandFor, isScannerSetting, PINNED_RELEASES, resolveRelease } from '../../src/lib/scanner/index.js'

const DIGEST = `sha256:${'ab'.repeat(32)}`
let workspace: string

beforeAll(async () => {
  workspace = await mkdtemp(join(tmpdir(), 'gate-inputs-'))
  await writeFile(join(workspace, 'report.json'), '{}')
  await writeFile(join(workspace, 'prod.json'), '{}')
  await mkdir(join(workspace, 'dir'))
  // A directory committed as a symlink out of the workspace: writing through it would land outside.
  await symlink(tmpdir(), join(workspace, 'escape'))
})
afterAll(() => rm(workspace, { recursive: true, force: true }))

const inputs = (values: Record<string, string>) =>
  readInputs(mapInputs({ 'image-ref': `ghcr.io/o/app@${DIGEST}`, ...values }), workspace)

async function refusal(values: Record<string, string>): Promise<string> {
  const error = await inputs(values).then(
    () => undefined,
    (thrown: unknown) => thrown
  )
  if (!(error instanceof ConfigurationError))
    throw new Error(`expected a ConfigurationError, got ${String(error)}`)
  return error.message
}

describe('scan-gate inputs', () => {
  it('reads defaults: trivy, fail on, no attach, severity and ignore-unfixed left to the policy', async () => {
    const read = await inputs({})
    expect(read).toMatchObject({ scanner: 'trivy', fail: true, attach: false, allowMutable: false, vex: [] })
    expect([read.severity, read.ignoreUnfixed, read.report, read.baseline]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined
    ])
    expect(read.imageRef).toMatchObject({ registry: 'ghcr.io', repository: 'o/app', digest: DIGEST })
  })

  it('refuses a tag-only reference unless allow-mutable, and says how to fix it', async () => {
    expect(await refusal({ 'image-ref': 'ghcr.io/o/app:latest' })).toContain(
      "input 'image-ref' must carry a digest (name@sha256:… or name:tag@sha256:…), got 'ghcr.io/o/app:latest'"
    )
    expect(
      (await inputs({ 'image-ref': 'ghcr.io/o/app:latest', 'allow-mutable': 'true' })).imageRef.tag
    ).toBe('latest')
    expect((await inputs({ 'image-ref': `ghcr.io/o/app:v1@${DIGEST}` })).imageRef).toMatchObject({
      tag: 'v1',
      digest: DIGEST
    })
  })

  it.each([
    [{ severity: 'severe' }, "input 'severity' must be one of critical, high, medium, low, unknown"],
    [{ severity: 'negligible' }, "input 'severity' must be one of"],
    [{ scanner: 'snyk' }, "input 'scanner' must be one of trivy, grype"],
    [{ report: 'missing.json' }, "input 'report': 'missing.json' does not exist"],
    [{ report: '/etc/hostname' }, "input 'report': '/etc/hostname' resolves outside the workspace"],
    [{ report: 'dir' }, "input 'report': 'dir' is not a regular file"],
    [{ baseline: '/etc/hostname' }, "input 'baseline': '/etc/hostname' resolves outside the workspace"],
    [{ sarif: '/proc/self/fd/1' }, "input 'sarif': '/proc/self/fd' resolves outside the workspace"],
    [{ sarif: 'escape/out.sarif' }, "escape' resolves outside the workspace"],
    [{ 'report-subject': 'maybe' }, "input 'report-subject' must be one of verify, trust"],
    [
      { timeout: '0s' },
      "input 'timeout' must be a duration such as 90s, 20m or 2h (from 1s to 24h); got '0s'"
    ],
    [{ timeout: '20' }, "input 'timeout' must be a duration"],
    [{ timeout: '25h' }, "input 'timeout' must be a duration"],
    [{ baseline: 'reports/prod.json' }, "input 'baseline': the report 'reports/prod.json' does not exist"],
    [{ baseline: 'Not An Image' }, "input 'baseline': 'Not An Image' is neither a report file"],
    [{ 'registry-username': 'bot' }, "inputs 'registry-username' and 'registry-password' go together"],
    [{ 'scanner-url': 'ftp://mirror' }, "input 'scanner-url' must be an http(s) URL"],
    [{ 'ignore-unfixed': 'yes' }, "input 'ignore-unfixed' must be 'true' or 'false'"],
    [{ fail: 'no' }, "input 'fail' must be 'true' or 'false'"]
  ])('refuses %j', async (values, message) => {
    expect(await refusal(values)).toContain(message)
  })

  it('resolves paths against the workspace and tells a baseline report from an image', async () => {
    const read = await inputs({
      report: 'report.json',
      vex: 'a.vex.json, b.vex.json',
      baseline: 'prod.json',
      sarif: 'out/scan.sarif',
      severity: 'CRITICAL',
      'ignore-unfixed': 'false'
    })
    expect(read.report).toBe(join(workspace, 'report.json'))
    expect(read.vex).toEqual([join(workspace, 'a.vex.json'), join(workspace, 'b.vex.json')])
    expect(read.baseline).toEqual({ kind: 'report', path: join(workspace, 'prod.json'), text: 'prod.json' })
    expect(read.sarif?.path).toBe(join(workspace, 'out/scan.sarif'))
    expect([read.reportSubject, read.timeoutMs]).toEqual(['verify', 20 * 60_000])
    expect((await inputs({ timeout: '90s', 'report-subject': 'trust' })).timeoutMs).toBe(90_000)
    expect([read.severity, read.ignoreUnfixed]).toEqual(['critical', false])
    const image = await inputs({ baseline: 'ghcr.io/o/app:production' })
    expect(image.baseline).toMatchObject({ kind: 'image', ref: { repository: 'o/app', tag: 'production' } })
  })

  it('reads the database settings: inputs, else the job variables the scanner would read, else the tool cache', async () => {
    const env = { RUNNER_TOOL_CACHE: '/opt/hostedtoolcache' }
    const defaults = await readInputs(
      mapInputs({ 'image-ref': `ghcr.io/o/app@${DIGEST}` }),
      workspace,
      undefined,
      env
    )
    expect(defaults.database).toEqual({
      cacheDir: '/opt/hostedtoolcache/scan-gate-db/trivy',
      maxAgeMs: 24 * 3_600_000,
      updateAfterMs: 24 * 3_600_000,
      repository: undefined,
      javaRepository: undefined,
      updateUrl: undefined
    })
    const fromJob = await readInputs(
      mapInputs({ 'image-ref': `ghcr.io/o/app@${DIGEST}`, scanner: 'grype', 'db-max-age': '7d' }),
      workspace,
      undefined,
      { ...env, GRYPE_DB_CACHE_DIR: '/cache/grype', GRYPE_DB_UPDATE_URL: 'https://mirror.example/listing' }
    )
    expect(fromJob.database).toMatchObject({
      cacheDir: '/cache/grype',
      maxAgeMs: 7 * 24 * 3_600_000,
      updateUrl: 'https://mirror.example/listing'
    })
    expect(
      (
        await readInputs(
          mapInputs({ 'image-ref': `ghcr.io/o/app@${DIGEST}`, 'db-update-after': '6h' }),
          workspace,
          undefined,
          env
        )
      ).database
    ).toMatchObject({ maxAgeMs: 24 * 3_600_000, updateAfterMs: 6 * 3_600_000 })
    expect(await refusal({ 'db-update-after': '25h' })).toContain(
      "input 'db-update-after' (25h) is longer than db-max-age (24h)"
    )
    expect(await refusal({ 'db-max-age': '30s' })).toContain(
      "input 'db-max-age' must be a duration such as 90s, 20m or 2h (from 1m to 90d); got '30s'"
    )
    expect(await refusal({ scanner: 'grype', 'db-repository': 'ghcr.io/m/db' })).toContain(
      "input 'db-repository' is for Trivy, but scanner is grype"
    )
  })

  it('writes sarif inside the workspace or RUNNER_TEMP, nowhere else', async () => {
    const runnerTemp = await mkdtemp(join(tmpdir(), 'gate-runner-temp-'))
    try {
      const source = (sarif: string) => mapInputs({ 'image-ref': `ghcr.io/o/app@${DIGEST}`, sarif })
      const read = await readInputs(source(join(runnerTemp, 'out/scan.sarif')), workspace, runnerTemp)
      expect(read.sarif?.path).toBe(join(runnerTemp, 'out/scan.sarif'))
      await expect(
        readInputs(source(join(tmpdir(), 'elsewhere.sarif')), workspace, runnerTemp)
      ).rejects.toThrow('resolves outside the workspace')
    } finally {
      await rm(runnerTemp, { recursive: true, force: true })
    }
  })

  it("gives registry-username/password to the image's registry only; other hosts fall back to the Docker config", async () => {
    const read = await inputs({ 'registry-username': 'bot', 'registry-password': 's3cret-Pass' })
    expect(read.credentialsFor('ghcr.io')).toEqual({ username: 'bot', password: 's3cret-Pass' })
    for (const host of ['docker.io', 'ghcr.io:443', 'registry.example', '127.0.0.1:5000']) {
      expect(read.credentialsFor(host)).toBeUndefined()
    }
    expect((await inputs({})).credentialsFor('ghcr.io')).toBeUndefined()
    const hub = await inputs({
      'image-ref': `library/redis@${DIGEST}`,
      'registry-username': 'bot',
      'registry-password': 's3cret-Pass'
    })
    expect([hub.credentialsFor('docker.io'), hub.credentialsFor('ghcr.io')]).toEqual([
      { username: 'bot', password: 's3cret-Pass' },
      undefined
    ])
  })
})

describe('scanner release resolution', () => {
  it('uses the pinned version and the checksum kept in the source', () => {
    expect(resolveRelease({ scanner: 'trivy', platform: 'linux', arch: 'x64' })).toEqual({
      version: '0.69.2',
      file: 'trivy_0.69.2_Linux-64bit.tar.gz',
      sha256: PINNED_RELEASES.trivy.archives['linux-x64']?.sha256,
      url: 'https://github.com/aquasecurity/trivy/releases/download/v0.69.2/trivy_0.69.2_Linux-64bit.tar.gz'
    })
    expect(
      resolveRelease({
        scanner: 'grype',
        platform: 'linux',
        arch: 'arm64',
        mirror: 'https://mirror.example/grype/{version}/'
      })
    ).toMatchObject({
      file: 'grype_0.104.0_linux_arm64.tar.gz',
      url: 'https://mirror.example/grype/0.104.0/grype_0.104.0_linux_arm64.tar.gz'
    })
  })

  it('needs a checksum for any other version, and says where to get it', () => {
    expect(() =>
      resolveRelease({ scanner: 'trivy', version: '0.70.0', platform: 'linux', arch: 'x64' })
    ).toThrow(
      'no checksum for trivy 0.70.0 on linux-x64 is kept in this action (it keeps trivy 0.69.2); pin it as 0.70.0@sha256:<sha256 of trivy_0.70.0_Linux-64bit.tar.gz'
    )
    const sum = 'cd'.repeat(32)
    expect(
      resolveRelease({ scanner: 'trivy', version: `v0.70.0@sha256:${sum}`, platform: 'linux', arch: 'x64' })
    ).toMatchObject({ version: '0.70.0', sha256: sum })
    expect(() => resolveRelease({ scanner: 'trivy', version: 'latest' })).toThrow("'latest' is not a version")
    expect(() => resolveRelease({ scanner: 'grype', platform: 'win32', arch: 'x64' })).toThrow(
      'grype publishes no release archive for win32-x64'
    )
  })

  it('keeps every pinned checksum as 64 hex digits', () => {
    for (const release of Object.values(PINNED_RELEASES)) {
      for (const archive of Object.values(release.archives)) expect(archive?.sha256).toMatch(/^[a-f0-9]{64}$/)
    }
  })
})

describe('scanner command line', () => {
  const request = {
    binary: '/t/trivy',
    image: `ghcr.io/o/app@${DIGEST}`,
    registry: 'ghcr.io',
    credentials: { username: 'bot', password: 's3cret-Pass' },
    workDir: '/w',
    timeoutMs: 60_000
  }

  it('trivy: JSON to a file, by digest, credentials only in the environment', () => {
    const { args, env } = commandFor({ ...request, scanner: 'trivy' }, '/w/report.json')
    expect(args).toEqual([
      'image',
      '--format',
      'json',
      '--output',
      '/w/report.json',
      '--scanners',
      'vuln',
      '--severity',
      'UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL',
      '--image-src',
      'remote',
      '--ignorefile',
      '/w/empty.trivyignore',
      '--no-progress',
      `ghcr.io/o/app@${DIGEST}`
    ])
    expect(env).toEqual({ TRIVY_USERNAME: 'bot', TRIVY_PASSWORD: 's3cret-Pass' })
  })

  it('grype: from the registry, JSON to a file, credentials only in the environment', () => {
    const { args, env } = commandFor({ ...request, scanner: 'grype' }, '/w/report.json')
    expect(args).toEqual([
      `registry:ghcr.io/o/app@${DIGEST}`,
      '--config',
      '/w/empty.grype.yaml',
      '--output',
      'json',
      '--file',
      '/w/report.json'
    ])
    expect(env).toEqual({
      GRYPE_CHECK_FOR_APP_UPDATE: 'false',
      GRYPE_REGISTRY_AUTH_AUTHORITY: 'ghcr.io',
      GRYPE_REGISTRY_AUTH_USERNAME: 'bot',
      GRYPE_REGISTRY_AUTH_PASSWORD: 's3cret-Pass'
    })
    expect(args.join(' ')).not.toContain('s3cret')
  })

  it('without credentials (a baseline on another registry) sets none', () => {
    expect(commandFor({ ...request, scanner: 'trivy', credentials: undefined }, '/w/r.json').env).toEqual({})
    expect(commandFor({ ...request, scanner: 'grype', credentials: undefined }, '/w/r.json').env).toEqual({
      GRYPE_CHECK_FOR_APP_UPDATE: 'false'
    })
  })

  it.each([
    ['TRIVY_SEVERITY', true],
    ['TRIVY_IGNORE_UNFIXED', true],
    ['TRIVY_IGNOREFILE', true],
    ['GRYPE_ONLY_FIXED', true],
    ['GRYPE_CONFIG', true],
    ['Grype_Only_Fixed', true],
    ['DOCKER_CONFIG', false],
    ['HOME', false],
    ['TRIVYX', false],
    ['MY_TRIVY_SEVERITY', false],
    // Database mirrors and caches change no finding, and air-gapped runners need them.
    ['TRIVY_DB_REPOSITORY', false],
    ['TRIVY_CACHE_DIR', false],
    ['GRYPE_DB_UPDATE_URL', false]
  ])('%s is a scanner setting the scanner does not inherit: %s', (name, dropped) => {
    expect(isScannerSetting(name)).toBe(dropped)
  })
})
