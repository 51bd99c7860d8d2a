/** The scanners the gate can install and run. */
export const SCANNERS = ['trivy', 'grype'] as const
export type ScannerName = (typeof SCANNERS)[number]

/** `linux-x64`, `linux-arm64`, `darwin-arm64`, … from Node's process.platform and process.arch. */
export type PlatformKey = `${NodeJS.Platform}-${string}`

export interface PinnedRelease {
  version: string
  /** Release archive per platform: its file name and the sha256 it must have. */
  archives: Partial<Record<PlatformKey, { file: string; sha256: string }>>
}

/**
 * The default scanner versions and the sha256 of their release archives, kept in the source so a download is
 * checked against something the download server did not supply. Provenance of each value (copied from several
 * independent public pins of the same archive, not computed here: this machine cannot reach the release servers):
 *
 * - trivy 0.69.2 linux-x64 / linux-arm64: the same values in cashapp/hermit-packages (trivy.hcl), a pants-style
 *   known-versions list (with the archive sizes 48327305 / 43702248), an AUR PKGBUILD and several install scripts.
 * - grype 0.104.0 linux-x64: the same value in two public sources (a shell install script that checks it with
 *   sha256sum, and a Python tool lock list).
 * - grype 0.104.0 linux-arm64: found in ONE public source only (that Python lock list): not confirmed by a second.
 *
 * Check them against the releases' own checksums files (trivy_0.69.2_checksums.txt, grype_0.104.0_checksums.txt)
 * when updating; `scanner-version: X.Y.Z@sha256:<hex>` pins any other release without a code change.
 */
export const PINNED_RELEASES: Record<ScannerName, PinnedRelease> = {
  trivy: {
    version: '0.69.2',
    archives: {
      'linux-x64': {
        file: 'trivy_0.69.2_Linux-64bit.tar.gz',
        sha256: 'affa59a1e37d86e4b8ab2cd02f0ab2e63d22f1bf9cf6a7aa326c884e25e26ce3'
      },
      'linux-arm64': {
        file: 'trivy_0.69.2_Linux-ARM64.tar.gz',
        sha256: 'c73b97699c317b0d25532b3f188564b4e29d13d5472ce6f8eb078082546a6481'
      }
    }
  },
  grype: {
    version: '0.104.0',
    archives: {
      'linux-x64': {
        file: 'grype_0.104.0_linux_amd64.tar.gz',
        sha256: '862816d0addab60968f9401fe5dbaeaf244bf86a3f759003103c11efe151b31d'
      },
      'linux-arm64': {
        file: 'grype_0.104.0_linux_arm64.tar.gz',
        sha256: '531c9fcc6dab7efd5eccee629bc4c524badf3d66c5382fc0e771059b76dc617e'
      }
    }
  }
}

/** Checksums that only one public source vouched for: listed so a maintainer re-checks them first. */
export const SINGLE_SOURCE_CHECKSUMS: ReadonlyArray<{ scanner: ScannerName; platform: PlatformKey }> = [
  { scanner: 'grype', platform: 'linux-arm64' }
]

/** The release archive's file name for a version and platform, as each project names them. */
export function archiveName(
  scanner: ScannerName,
  version: string,
  platform: PlatformKey
): string | undefined {
  const [os, arch] = platform.split('-') as [string, string]
  if (scanner === 'trivy') {
    const osName = { linux: 'Linux', darwin: 'macOS' }[os]
    const archName = { x64: '64bit', arm64: 'ARM64' }[arch]
    return osName && archName ? `trivy_${version}_${osName}-${archName}.tar.gz` : undefined
  }
  const osName = { linux: 'linux', darwin: 'darwin' }[os]
  const archName = { x64: 'amd64', arm64: 'arm64' }[arch]
  return osName && archName ? `grype_${version}_${osName}_${archName}.tar.gz` : undefined
}

/** Where the project publishes a release archive. */
export function releaseUrl(scanner: ScannerName, version: string, file: string): string {
  const repository = scanner === 'trivy' ? 'aquasecurity/trivy' : 'anchore/grype'
  return `https://github.com/${repository}/releases/download/v${version}/${file}`
}
