import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals'
import * as tc from '@actions/tool-cache'
import { execFile } from 'node:child_process'
import http from 'node:http'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ExternalError } from '../../src/lib/errors.js'
import {
  installScanner,
  PINNED_RELEASES,
  readReport,
  type InstallOptions
} from '../../src/lib/scanner/index.js'
import {
  standinArchive,
  startArchiveServer,
  type ArchiveServer,
  type StandinArchive
} from '../support/scanner/standin.js'

const run = promisify(execFile)
const TRIVY_FILE = 'trivy_0.69.2_Linux-64bit.tar.gz'
const GRYPE_FILE = 'grype_0.104.0_linux_amd64.tar.gz'
const DIGEST = `sha256:${'9f'.repeat(32)}`

let server: ArchiveServer
let trivy: StandinArchive
let grype: StandinArchive
let dirs: string
const savedEnv = { ...process.env }

beforeAll(async () => {
  server = await startArchiveServer()
  ;[trivy, grype] = await Promise.all([
    standinArchive('trivy', TRIVY_FILE),
    standinArchive('grype', GRYPE_FILE)
  ])
  server.serve(`/${TRIVY_FILE}`, trivy.bytes)
  server.serve(`/${GRYPE_FILE}`, grype.bytes)
  const empty = await standinArchive('trivy', 'trivy_0.69.3_Linux-64bit.tar.gz', { binary: false })
  server.serve('/empty/trivy_0.69.3_Linux-64bit.tar.gz', empty.bytes)
  server.serve('/empty/sum', Buffer.from(empty.sha256))
})

afterAll(async () => {
  await server?.stop()
})

beforeEach(async () => {
  dirs = await mkdtemp(join(tmpdir(), 'tool-cache-test-'))
  process.env.RUNNER_TOOL_CACHE = join(dirs, 'cache')
  process.env.RUNNER_TEMP = join(dirs, 'temp')
})

afterEach(async () => {
  process.env = { ...savedEnv }
  await rm(dirs, { recursive: true, force: true })
})

/** The checksums kept in the source, with the stand-in archives' sums in place of the real ones. */
function standinReleases(): InstallOptions['releases'] {
  return {
    trivy: { version: '0.69.2', archives: { 'linux-x64': { file: TRIVY_FILE, sha256: trivy.sha256 } } },
    grype: { version: '0.104.0', archives: { 'linux-x64': { file: GRYPE_FILE, sha256: grype.sha256 } } }
  }
}

const opts = (extra: Partial<InstallOptions>): InstallOptions => ({
  scanner: 'trivy',
  mirror: server.url,
  platform: 'linux',
  arch: 'x64',
  releases: standinReleases(),
  ...extra
})

describe('scanner installation with @actions/tool-cache (stand-in archives from a local HTTP server)', () => {
  it('downloads the stand-in trivy archive, verifies it, caches it, and the executable writes a real Trivy report', async () => {
    const installed = await installScanner(opts({}))
    expect(installed).toMatchObject({
      name: 'trivy',
      version: '0.69.2',
      fromCache: false,
      url: `${server.url}/${TRIVY_FILE}`,
      sha256: trivy.sha256
    })
    expect(installed.binary).toBe(
      join(process.env.RUNNER_TOOL_CACHE as string, 'trivy', '0.69.2', 'x64', 'trivy')
    )
    expect(tc.find('trivy', '0.69.2', 'x64')).toBe(
      join(process.env.RUNNER_TOOL_CACHE as string, 'trivy', '0.69.2', 'x64')
    )

    const output = join(dirs, 'report.json')
    await run(installed.binary, ['image', '--format', 'json', '--output', output, `ghcr.io/o/app@${DIGEST}`])
    const report = await readReport(output)
    expect([report.format, report.findings.map(f => f.id), report.artifact.digests]).toEqual([
      'trivy',
      ['CVE-2024-1001', 'CVE-2024-1002', 'CVE-2024-1003'],
      [DIGEST]
    ])
    // The download itself was removed from RUNNER_TEMP.
    expect((await readdir(process.env.RUNNER_TEMP as string)).filter(name => !name.startsWith('.'))).toEqual(
      []
    )
  })

  it('reuses the tool cache on a later run without downloading again (stand-in)', async () => {
    await installScanner(opts({}))
    const before = server.requests.length
    const again = await installScanner(opts({}))
    expect([again.fromCache, again.url, server.requests.length]).toEqual([true, undefined, before])
  })

  it('installs the stand-in grype the same way', async () => {
    const installed = await installScanner(opts({ scanner: 'grype' }))
    const output = join(dirs, 'grype.json')
    await run(installed.binary, [`registry:ghcr.io/o/app@${DIGEST}`, '--output', 'json', '--file', output])
    const report = await readReport(output)
    expect([report.format, report.findings.length, report.artifact.digests]).toEqual(['grype', 3, [DIGEST]])
  })

  it('refuses an archive whose checksum is not the one kept in the source, showing both sums (stand-in vs real pin)', async () => {
    const error = await installScanner(opts({ releases: PINNED_RELEASES })).then(
      () => undefined,
      (thrown: unknown) => thrown
    )
    expect(error).toBeInstanceOf(ExternalError)
    expect((error as Error).message).toBe(
      `checksum mismatch for ${TRIVY_FILE} downloaded from ${server.url}/${TRIVY_FILE}: ` +
        `expected sha256 ${PINNED_RELEASES.trivy.archives['linux-x64']?.sha256}, got sha256 ${trivy.sha256}. ` +
        'The download was discarded; nothing was run.'
    )
    expect(tc.find('trivy', '0.69.2', 'x64')).toBe('')
  })

  it('installs another version pinned with its checksum in scanner-version (stand-in)', async () => {
    const mirror = `${server.url}/empty`
    const sum = (await (await fetch(`${mirror}/sum`)).text()).trim()
    await expect(installScanner(opts({ version: `0.69.3@sha256:${sum}`, mirror }))).rejects.toThrow(
      "trivy_0.69.3_Linux-64bit.tar.gz has no executable 'trivy' at its top level"
    )
    expect(tc.find('trivy', '0.69.3', 'x64')).toBe('')
  })

  it('says which URL failed with which HTTP status', async () => {
    await expect(installScanner(opts({ mirror: `${server.url}/nowhere` }))).rejects.toThrow(
      `downloading trivy 0.69.2 from ${server.url}/nowhere/${TRIVY_FILE} failed (HTTP 404)`
    )
  })

  describe('a download has time bounds', () => {
    let stalling: http.Server
    let url: string
    const sockets = new Set<import('node:net').Socket>()
    beforeAll(async () => {
      stalling = http.createServer((req, res) => {
        if (req.url?.startsWith('/headers/')) return // never answers
        res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': '1000000' })
        res.write(Buffer.alloc(10))
        if (req.url?.startsWith('/drip/')) {
          const drip = setInterval(() => res.write(Buffer.alloc(1)), 100)
          res.on('close', () => clearInterval(drip))
        } // else: the body stalls after 10 bytes
      })
      stalling.on('connection', socket => {
        sockets.add(socket)
        socket.on('close', () => sockets.delete(socket))
      })
      await new Promise<void>(resolve => stalling.listen(0, '127.0.0.1', resolve))
      url = `http://127.0.0.1:${(stalling.address() as import('node:net').AddressInfo).port}`
    })
    afterAll(async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise(resolve => stalling.close(resolve))
    })

    it.each([
      ['headers that never come', 'headers', /failed: no data arrived for 0\.5s|failed: Request timeout/],
      ['a body that stalls', 'body', /failed: no data arrived for 0\.5s/],
      ['a body drip-fed forever', 'drip', /failed: it did not finish within 2s/]
    ])('ends %s with an error, in time', async (_name, path, message) => {
      const started = Date.now()
      const error = await installScanner(
        opts({ mirror: `${url}/${path}`, download: { stallMs: 500, totalMs: 2000 } })
      ).then(
        () => undefined,
        (thrown: unknown) => thrown
      )
      expect(error).toBeInstanceOf(ExternalError)
      expect((error as Error).message).toMatch(message)
      expect(Date.now() - started).toBeLessThan(10_000)
      // Nothing half-downloaded is left behind.
      expect((await readdir(process.env.RUNNER_TEMP as string)).filter(f => f.endsWith('.tar.gz'))).toEqual(
        []
      )
    })
  })
})
