import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** The directory holding the manifest fixtures. */
export const FIXTURES = fileURLToPath(new URL('./', import.meta.url))

/** A fixture's text, byte for byte. */
export function fixture(relative: string): string {
  return readFileSync(new URL(relative, import.meta.url), 'utf8')
}

/** Digests that look like real ones and are easy to tell apart in a failure message. */
export const DIGEST = `sha256:${'d1'.repeat(32)}`
export const OTHER_DIGEST = `sha256:${'e2'.repeat(32)}`

/** Lines with their line endings, so CRLF and a missing final newline show in comparisons. */
export function linesOf(text: string): string[] {
  return text.split(/(?<=\n)/)
}

/**
 * The lines of `after` that differ from `before` (1-based line → exact text with its line ending). Throws when
 * the line count differs: then the whole text is the thing to compare.
 */
export function changedLines(before: string, after: string): Record<number, string> {
  const a = linesOf(before)
  const b = linesOf(after)
  if (a.length !== b.length) throw new Error(`line count changed from ${a.length} to ${b.length}:\n${after}`)
  const changed: Record<number, string> = {}
  b.forEach((line, i) => {
    if (line !== a[i]) changed[i + 1] = line
  })
  return changed
}

/** `before` with the given 1-based lines replaced (each replacement keeps the original line ending). */
export function withLines(before: string, replacements: Record<number, string>): string {
  return linesOf(before)
    .map((line, i) => {
      const replacement = replacements[i + 1]
      if (replacement === undefined) return line
      const ending = /\r?\n$/.exec(line)?.[0] ?? ''
      return replacement + ending
    })
    .join('')
}
