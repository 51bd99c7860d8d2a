import * as core from '@actions/core'

// Every string from a report, a manifest or an input is hostile: it reaches the job summary (and PR bodies) only
// through these functions, so it can neither inject HTML, links, images nor table cells, nor break a line.

/** Line breaks, other control characters and bidirectional overrides: none of them belongs in a summary line. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g
const HTML_ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }

/**
 * Text shown as it is, anywhere in Markdown: HTML special characters as entities, every other ASCII punctuation
 * character backslash-escaped (no emphasis, link, image, heading, list, table pipe or autolink can start), control
 * characters and line breaks as spaces.
 */
export function escapeMarkdown(value: string): string {
  return value.replace(CONTROL, ' ').replace(/[!-/:-@[-`{-~]/g, char => HTML_ENTITIES[char] ?? `\\${char}`)
}

/** Escapes text for a Markdown table cell; its lines are kept apart by `<br>`. */
export function cell(text: string): string {
  return text
    .split(/\r\n|\n|\r/)
    .map(escapeMarkdown)
    .join('<br>')
}

/**
 * Inline code that survives anything in the value: a fence longer than any run of backticks in it, line breaks
 * and control characters as spaces, and `|` escaped so it cannot end a table cell (a code span shows no HTML).
 */
export function code(text: string): string {
  const value = text.replace(CONTROL, ' ').replace(/\|/g, '\\|')
  const longest = Math.max(0, ...(value.match(/`+/g) ?? []).map(run => run.length))
  const fence = '`'.repeat(longest + 1)
  const pad = value.startsWith('`') || value.endsWith('`') || /^ .* $/.test(value) ? ' ' : ''
  return `${fence}${pad}${value}${pad}${fence}`
}

/**
 * `escapeMarkdown`, and `@name` kept from notifying anyone (a word joiner after the `@`): for pull request bodies and
 * comments, where GitHub turns mentions into notifications after Markdown is parsed.
 */
export function escapeMarkdownNoMentions(value: string): string {
  return escapeMarkdown(value).replace(/@/g, '@\u2060')
}

/** A link when `url` is http(s), else the label alone: no `javascript:`, `data:` or relative link from a report. */
export function link(label: string, url: string | undefined, escapeLabel = escapeMarkdown): string {
  const text = escapeLabel(label)
  if (!url || !/^https?:\/\//i.test(url)) return text
  let href: string
  try {
    const parsed = new URL(url)
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return text
    href = parsed.href
  } catch {
    return text
  }
  // Percent-encode what could end the destination or be read as Markdown inside it.
  const destination = href.replace(/[^A-Za-z0-9\-._~:/?#@!$&'*+,;=%]/g, char =>
    [...Buffer.from(char, 'utf8')]
      .map(byte => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`)
      .join('')
  )
  return `[${text}](${destination})`
}

/** A Markdown table with a header row. */
export function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n') + '\n'
}

/** A two-column key/value table, skipping empty values. */
export function keyValueTable(rows: Array<[string, string | undefined]>): string {
  return table(
    ['Field', 'Value'],
    rows
      .filter((row): row is [string, string] => row[1] !== undefined && row[1] !== '')
      .map(([k, v]) => [cell(k), v])
  )
}

/** Appends Markdown to the step's job summary (the runner's GITHUB_STEP_SUMMARY file). */
export async function appendSummary(markdown: string): Promise<void> {
  await core.summary.addRaw(markdown).write()
}
