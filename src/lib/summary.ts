import * as core from '@actions/core'

/** Escapes text for a Markdown table cell. */
export function cell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>')
}

/** Inline code that survives backticks in the value. */
export function code(text: string): string {
  const fence = text.includes('`') ? '``' : '`'
  return `${fence}${text}${fence}`
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
