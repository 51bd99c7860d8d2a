import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { ConfigurationError } from '../../lib/errors.js'
import { parseImageRef, type ImageRef } from '../../lib/image-ref.js'
import { InputReader, type InputSource } from '../../lib/inputs.js'
import type { Credentials } from '../../lib/registry/index.js'
import { parseSeverity, SEVERITIES, type Severity } from '../../lib/scanner/finding.js'
import type { DatabaseSettings } from '../../lib/scanner/database.js'
import { SCANNERS, type ScannerName } from '../../lib/scanner/releases.js'
import { resolveInside } from '../../lib/workspace-files.js'
import { planOutputFile, type OutputFile } from './output-file.js'
import { REPORT_SUBJECT_MODES, type ReportSubjectMode } from './report-subject.js'

export const INPUTS = [
  'image-ref',
  'allow-mutable',
  'report',
  'report-subject',
  'scanner',
  'scanner-version',
  'scanner-url',
  'registry-username',
  'registry-password',
  'severity',
  'ignore-unfixed',
  'policy',
  'vex',
  'baseline',
  'fail',
  'sarif',
  'attach',
  'timeout',
  'cache-dir',
  'db-max-age',
  'db-update-after',
  'db-repository',
  'java-db-repository',
  'db-update-url'
] as const
export type InputName = (typeof INPUTS)[number]

export const OUTPUTS = [
  'decision',
  'blocking',
  'counts',
  'report',
  'sarif',
  'expired-ignores',
  'verdict-ref'
] as const
export type OutputName = (typeof OUTPUTS)[number]

export type Baseline =
  { kind: 'report'; path: string; text: string } | { kind: 'image'; ref: ImageRef; text: string }

export interface GateInputs {
  /** The reference as written, and parsed; it has a digest unless `allowMutable`. */
  image: string
  imageRef: ImageRef
  allowMutable: boolean
  /** Absolute path of a report to judge instead of running a scanner. */
  report?: string
  /** Whether a report that records no image is refused (`verify`) or accepted on purpose (`trust`). */
  reportSubject: ReportSubjectMode
  scanner: ScannerName
  scannerVersion?: string
  scannerUrl?: string
  /**
   * registry-username/password for `host` when it is the image's registry, else undefined (then the Docker config
   * applies): a baseline on another registry, and its token service, never see them.
   */
  credentialsFor: (host: string) => Credentials | undefined
  /** Undefined: the policy file's, else high. */
  severity?: Severity
  /** Undefined: the policy file's, else false. */
  ignoreUnfixed?: boolean
  policy?: string
  vex: string[]
  baseline?: Baseline
  fail: boolean
  sarif?: OutputFile
  attach: boolean
  /** How long a scanner run may take before it is stopped and the step fails. */
  timeoutMs: number
  /** The vulnerability database's cache, freshness and mirrors (for scans this action runs). */
  database: DatabaseSettings
}

/**
 * Reads and validates every input once; `workspace` anchors relative paths, as the runner's cwd does. Files read
 * must resolve inside the workspace; the SARIF output inside it or `runnerTemp`.
 */
export async function readInputs(
  source: InputSource,
  workspace: string,
  runnerTemp?: string,
  env: NodeJS.ProcessEnv = {}
): Promise<GateInputs> {
  const read = new InputReader<InputName>(source)
  const resolve = (file: string): string => path.resolve(workspace, file)
  // First, so the runner masks it whatever input is refused next.
  const password = read.secret('registry-password')

  const image = read.required('image-ref')
  const imageRef = parseImageRef(image)
  const allowMutable = read.boolean('allow-mutable', false)
  if (!imageRef.digest && !allowMutable) {
    throw new ConfigurationError(
      `input 'image-ref' must carry a digest (name@sha256:… or name:tag@sha256:…), got '${image}': a tag can move ` +
        "between the scan and the deploy. Pass build-and-digest's image-ref output, or set allow-mutable: true to " +
        'scan the digest the tag points at now'
    )
  }

  const reportInput = read.optional('report')
  const report = reportInput ? resolveInside(workspace, reportInput, "input 'report'") : undefined
  if (report && !(await isFile(report))) {
    throw new ConfigurationError(
      `input 'report': '${reportInput}' is not a regular file (looked for ${report})`
    )
  }

  const scannerUrl = read.optional('scanner-url') || undefined
  if (scannerUrl && !/^https?:\/\/[^/\s]+/.test(scannerUrl)) {
    throw new ConfigurationError(
      `input 'scanner-url' must be an http(s) URL of a mirror holding the release archives, got '${scannerUrl}'`
    )
  }

  const severityText = read.optional('severity')
  const severity = severityText ? parseSeverity(severityText) : undefined
  if (severityText && (!severity || severityText.toLowerCase() === 'negligible')) {
    throw new ConfigurationError(
      `input 'severity' must be one of ${SEVERITIES.join(', ')}; got '${severityText}'`
    )
  }

  const username = read.optional('registry-username')
  if ((username === '') !== (password === '')) {
    throw new ConfigurationError(
      "inputs 'registry-username' and 'registry-password' go together: set both, or neither to use the Docker config"
    )
  }

  const credentials = username ? { username, password } : undefined
  const scanner = read.oneOf('scanner', SCANNERS, 'trivy')
  const policyInput = read.optional('policy')
  return {
    image,
    imageRef,
    allowMutable,
    report,
    reportSubject: read.oneOf('report-subject', REPORT_SUBJECT_MODES, 'verify'),
    scanner,
    scannerVersion: read.optional('scanner-version') || undefined,
    scannerUrl,
    credentialsFor: host => (host === imageRef.registry ? credentials : undefined),
    severity,
    ignoreUnfixed: read.optional('ignore-unfixed') === '' ? undefined : read.boolean('ignore-unfixed', false),
    policy: policyInput ? resolve(policyInput) : undefined,
    vex: read.list('vex').map(resolve),
    baseline: await readBaseline(read.optional('baseline'), workspace),
    fail: read.boolean('fail', true),
    sarif: read.optional('sarif')
      ? planOutputFile(workspace, read.optional('sarif'), "input 'sarif'", runnerTemp ? [runnerTemp] : [])
      : undefined,
    attach: read.boolean('attach', false),
    timeoutMs: readDuration(read.optional('timeout', DEFAULT_TIMEOUT), 'timeout'),
    database: readDatabase(read, scanner, env)
  }
}

/** A report file when something is there (or the name says it is a report), else an image reference. */
async function readBaseline(text: string, workspace: string): Promise<Baseline | undefined> {
  if (text === '') return undefined
  const file = path.resolve(workspace, text)
  if (
    await fs.lstat(file).then(
      () => true,
      () => false
    )
  ) {
    const real = resolveInside(workspace, text, "input 'baseline'")
    if (!(await isFile(real))) {
      throw new ConfigurationError(`input 'baseline': '${text}' is not a regular file (looked for ${file})`)
    }
    return { kind: 'report', path: real, text }
  }
  if (/\.(json|sarif)$/i.test(text)) {
    throw new ConfigurationError(`input 'baseline': the report '${text}' does not exist (looked for ${file})`)
  }
  try {
    return { kind: 'image', ref: parseImageRef(text), text }
  } catch (error) {
    throw new ConfigurationError(
      `input 'baseline': '${text}' is neither a report file in the workspace nor an image reference (${(error as Error).message})`
    )
  }
}

const DEFAULT_TIMEOUT = '20m'
const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** `90s`, `20m`, `2h`, `7d`: between `min` and `max` (as written in the message). */
export function readDuration(
  text: string,
  name: InputName,
  [min, max]: [string, string] = ['1s', '24h']
): number {
  const parse = (value: string): number => {
    const match = /^(\d+)\s*([smhd])$/.exec(value.trim())
    return match ? Number(match[1]) * (UNITS[match[2] as string] as number) : NaN
  }
  const ms = parse(text)
  if (!(ms >= parse(min) && ms <= parse(max))) {
    throw new ConfigurationError(
      `input '${name}' must be a duration such as 90s, 20m or 2h (from ${min} to ${max}); got '${text}'`
    )
  }
  return ms
}

/**
 * The database settings: inputs first, else the job's TRIVY_* / GRYPE_* variables for them (which the scanner
 * would have read), else a directory of the runner's tool cache, kept between jobs on a self-hosted runner.
 */
function readDatabase(
  read: InputReader<InputName>,
  scanner: ScannerName,
  env: NodeJS.ProcessEnv
): DatabaseSettings {
  const trivyOnly = ['db-repository', 'java-db-repository'] as const
  for (const name of scanner === 'trivy' ? (['db-update-url'] as const) : trivyOnly) {
    if (read.optional(name)) {
      throw new ConfigurationError(
        `input '${name}' is for ${scanner === 'trivy' ? 'Grype' : 'Trivy'}, but scanner is ${scanner}: ` +
          `use ${scanner === 'trivy' ? 'db-repository (and java-db-repository)' : 'db-update-url'} for ${scanner}`
      )
    }
  }
  const fromEnv = (name: string): string | undefined => env[name] || undefined
  const cacheDir =
    read.optional('cache-dir') ||
    fromEnv(scanner === 'trivy' ? 'TRIVY_CACHE_DIR' : 'GRYPE_DB_CACHE_DIR') ||
    path.join(env.RUNNER_TOOL_CACHE || os.tmpdir(), 'scan-gate-db', scanner)
  const maxAgeMs = readDuration(read.optional('db-max-age', '24h'), 'db-max-age', ['1m', '90d'])
  const updateAfter = read.optional('db-update-after')
  const updateAfterMs = updateAfter ? readDuration(updateAfter, 'db-update-after', ['1m', '90d']) : maxAgeMs
  if (updateAfterMs > maxAgeMs) {
    throw new ConfigurationError(
      `input 'db-update-after' (${updateAfter}) is longer than db-max-age (${read.optional('db-max-age', '24h')}): ` +
        'a database that old is refused before it would be updated; make db-update-after at most db-max-age'
    )
  }
  return {
    cacheDir: path.resolve(cacheDir),
    maxAgeMs,
    updateAfterMs,
    repository: read.optional('db-repository') || fromEnv('TRIVY_DB_REPOSITORY'),
    javaRepository: read.optional('java-db-repository') || fromEnv('TRIVY_JAVA_DB_REPOSITORY'),
    updateUrl: read.optional('db-update-url') || fromEnv('GRYPE_DB_UPDATE_URL')
  }
}

async function isFile(file: string): Promise<boolean> {
  return (await fs.stat(file).catch(() => undefined))?.isFile() ?? false
}
