import { ConfigurationError } from '../../lib/errors.js'
import { shortDigest } from '../../lib/image-ref.js'
import type { CommitSummary } from '../../lib/github/index.js'
import { code, link, row, text } from './markdown.js'
import { renderStateBlock, type ImageVersion, type PromotionState } from './state-block.js'
import { formatDuration } from './verification.js'

/** GitHub refuses a pull request body longer than this many characters. */
export const BODY_LIMIT = 65_536

/** The source commits between the running and the proposed image, or why they are not shown. */
export type SourceCommits =
  | { kind: 'listed'; repository: string; compareUrl: string; total: number; commits: CommitSummary[] }
  | { kind: 'unavailable'; reason: string }

export interface BodyParts {
  header: string
  footer: string
  source: SourceCommits
}

/**
 * The body, from the promotion's state (and the source commits between its two revisions) only: a re-run renders the
 * same bytes. Over GitHub's limit, the commit list is cut, never the state block.
 */
export function renderBody(state: PromotionState, parts: BodyParts, limit = BODY_LIMIT): string {
  const full = compose(state, parts, Infinity)
  if (full.length <= limit) return full
  if (compose(state, parts, 0).length > limit) {
    throw new ConfigurationError(
      `the pull request body would be longer than GitHub's ${limit} characters even without its commit list: ` +
        "shorten 'body-header' and 'body-footer'"
    )
  }
  if (parts.source.kind !== 'listed') return full
  let low = 0
  let high = parts.source.commits.length
  while (low < high) {
    const mid = Math.ceil((low + high) / 2)
    if (compose(state, parts, mid).length <= limit) low = mid
    else high = mid - 1
  }
  return compose(state, parts, low)
}

function compose(state: PromotionState, parts: BodyParts, listed: number): string {
  const sections = [
    parts.header.trim(),
    `### Promote ${code(state.image)} to ${text(state.environment)}`,
    table(state),
    sourceSection(parts.source, listed),
    verdictSection(state),
    verificationSection(state),
    rollbackSection(state),
    parts.footer.trim(),
    renderStateBlock(state)
  ]
  return sections.filter(section => section !== '').join('\n\n') + '\n'
}

export function reference(version: ImageVersion): string {
  return version.tag ? `${version.tag}@${shortDigest(version.digest)}` : `${version.digest.slice(0, 19)}`
}

function table(state: PromotionState): string {
  const from = state.fromEnvironment ? ` (from ${text(state.fromEnvironment)})` : ''
  const files = state.files.length > 0 ? state.files.map(code).join('<br>') : 'see Files changed'
  return [
    row(['Environment', 'Image', 'From', 'To', 'Files']),
    row(['---', '---', '---', '---', '---']),
    row([
      `${text(state.environment)}${from}`,
      code(state.image),
      state.from ? code(reference(state.from)) : 'not known',
      code(reference(state.to)),
      files
    ])
  ].join('\n')
}

function sourceSection(source: SourceCommits, listed: number): string {
  const title = '#### Source commits'
  if (source.kind === 'unavailable') return `${title}\n\n${text(source.reason)}`
  if (source.total === 0) return `${title}\n\nNo source commits between the two images.`
  // The newest `listed` of the commits (compare lists them oldest first); slice(-0) would be all of them.
  const count = Math.min(listed, source.commits.length)
  const shown = count > 0 ? source.commits.slice(-count).reverse() : []
  const lines = shown.map(commit => {
    const subject = commit.message.split('\n')[0] ?? ''
    return `- ${link(commit.sha.slice(0, 7), commit.url)} ${text(subject)}${commit.author ? ` (${text(commit.author)})` : ''}`
  })
  const left = source.total - shown.length
  if (left > 0) {
    lines.push(`- … and ${left} more not listed here: ${link('compare them all', source.compareUrl)}`)
  }
  return `${title}\n\n${source.total} commit(s) in ${link(source.repository, source.compareUrl)}, newest first:\n\n${lines.join('\n')}`
}

function verdictSection(state: PromotionState): string {
  const title = '#### Scan verdict'
  if (state.verdict === undefined) return ''
  if (state.verdict === null) {
    return `${title}\n\n> [!WARNING]\n> No scan-gate verdict is attached to ${code(state.to.digest)}: nothing says it was scanned.`
  }
  const verdict = state.verdict
  const counts = Object.entries(verdict.counts)
    .filter(([, count]) => count > 0)
    .map(([severity, count]) => `${text(String(count))} ${text(severity)}`)
    .join(', ')
  return (
    `${title}\n\n**${verdict.decision === 'pass' ? 'pass' : 'FAIL'}**: ${text(String(verdict.blocking))} blocking` +
    `${counts ? ` (findings: ${counts})` : ''}, policy ${code(verdict.policyDigest)}, decided ${text(verdict.time)} ` +
    `(verdict ${code(verdict.ref)}).`
  )
}

function verificationSection(state: PromotionState): string {
  const title = '#### Upstream verification'
  const check = state.verification
  if (check.required.length === 0) return `${title}\n\nNone required (no \`require-status\`).`
  const where = state.fromEnvironment ? text(state.fromEnvironment) : 'the environment before'
  const statuses = check.statuses.map(
    status =>
      `- ${code(status.context)} (${status.kind === 'check-run' ? 'check run' : 'status'}): ${text(status.state)} at ${text(status.at)}`
  )
  const soak = check.minSoakMs > 0 ? `, green for at least ${formatDuration(check.minSoakMs)}` : ''
  const required = check.required.map(code).join(', ')
  const head = check.verified
    ? `Verified in ${where}: ${required} succeeded${soak} on ${check.commit ? code(check.commit.slice(0, 12)) : 'the commit'}` +
      (check.pinnedBy && check.pinnedBy !== check.commit
        ? ` (the digest was pinned by ${code(check.pinnedBy.slice(0, 12))})`
        : '') +
      '.'
    : `> [!CAUTION]\n> Not verified in ${where}: waiting for ${required}${soak}. ${text(check.reason ?? '')}`
  return [title, head, statuses.join('\n')].filter(Boolean).join('\n\n')
}

function rollbackSection(state: PromotionState): string {
  const lines = ['#### Rollback']
  const before = state.from
    ? `Until this is merged, ${text(state.environment)} runs ${code(`${state.image}@${state.from.digest}`)}.`
    : ''
  lines.push(
    `${before} To roll back after merging, revert this pull request's merge commit` +
      (state.from ? `, which pins ${code(reference(state.from))} again.` : '.')
  )
  if (state.proposedBy)
    lines.push(`Proposed by ${link('this workflow run', state.proposedBy)} at ${text(state.proposedAt)}.`)
  return lines.join('\n\n')
}
