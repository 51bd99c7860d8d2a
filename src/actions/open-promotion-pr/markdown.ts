// The pull request's Markdown: lib/summary.ts's escaping, with mentions kept from notifying anyone.
import { code, escapeMarkdownNoMentions, link as summaryLink } from '../../lib/summary.js'

export { code }

/** Text shown as is: Markdown and HTML syntax escaped, line breaks flattened, mentions defused. */
export const text = escapeMarkdownNoMentions

/** A link whose target is http(s); anything else is shown as its label. */
export function link(label: string, url: string): string {
  return summaryLink(label, url, escapeMarkdownNoMentions)
}

/** A table row; cells are already escaped. */
export function row(cells: string[]): string {
  return `| ${cells.join(' | ')} |`
}
