import { promises as fs } from 'node:fs'
import path from 'node:path'
import { ExternalError } from '../errors.js'
import { lastLines, type CommandRunner } from '../exec.js'
import { databaseArguments, type DatabaseSettings } from './database.js'
import { readReport } from './detect.js'
import { ReportError, type ScanReport } from './finding.js'
import type { ScannerName } from './releases.js'

export interface ScanRequest {
  scanner: ScannerName
  binary: string
  /** `registry/repository@sha256:…`: exactly the digest, never a tag. */
  image: string
  registry: string
  /** For `registry` only: undefined leaves the scanner to the Docker config. */
  credentials?: { username: string; password: string }
  /** A private directory: the report goes here, and the scanner runs here so no config file of the workspace applies. */
  workDir: string
  /** The scan is stopped (TERM, then KILL) and fails after this long. */
  timeoutMs: number
  /** The database cache and mirrors; the scan never updates the database itself (prepareDatabase does). */
  database?: DatabaseSettings
}

export interface ScanResult {
  report: ScanReport
  reportPath: string
  exitCode: number
}

export interface ScanLog {
  info(line: string): void
  warning(line: string): void
}

// Where the vulnerability database comes from and is cached, and how long to wait: they change no finding, and
// air-gapped runners need them (a mirror of the database).
const DATABASE_AND_NETWORK = new Set([
  'TRIVY_DB_REPOSITORY',
  'TRIVY_JAVA_DB_REPOSITORY',
  'TRIVY_CACHE_DIR',
  'TRIVY_TIMEOUT',
  'TRIVY_NO_PROGRESS',
  'GRYPE_DB_UPDATE_URL',
  'GRYPE_DB_CACHE_DIR',
  'GRYPE_DB_CA_CERT',
  'GRYPE_CHECK_FOR_APP_UPDATE'
])

/**
 * Settings Trivy and Grype read from their environment that the gate must not inherit. A job-level one
 * (TRIVY_SEVERITY, TRIVY_IGNORE_UNFIXED, GRYPE_ONLY_FIXED, GRYPE_CONFIG, …) would drop findings before the gate
 * sees them; only database, cache and network settings pass.
 */
export function isScannerSetting(name: string): boolean {
  return /^(TRIVY|GRYPE)_/i.test(name) && !DATABASE_AND_NETWORK.has(name.toUpperCase())
}

/**
 * Runs the scanner on the image with JSON output to a file, credentials in its environment (never its command
 * line) and none of the job's scanner settings. The report decides, never the exit code: a non-zero exit with a
 * complete report is noted and the report used; without a complete report it is "scanner failed", an error and
 * not a finding.
 */
export async function scanImage(
  runner: CommandRunner,
  request: ScanRequest,
  log: ScanLog
): Promise<ScanResult> {
  const reportPath = path.join(request.workDir, `${request.scanner}-report.json`)
  const { args, env } = commandFor(request, reportPath)
  await fs.writeFile(path.join(request.workDir, EMPTY_FILE[request.scanner]), '')
  const dropped = Object.keys(process.env)
    .filter(name => isScannerSetting(name) && !Object.hasOwn(env, name))
    .sort()
  if (dropped.length) {
    // Names only: values can be credentials.
    log.info(
      `${request.scanner} runs without ${dropped.join(', ')} from the job's environment: the gate needs every ` +
        'finding and applies its own policy (set it with the severity, ignore-unfixed and policy inputs)'
    )
  }
  const result = await runner.run(request.binary, args, {
    cwd: request.workDir,
    env,
    unset: isScannerSetting,
    timeoutMs: request.timeoutMs
  })
  const tail = lastLines(result, 20)
  if (result.timedOut) {
    throw new ExternalError(
      `scanner failed: ${request.scanner} did not finish within ${formatDuration(request.timeoutMs)} and was stopped; ` +
        `raise the timeout input if the image is that large${tail ? `:\n${tail}` : ''}`
    )
  }
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
    log.warning(
      `${request.scanner} exited with code ${result.exitCode} but wrote a complete report: the decision comes from the report`
    )
  }
  return { report, reportPath, exitCode: result.exitCode }
}

function formatDuration(ms: number): string {
  return ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`
}

/** An empty file each scanner is pointed at instead of any ignore or config file it would find on its own. */
const EMPTY_FILE: Record<ScannerName, string> = { trivy: 'empty.trivyignore', grype: 'empty.grype.yaml' }

/** The command line and environment for a scan; exported for tests. */
export function commandFor(
  request: ScanRequest,
  reportPath: string
): { args: string[]; env: Record<string, string> } {
  const env: Record<string, string> = {}
  const database = request.database
    ? databaseArguments(request.scanner, request.database)
    : { args: [], env: {} }
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
        // Every severity: the gate applies its own threshold, so Trivy must not filter first.
        '--severity',
        'UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL',
        '--image-src',
        'remote',
        // The gate applies .trivyignore itself (with reasons and expiry), so Trivy must not drop findings first.
        '--ignorefile',
        path.join(request.workDir, EMPTY_FILE.trivy),
        '--no-progress',
        ...database.args,
        request.image
      ],
      env: { ...env, ...database.env }
    }
  }
  env.GRYPE_CHECK_FOR_APP_UPDATE = 'false'
  if (request.credentials) {
    env.GRYPE_REGISTRY_AUTH_AUTHORITY = request.registry
    env.GRYPE_REGISTRY_AUTH_USERNAME = request.credentials.username
    env.GRYPE_REGISTRY_AUTH_PASSWORD = request.credentials.password
  }
  // `registry:` makes Grype pull from the registry instead of asking a local daemon. An explicit config file stops
  // Grype reading ~/.grype.yaml or $XDG_CONFIG_HOME/grype/config.yaml, whose ignore rules or only-fixed would drop
  // findings; with it empty and no GRYPE_* inherited, Grype reports every match.
  Object.assign(env, database.env)
  return {
    args: [
      `registry:${request.image}`,
      '--config',
      path.join(request.workDir, EMPTY_FILE.grype),
      '--output',
      'json',
      '--file',
      reportPath
    ],
    env
  }
}
