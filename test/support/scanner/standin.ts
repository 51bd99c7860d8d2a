import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const STANDIN = fileURLToPath(new URL('./standin/scanner.mjs', import.meta.url))
const FINDINGS = fileURLToPath(new URL('./standin/findings.json', import.meta.url))
export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url))

/** The digest and image the report fixtures record. */
export const FIXTURE_DIGEST = `sha256:${'a1'.repeat(32)}`
export const FIXTURE_IMAGE = 'ghcr.io/octo/app'

/** Path of a report fixture in test/support/scanner/fixtures. */
export function fixture(name: string): string {
  return join(FIXTURES, name)
}

/** The findings every stand-in scanner reports (the same for trivy and grype). */
export async function standinFindings(): Promise<
  Array<{ id: string; package: string; installed: string; fixed?: string; severity: string }>
> {
  return JSON.parse(await readFile(FINDINGS, 'utf8'))
}

export interface StandinArchive {
  /** The release file name the archive is served under (e.g. trivy_0.69.2_Linux-64bit.tar.gz). */
  file: string
  bytes: Buffer
  sha256: string
}

/**
 * A real `.tar.gz` release archive whose top-level executable (`trivy` or `grype`) is the stand-in scanner,
 * laid out as the projects' archives are (executable plus a LICENSE).
 */
export async function standinArchive(
  tool: 'trivy' | 'grype',
  file: string,
  options: { binary?: boolean } = {}
): Promise<StandinArchive> {
  const dir = await mkdtemp(join(tmpdir(), 'standin-archive-'))
  try {
    const content = join(dir, 'content')
    await mkdir(content)
    if (options.binary !== false) {
      await copyFile(STANDIN, join(content, tool))
      await chmod(join(content, tool), 0o755)
    }
    await copyFile(FINDINGS, join(content, 'findings.json'))
    await copyFile(FINDINGS, join(content, 'LICENSE'))
    const archive = join(dir, file)
    await run('tar', ['-czf', archive, '-C', content, '.'])
    const bytes = await readFile(archive)
    return { file, bytes, sha256: createHash('sha256').update(bytes).digest('hex') }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** A plain HTTP server on loopback standing in for the release download site or a mirror. */
export interface ArchiveServer {
  url: string
  /** Paths requested, in order. */
  requests: string[]
  serve(path: string, bytes: Buffer): void
  stop(): Promise<void>
}

export async function startArchiveServer(): Promise<ArchiveServer> {
  const files = new Map<string, Buffer>()
  const requests: string[] = []
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname
    requests.push(path)
    const body = files.get(path)
    if (!body) {
      res.writeHead(404, { 'content-type': 'text/plain' })
      res.end('not found')
      return
    }
    res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': String(body.length) })
    res.end(body)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    serve: (path, bytes) => files.set(path, bytes),
    stop: () => new Promise(resolve => server.close(() => resolve()))
  }
}

/** The stand-in Trivy's release archive on a local mirror, and the scan-gate inputs that install it from there. */
export async function mirroredStandinTrivy(): Promise<{
  server: ArchiveServer
  sha256: string
  inputs: { 'scanner-url': string; 'scanner-version': string }
}> {
  const file = 'trivy_0.69.2_Linux-64bit.tar.gz'
  const [server, archive] = await Promise.all([startArchiveServer(), standinArchive('trivy', file)])
  server.serve(`/mirror/${file}`, archive.bytes)
  return {
    server,
    sha256: archive.sha256,
    inputs: { 'scanner-url': `${server.url}/mirror`, 'scanner-version': `0.69.2@sha256:${archive.sha256}` }
  }
}
