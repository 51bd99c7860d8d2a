// Several images in one step: each promoted on its own, then reported together (outputs, step summary, failures).
import * as core from '@actions/core'
import { ConfigurationError, errorMessage, ExternalError } from '../../lib/errors.js'
import type { ImageChoice } from './inputs.js'
import type { Collaborators } from './main.js'
import { code, link, text } from './markdown.js'
import type { Result } from './promotion.js'

/** One image's promotion: its result, or why it failed. */
export type Promotion = ImageChoice & ({ result: Result } | { error: unknown })

/**
 * Promotes each image in turn: every image is tried, whatever became of the ones before; failures are reported by
 * `reportPromotions`.
 */
export async function promoteEach(
  images: readonly ImageChoice[],
  promoteOne: (image: ImageChoice) => Promise<Result>
): Promise<Promotion[]> {
  const promotions: Promotion[] = []
  for (const image of images) {
    try {
      promotions.push({ ...image, result: await promoteOne(image) })
    } catch (error) {
      // One image's error is the step's own (set failed once, by the handler); several need naming each.
      if (images.length > 1) core.error(`Promotion of ${image.image} failed: ${errorMessage(error)}`)
      promotions.push({ ...image, error })
    }
  }
  return promotions
}

/**
 * Sets the outputs and writes the step summary, then fails naming every image that failed. `promotions` lists every
 * image, failed ones too; the singular outputs describe the image when there is one, and are empty when there are
 * several.
 */
export async function reportPromotions(
  deps: Collaborators,
  where: { environment: string; base: string },
  promotions: readonly Promotion[]
): Promise<void> {
  const only = promotions.length === 1 ? promotions[0] : undefined
  const single = only && 'result' in only ? only.result : undefined
  deps.setOutput('operation', single?.operation ?? '')
  deps.setOutput('pull-request-number', single?.pull ? String(single.pull.number) : '')
  deps.setOutput('pull-request-url', single?.pull?.url ?? '')
  deps.setOutput('head-branch', only?.headBranch ?? '')
  deps.setOutput('head-sha', single?.headSha ?? '')
  deps.setOutput('verified', single ? String(single.verified) : '')
  deps.setOutput(
    'promoted',
    single && only
      ? JSON.stringify({ image: only.image, from: single.from ?? null, to: single.to, files: single.files })
      : ''
  )
  deps.setOutput('auto-merge', single ? String(single.autoMerge) : '')
  deps.setOutput('promotions', JSON.stringify(promotions.map(describe)))

  let summary = ''
  for (const promotion of promotions) {
    const heading = `### Promotion of ${code(promotion.image)} to ${text(where.environment)}`
    if ('error' in promotion) {
      summary += `${heading}: failed\n\n${text(errorMessage(promotion.error))}\n\n`
      continue
    }
    const { result } = promotion
    const at = result.pull ? ` ${link(`#${result.pull.number}`, result.pull.url)}` : ''
    summary +=
      `${heading}: ${result.operation}${at}\n\n` +
      `Proposes ${code(result.to)} on ${code(promotion.headBranch)} into ${code(where.base)}.\n`
    if (promotions.length > 1) summary += '\n'
    core.info(
      `Promotion of ${promotion.image} to ${where.environment}: ${result.operation}` +
        (result.pull ? ` (#${result.pull.number})` : '')
    )
  }
  await deps.writeSummary(summary)

  const failed = promotions.filter(promotion => 'error' in promotion)
  if (failed.length === 0) return
  // One image fails with its own error, as it always did, once `promotions` and the summary say so.
  if (only && 'error' in only) throw only.error
  const message =
    `${failed.length} of ${promotions.length} images failed to promote (the others' pull requests are done): ` +
    failed.map(promotion => `${promotion.image}: ${errorMessage(promotion.error)}`).join('; ')
  // A mistake in the inputs only when every failure is one; anything else is not the caller's to fix alone.
  throw failed.every(promotion => promotion.error instanceof ConfigurationError)
    ? new ConfigurationError(message)
    : new ExternalError(message)
}

/** The `promotions` output's entry for one image. */
function describe(promotion: Promotion): Record<string, unknown> {
  if ('error' in promotion) {
    return {
      image: promotion.image,
      operation: 'failed',
      error: errorMessage(promotion.error),
      'pull-request-number': null,
      'pull-request-url': null,
      'head-branch': promotion.headBranch,
      'head-sha': null,
      verified: false,
      from: null,
      to: null,
      files: []
    }
  }
  const { result } = promotion
  return {
    image: promotion.image,
    operation: result.operation,
    'pull-request-number': result.pull?.number ?? null,
    'pull-request-url': result.pull?.url ?? null,
    'head-branch': promotion.headBranch,
    'head-sha': result.headSha || null,
    verified: result.verified,
    from: result.from ?? null,
    to: result.to,
    files: result.files
  }
}
