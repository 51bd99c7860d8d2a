import * as tc from '@actions/tool-cache'
import { randomUUID } from 'node:crypto'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { ConfigurationError, ExternalError } from '../errors.js'
import { downloadFile, type DownloadLimits } from './download.js'
import { sha256File } from './file-digest.js'
import {
  archiveName,
  PINNED_RELEASES,
  releaseUrl,
  type PinnedRelease,
  type PlatformKey,
  type ScannerName
} from './releases.js'

/** A scanner ready to run. */
export interface InstalledScanner {
  name: ScannerName
  version: string
  /** Absolute path of the executable. */
  binary: string
  /** Taken from the runner's tool cache (installed by an earlier run), not downloaded. */
  fromCache: boolean
  /** Where it was downloaded from (undefined when cached). */
  url?: string
  sha256: string
}

export interface InstallOptions {
  scanner: ScannerName
  /** `0.69.2`, or `0.70.0@sha256:<hex>` to pin a release this action keeps no checksum for. */
  version?: string
  /** Mirror to download from instead of the project's releases: the archive is `<mirror>/<file name>`. */
  mirror?: string
  platform?: NodeJS.Platform
  arch?: string
  /** The checksums kept in the source (tests pass their own). */
  releases?: Record<ScannerName, PinnedRelease>
  log?: (line: string) => void
  /** Time bounds of the download (tests shorten them). */
  download?: DownloadLimits
}

/** A release archive is tens of MB: a minute without a byte, or ten minutes in all, is a download that failed. */
const DOWNLOAD_LIMITS: DownloadLimits = { stallMs: 60_000, totalMs: 10 * 60_000 }

/** Marker kept beside a cached scanner: the archive checksum it was installed from. */
const MARKER = '.scan-gate-sha256'

/** The version, archive and checksum an install would use; throws a ConfigurationError when none is known. */
export function resolveRelease(options: InstallOptions): {
  version: string
  file: string
  sha256: string
  url: string
} {
  const releases = options.releases ?? PINNED_RELEASES
  const pinned = releases[options.scanner]
  const spec = (options.version ?? '').trim() || pinned.version
  const match = /^v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)(?:@sha256:([a-f0-9]{64}))?$/.exec(spec)
  if (!match) {
    throw new ConfigurationError(
      `input 'scanner-version': '${spec}' is not a version: write X.Y.Z (e.g. ${pinned.version}) or X.Y.Z@sha256:<sha256 of the release archive>`
    )
  }
  const version = match[1] as string
  const platform = `${options.platform ?? process.platform}-${options.arch ?? process.arch}` as PlatformKey
  const file = archiveName(options.scanner, version, platform)
  if (!file) throw new ConfigurationError(`${options.scanner} publishes no release archive for ${platform}`)
  const kept = version === pinned.version ? pinned.archives[platform] : undefined
  const sha256 = match[2] ?? kept?.sha256
  if (!sha256) {
    throw new ConfigurationError(
      `input 'scanner-version': no checksum for ${options.scanner} ${version} on ${platform} is kept in this action ` +
        `(it keeps ${options.scanner} ${pinned.version}); pin it as ${version}@sha256:<sha256 of ${file} from the release's checksums file>`
    )
  }
  const mirror = options.mirror?.trim()
  const url = mirror
    ? `${mirror.replaceAll('{version}', version).replace(/\/+$/, '')}/${file}`
    : releaseUrl(options.scanner, version, file)
  return { version, file, sha256, url }
}

/**
 * Installs a scanner with @actions/tool-cache: reuses the tool cache when it holds this version installed from the
 * same checksum, else downloads the release archive, checks its sha256 against the one kept in the source (or
 * pinned in `scanner-version`), extracts it and caches it by version.
 */
export async function installScanner(options: InstallOptions): Promise<InstalledScanner> {
  const log = options.log ?? (() => {})
  const { version, file, sha256, url } = resolveRelease(options)
  const arch = options.arch ?? process.arch
  const name = options.scanner

  const cached = tc.find(name, version, arch)
  if (cached) {
    const marker = await fs.readFile(path.join(cached, MARKER), 'utf8').catch(() => '')
    const binary = path.join(cached, name)
    if (marker.trim() === sha256 && (await isExecutable(binary))) {
      log(`Using ${name} ${version} from the tool cache (${cached})`)
      return { name, version, binary, fromCache: true, sha256 }
    }
    log(`The tool cache's ${name} ${version} was installed from another archive: installing again`)
  }

  log(`Downloading ${name} ${version} from ${url}`)
  const downloads = process.env.RUNNER_TEMP || os.tmpdir()
  await fs.mkdir(downloads, { recursive: true })
  const archive = path.join(downloads, `scan-gate-${name}-${version}-${randomUUID()}.tar.gz`)
  try {
    await downloadFile(url, archive, options.download ?? DOWNLOAD_LIMITS)
  } catch (error) {
    const reason = (error as Error).message
    throw new ExternalError(
      `downloading ${name} ${version} from ${url} failed${reason.startsWith('HTTP ') ? ` (${reason})` : `: ${reason}`}`
    )
  }
  try {
    const actual = await sha256File(archive)
    if (actual !== sha256) {
      throw new ExternalError(
        `checksum mismatch for ${file} downloaded from ${url}: expected sha256 ${sha256}, got sha256 ${actual}. ` +
          'The download was discarded; nothing was run.'
      )
    }
    log(`Checksum of ${file} verified: sha256 ${actual}`)
    let extracted: string | undefined
    try {
      try {
        extracted = await tc.extractTar(archive)
      } catch (error) {
        throw new ExternalError(`extracting ${file} failed: ${(error as Error).message}`)
      }
      if (!(await isExecutable(path.join(extracted, name)))) {
        throw new ExternalError(`${file} has no executable '${name}' at its top level`)
      }
      await fs.writeFile(path.join(extracted, MARKER), `${sha256}\n`)
      const dir = await tc.cacheDir(extracted, name, version, arch)
      return { name, version, binary: path.join(dir, name), fromCache: false, url, sha256 }
    } finally {
      if (extracted) await fs.rm(extracted, { recursive: true, force: true })
    }
  } finally {
    await fs.rm(archive, { force: true })
  }
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await fs.access(file, fs.constants.X_OK)
    return (await fs.stat(file)).isFile()
  } catch {
    return false
  }
}
