import { promises as fs } from 'node:fs'
import path from 'node:path'
import { ExternalError } from '../errors.js'
import { lastLines, type CommandRunner } from '../exec.js'
import { readReport } from './detect.js'
import { ReportError, type ScanReport } from './finding.js'
import type { ScannerName } from './releases.js'

export interface ScanRequest {
  scanner: ScannerName
  binary: string
  /** `registry/repository@sha256:…`: exactly the digest, never a tag. */
  image: string
  registry: string
  credentials?: { username: string; password: string }
  /** A private directory: the report goes here, and the scanner runs here so no config file of the workspace applies. */
  workDir: string
}

export interface ScanResult {
  report: ScanReport
  reportPath: string
  exitCode: number
}

/**
 * Runs the scanner on the image with JSON output to a file, credentials in its environment (never its command
 * line). The report decides, never the exit code: a non-zero exit with a complete report is noted and the report
 * used; without a complete report it is "scanner failed", an error and not a finding.
 */
export async function scanImage(
  runner: CommandRunner,
  request: ScanRequest,
  warn: (line: string) => void
): Promise<ScanResult> {
  const reportPath = path.join(request.workDir, `${request.scanner}-report.json`)
  const { args, env } = commandFor(request, reportPath)
  await fs.writeFile(path.join(request.workDir, 'empty.trivyignore'), '')
  const result = await runner.run(request.binary, args, { cwd: request.workDir, env })
  const tail = lastLines(result, 20)
  const size = await fs.stat(reportPath).then(
    stat => stat.size,
    () => -1
  )
  if (size <= 0) {
    const what = size < 0 ? 'wrote no report' : 'wrote an empty report'
    throw new ExternalError(
      `scanner failed: ${request.scanner} exited with code ${result.exitCode} and ${what}${tail ? `:\n${tail}` : ''}`
    )
  }
  let report: ScanReport
  try {
    report = await readReport(reportPath, `the ${request.scanner} report`)
  } catch (error) {
    if (error instanceof ReportError && result.exitCode !== 0) {
      throw new ExternalError(
        `scanner failed: ${request.scanner} exited with code ${result.exitCode} and its report is incomplete (${error.message})${tail ? `:\n${tail}` : ''}`
      )
    }
    throw error
  }
  if (result.exitCode !== 0) {
    warn(
      `${request.scanner} exited with code ${result.exitCode} but wrote a complete report: the decision comes from the report`
    )
  }
  return { report, reportPath, exitCode: result.exitCode }
}

/** The command line and environment for a scan; exported for tests. */
export function commandFor(
  request: ScanRequest,
  reportPath: string
): { args: string[]; env: Record<string, string> } {
  const env: Record<string, string> = {}
  if (request.scanner === 'trivy') {
    if (request.credentials) {
      env.TRIVY_USERNAME = request.credentials.username
      env.TRIVY_PASSWORD = request.credentials.password
    }
    return {
      args: [
        'image',
        '--format',
        'json',
        '--output',
        reportPath,
        '--scanners',
        'vuln',
        '--image-src',
        'remote',
        // The gate applies .trivyignore itself (with reasons and expiry), so Trivy must not drop findings first.
        '--ignorefile',
        path.join(request.workDir, 'empty.trivyignore'),
        '--no-progress',
        request.image
      ],
      env
    }
  }
  env.GRYPE_CHECK_FOR_APP_UPDATE = 'false'
  if (request.credentials) {
    env.GRYPE_REGISTRY_AUTH_AUTHORITY = request.registry
    env.GRYPE_REGISTRY_AUTH_USERNAME = request.credentials.username
    env.GRYPE_REGISTRY_AUTH_PASSWORD = request.credentials.password
  }
  // `registry:` makes Grype pull from the registry instead of asking a local daemon.
  return { args: [`registry:${request.image}`, '--output', 'json', '--file', reportPath], env }
}
