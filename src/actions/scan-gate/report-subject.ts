import { errorMessage } from '../../lib/errors.js'
import { formatImageRef, parseImageRef } from '../../lib/image-ref.js'
import { ReportError, type ReportFormat, type ScanReport } from '../../lib/scanner/finding.js'

export const REPORT_SUBJECT_MODES = ['verify', 'trust'] as const
/** `verify`: the report must record this image; `trust`: a report that records no image is accepted on purpose. */
export type ReportSubjectMode = (typeof REPORT_SUBJECT_MODES)[number]

/** How the report was tied to the gated image: recorded and matching, or taken on trust. */
export interface SubjectCheck {
  how: 'digest' | 'platform' | 'repository' | 'trusted'
  /** One sentence for the summary. */
  text: string
}

export interface GatedImage {
  registry: string
  repository: string
  digest: string
}

/** Where each format records the image, for an error that tells the user what to look at. */
const WHERE_RECORDED: Record<ReportFormat, string> = {
  trivy: 'ArtifactName, Metadata.RepoDigests or Metadata.RepoTags of an image scan',
  'trivy-legacy': 'nowhere: the legacy array (Trivy before 0.20) never names the image',
  grype: 'source.target (userInput, manifestDigest, repoDigests, tags) of an image source',
  sarif: 'run properties imageName, imageDigest, repoDigests or repoTags'
}

const SHOWN = 80

/**
 * Ties the report to the gated image. A recorded digest must be this image's, or one of its platform images'
 * (`platformDigests` is asked only then); else a recorded repository must be this image's, compared as Docker
 * normalises names (`redis` is `docker.io/library/redis`); a report that records neither is refused unless
 * `mode` is `trust`. Throws a ReportError naming what the report records.
 */
export async function checkReportSubject(
  report: Pick<ScanReport, 'format' | 'artifact'>,
  image: GatedImage,
  mode: ReportSubjectMode,
  platformDigests: () => Promise<string[]>
): Promise<SubjectCheck> {
  const { digest } = image
  const imageName = formatImageRef({ registry: image.registry, repository: image.repository })
  const recorded = report.artifact.digests
  if (recorded.length > 0) {
    if (recorded.includes(digest)) return { how: 'digest', text: `records ${digest}` }
    let platforms: string[]
    try {
      platforms = await platformDigests()
    } catch (error) {
      throw new ReportError(
        `the report is for another image: it records ${list(recorded)}, not ${digest} ` +
          `(and whether those are platform images of it could not be checked: ${errorMessage(error)})`
      )
    }
    const platform = recorded.find(entry => platforms.includes(entry))
    if (platform) return { how: 'platform', text: `records ${platform}, a platform image of ${digest}` }
    throw new ReportError(
      `the report is for another image: it records ${list(recorded)}, not ${digest}${platforms.length ? ' nor one of its platform images' : ''}`
    )
  }

  const names = new Set<string>()
  const unreadable: string[] = []
  for (const reference of report.artifact.references) {
    const name = repositoryOf(reference)
    if (name) names.add(name)
    else unreadable.push(reference)
  }
  if (names.has(imageName)) {
    return {
      how: 'repository',
      text: `records the repository ${imageName} but no digest: which version of it was scanned is not recorded`
    }
  }
  if (names.size > 0) {
    throw new ReportError(
      `the report is for another image: it records ${list([...names])}, not ${imageName} (and no digest)`
    )
  }
  const what =
    unreadable.length > 0
      ? `it records ${list(unreadable)}, which is not an image reference, and no digest`
      : `it records no image digest nor repository (looked in ${WHERE_RECORDED[report.format]})`
  if (mode === 'trust') {
    return {
      how: 'trusted',
      text: `taken on trust (report-subject: trust): ${what}, so it was not checked against ${imageName}@${digest}`
    }
  }
  throw new ReportError(
    `the report does not say it is of ${imageName}@${digest}: ${what}. Pass the report the scanner wrote for ` +
      'this image, or set report-subject: trust to accept a report that names no image, on purpose'
  )
}

/** `registry/repository` as Docker normalises it, or undefined when `reference` is no image reference. */
function repositoryOf(reference: string): string | undefined {
  try {
    const ref = parseImageRef(reference)
    return formatImageRef({ registry: ref.registry, repository: ref.repository })
  } catch {
    return undefined
  }
}

/** Values from the report, quoted and cut short: they are shown, and a report is hostile until checked. */
function list(values: string[]): string {
  const shown = values.slice(0, 3).map(value => {
    const printable = value.replace(/[^\x20-\x7e]/g, '?')
    return `'${printable.length > SHOWN ? `${printable.slice(0, SHOWN - 1)}…` : printable}'`
  })
  return shown.join(', ') + (values.length > 3 ? ` and ${values.length - 3} more` : '')
}
