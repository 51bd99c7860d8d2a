import * as core from '@actions/core'
import { ExternalError } from '../errors.js'
import { lastLines, type CommandRunner } from '../exec.js'
import type { ScannerName } from './releases.js'
import { isScannerSetting } from './run.js'

/** Where the vulnerability database lives and comes from; mirrors are for air-gapped runners and rate limits. */
export interface DatabaseSettings {
  /** Trivy `--cache-dir`, Grype's `GRYPE_DB_CACHE_DIR`. */
  cacheDir: string
  /** The oldest database a scan may use: beyond this, no scan (fail closed). */
  maxAgeMs: number
  /** A database younger than this is used without an update; an older one is updated first (at most `maxAgeMs`). */
  updateAfterMs: number
  /** Trivy `--db-repository` / `--java-db-repository`. */
  repository?: string
  javaRepository?: string
  /** Grype `GRYPE_DB_UPDATE_URL`. */
  updateUrl?: string
}

export type DatabaseState = 'cache' | 'updated' | 'stale'

/** The database a scan used: evidence of what the verdict was based on. */
export interface DatabaseUsed {
  /** When the database was built (Trivy `UpdatedAt`, Grype `built`), RFC 3339. */
  built: string
  ageMs: number
  /**
   * `cache` (young enough, not updated), `updated` (downloaded by this run), or `stale` (the update failed and the
   * cached one, still within db-max-age, was used).
   */
  state: DatabaseState
  /** Where updates come from: the mirror set, else the scanner's default. */
  source: string
}

/** Bounds the database commands: they only read a small file, or download the database. */
const STATUS_TIMEOUT_S = 120
const UPDATE_TIMEOUT_S = 1200

/** Flags and environment that point a scan at the database (and keep it from updating on its own). */
export function databaseArguments(
  scanner: ScannerName,
  settings: DatabaseSettings
): { args: string[]; env: Record<string, string> } {
  if (scanner === 'trivy') {
    return {
      args: [
        '--cache-dir',
        settings.cacheDir,
        '--skip-db-update',
        // Not --skip-java-db-update: Trivy fetches the Java database only for images with Java packages, and
        // refuses to skip it on a first run, so it keeps managing that one itself.
        ...(settings.repository ? ['--db-repository', settings.repository] : []),
        ...(settings.javaRepository ? ['--java-db-repository', settings.javaRepository] : [])
      ],
      env: {}
    }
  }
  return {
    args: [],
    env: {
      GRYPE_DB_CACHE_DIR: settings.cacheDir,
      GRYPE_DB_AUTO_UPDATE: 'false',
      // Grype refuses a database older than its own bound (120h by default): db-max-age is the one bound.
      GRYPE_DB_MAX_ALLOWED_BUILT_AGE: `${Math.ceil(settings.maxAgeMs / 1000)}s`,
      ...(settings.updateUrl ? { GRYPE_DB_UPDATE_URL: settings.updateUrl } : {})
    }
  }
}

/** Where updates come from, as the summary says it. */
export function databaseSource(scanner: ScannerName, settings: DatabaseSettings): string {
  if (scanner === 'trivy') {
    return settings.repository ?? "Trivy's default repository (mirror.gcr.io/aquasec/trivy-db, ghcr.io)"
  }
  return settings.updateUrl ?? "Grype's default listing (grype.anchore.io)"
}

/**
 * Makes sure a young enough database is in the cache: one younger than `updateAfterMs` is used as it is; an older
 * one, or none, is updated first (from the mirror when one is set). When the update fails, a cached database still
 * younger than `maxAgeMs` is used with a warning that says how old it is; an older one is never used (fail closed),
 * and none at all is an error.
 */
export async function prepareDatabase(
  runner: CommandRunner,
  scanner: { name: ScannerName; binary: string },
  settings: DatabaseSettings,
  now: number
): Promise<DatabaseUsed> {
  const source = databaseSource(scanner.name, settings)
  const cached = await databaseBuilt(runner, scanner, settings)
  if (cached !== undefined && now - Date.parse(cached) < settings.updateAfterMs) {
    return { built: cached, ageMs: now - Date.parse(cached), state: 'cache', source }
  }
  const { args, env } = databaseArguments(scanner.name, settings)
  const update =
    scanner.name === 'trivy'
      ? ['image', '--download-db-only', ...args.filter(arg => arg !== '--skip-db-update')]
      : ['db', 'update']
  const result = await runner.run(scanner.binary, update, {
    env,
    unset: isScannerSetting,
    timeoutMs: UPDATE_TIMEOUT_S * 1000
  })
  const built = result.exitCode === 0 ? await databaseBuilt(runner, scanner, settings) : undefined
  if (built !== undefined) {
    return { built, ageMs: Math.max(0, now - Date.parse(built)), state: 'updated', source }
  }
  const failure = `the ${scanner.name} vulnerability database could not be updated from ${source} (${result.timedOut ? `no answer within ${UPDATE_TIMEOUT_S} s` : `exit code ${result.exitCode}`})`
  // Read again: a failed update may have left the cache unusable.
  const usable = cached === undefined ? undefined : await databaseBuilt(runner, scanner, settings)
  const cachedAgeMs = usable === undefined ? undefined : Math.max(0, now - Date.parse(usable))
  if (usable !== undefined && cachedAgeMs !== undefined && cachedAgeMs < settings.maxAgeMs) {
    core.warning(
      `${failure}: scanning with the cached database, built ${usable} (${formatAge(cachedAgeMs)} ago, within ` +
        `db-max-age ${formatAge(settings.maxAgeMs)}); findings published since then are not in this verdict. ` +
        `Set ${mirrorInput(scanner.name)} to a reachable mirror if this repeats${tail(result, '. The update said:')}`
    )
    return { built: usable, ageMs: cachedAgeMs, state: 'stale', source }
  }
  const had =
    cached === undefined
      ? 'there is no database in the cache'
      : usable === undefined
        ? 'the cached database can no longer be read'
        : `the cached database was built ${usable} (${formatAge(cachedAgeMs as number)} ago), older than db-max-age`
  throw new ExternalError(
    `${failure} and ${had}: refusing to scan with it. Set ${mirrorInput(scanner.name)} to a reachable mirror, ` +
      `or raise db-max-age to accept older data${tail(result)}`
  )
}

function mirrorInput(scanner: ScannerName): string {
  return scanner === 'trivy' ? 'db-repository' : 'db-update-url'
}

/** When the cached database was built, or undefined when there is none (or it cannot be read). */
async function databaseBuilt(
  runner: CommandRunner,
  scanner: { name: ScannerName; binary: string },
  settings: DatabaseSettings
): Promise<string | undefined> {
  const { env } = databaseArguments(scanner.name, settings)
  const args =
    scanner.name === 'trivy'
      ? ['version', '--format', 'json', '--cache-dir', settings.cacheDir]
      : ['db', 'status', '-o', 'json']
  const result = await runner.run(scanner.binary, args, {
    env,
    unset: isScannerSetting,
    silent: true,
    timeoutMs: STATUS_TIMEOUT_S * 1000
  })
  if (result.exitCode !== 0) return undefined
  let status: unknown
  try {
    status = JSON.parse(result.stdout)
  } catch {
    return undefined
  }
  // Trivy: {"VulnerabilityDB": {"UpdatedAt": …}}; Grype: {"built": …, "valid": true}.
  const record = status as Record<string, unknown> | null
  const built =
    scanner.name === 'trivy'
      ? (record?.VulnerabilityDB as Record<string, unknown> | undefined)?.UpdatedAt
      : record?.valid === false
        ? undefined
        : record?.built
  return typeof built === 'string' && !Number.isNaN(Date.parse(built)) ? built : undefined
}

/** `3h`, `2d 4h`, `12m`: how old the data is, for people. */
export function formatAge(ms: number): string {
  const minutes = Math.floor(ms / 60_000)
  if (minutes < 60) return `${minutes}m`
  const hours = Math.floor(minutes / 60)
  if (hours < 48) return `${hours}h`
  return `${Math.floor(hours / 24)}d ${hours % 24}h`
}

/** The scanner's last words, after `lead`, or nothing. */
function tail(result: { stdout: string; stderr: string }, lead = ':'): string {
  const lines = lastLines(result, 10)
  return lines ? `${lead}\n${lines}` : ''
}
