// Escaping for text from repositories, registries and inputs on its way into the pull request's Markdown.
// Kept here until lib/summary.ts has shared helpers (being added on another branch).

/** Text shown as is: Markdown and HTML syntax escaped, line breaks flattened, mentions and references defused. */
export function text(value: string): string {
  return (
    value
      .replace(/[\r\n\t]+/g, ' ')
      // ':' too: GitHub autolinks `https://…` in plain text.
      .replace(/[\\`*_{}[\]<>#!|~&:]/g, char => `\\${char}`)
      // '@user' and '#123' notify and link; a zero-width joiner after '@' keeps it visible but inert.
      .replace(/@/g, '@\u2060')
      // Control characters and bidirectional overrides, which could make the shown text differ from what it is.
      .replace(/\p{Cc}|[\u202a-\u202e\u2066-\u2069]/gu, '')
  )
}

/** Inline code, safe for any content: the fence is longer than any run of backticks inside. */
export function code(value: string): string {
  const flat = value.replace(/[\r\n]+/g, ' ').replace(/\|/g, '\\|')
  const longest = Math.max(0, ...[...flat.matchAll(/`+/g)].map(match => match[0].length))
  const fence = '`'.repeat(longest + 1)
  const pad = flat.startsWith('`') || flat.endsWith('`') ? ' ' : ''
  return `${fence}${pad}${flat}${pad}${fence}`
}

/** A link whose target is an http(s) URL we built or checked; anything else is shown as text. */
export function link(label: string, url: string): string {
  if (!isSafeUrl(url)) return text(label)
  const escaped = url.replace(/[()]/g, char => `%${char.charCodeAt(0).toString(16).toUpperCase()}`)
  return `[${text(label)}](${escaped})`
}

export function isSafeUrl(url: string): boolean {
  try {
    const parsed = new URL(url)
    return (parsed.protocol === 'https:' || parsed.protocol === 'http:') && !/[\s<>"'`]/.test(url)
  } catch {
    return false
  }
}

/** A table row; cells are already escaped. */
export function row(cells: string[]): string {
  return `| ${cells.join(' | ')} |`
}
