import { isScalar, parseDocument } from 'yaml'

/** A replacement of `text.slice(start, end)`; an insertion has start === end. */
export interface Splice {
  start: number
  end: number
  text: string
  /** Set when the splice replaces exactly one scalar value (not a key) in place: the string it must read as. */
  value?: string
}

/** The file's own line ending: the first one it uses, else '\n'. */
export function detectEol(text: string): string {
  const newline = text.indexOf('\n')
  return newline > 0 && text[newline - 1] === '\r' ? '\r\n' : '\n'
}

/** A function from offset to 1-based line for `text`. */
export function lineLookup(text: string): (offset: number) => number {
  const starts = [0]
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1)
  return offset => {
    let low = 0
    let high = starts.length - 1
    while (low < high) {
      const mid = (low + high + 1) >> 1
      if (starts[mid]! <= offset) low = mid
      else high = mid - 1
    }
    return low + 1
  }
}

/** Offset of the first character of the line holding `offset`. */
export function lineStart(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1
}

/** Offset of the line break (`\r\n` or `\n`) ending the line holding `offset`, or the text's length. */
export function lineEnd(text: string, offset: number): number {
  const newline = text.indexOf('\n', offset)
  if (newline < 0) return text.length
  return newline > 0 && text[newline - 1] === '\r' ? newline - 1 : newline
}

/** Offset just past the line break ending the line holding `offset`. */
export function nextLineStart(text: string, offset: number): number {
  const newline = text.indexOf('\n', offset)
  return newline < 0 ? text.length : newline + 1
}

/** The comment after `offset` on the same line (without '#'), when only blanks come before it. */
export function trailingComment(text: string, offset: number): string | undefined {
  const rest = text.slice(offset, lineEnd(text, offset))
  const match = /^[ \t]*#(.*)$/.exec(rest)
  return match ? match[1] : undefined
}

/** Apply splices to `text`; they must not overlap (insertions at one offset are kept in order). */
export function applySplices(text: string, splices: readonly Splice[]): string {
  const ordered = splices
    .map((splice, order) => ({ ...splice, order }))
    .sort((a, b) => a.start - b.start || a.end - b.end || a.order - b.order)
  let out = ''
  let cursor = 0
  for (const splice of ordered) {
    if (splice.start < cursor) throw new Error(`overlapping edits at offset ${splice.start}`)
    out += text.slice(cursor, splice.start) + splice.text
    cursor = splice.end
  }
  return out + text.slice(cursor)
}

/** Where `offset` moves to once `splices` are applied; an insertion at `offset` itself pushes it right. */
export function shiftOffset(offset: number, splices: readonly Splice[]): number {
  let shifted = offset
  for (const splice of splices) {
    if (splice.end <= offset) shifted += splice.text.length - (splice.end - splice.start)
  }
  return shifted
}

export type QuoteStyle = 'QUOTE_SINGLE' | 'QUOTE_DOUBLE'

/** The scalar as YAML source: in the style it had, unless plain would read back as something else. */
export function encodeScalar(
  value: string,
  style: string | undefined,
  inFlow: boolean,
  fallback: QuoteStyle
): string {
  if (style === 'QUOTE_SINGLE') return `'${value.replace(/'/g, "''")}'`
  if (style === 'QUOTE_DOUBLE') return JSON.stringify(value)
  if (isPlainSafe(value, inFlow)) return value
  return encodeScalar(value, fallback, inFlow, fallback)
}

/** True when `value` written plain reads back as the same string under YAML 1.1 and 1.2 (Kubernetes is 1.1-ish). */
export function isPlainSafe(value: string, inFlow: boolean): boolean {
  // Only the characters references, tags and digests use (and Argo CD's alias=name); anything else is quoted, as a
  // person would.
  if (!/^[A-Za-z0-9_./][A-Za-z0-9_./:@+=-]*$/.test(value)) return false
  if (inFlow && /[,[\]{}]/.test(value)) return false
  if (/:$/.test(value)) return false
  return readsAs(value, value)
}

/** Answers readsAs has given: a run writes the same value into every file it pins. */
const readings = new Map<string, boolean>()
const MAX_READINGS = 256

/** Whether a one-line scalar's source reads as the string `value` under YAML 1.1 and 1.2 alike. */
export function readsAs(source: string, value: string): boolean {
  const key = `${source.length}:${source}${value}`
  let reads = readings.get(key)
  if (reads === undefined) {
    reads = (['1.1', '1.2'] as const).every(version => {
      const doc = parseDocument(source, { version })
      return doc.errors.length === 0 && isScalar(doc.contents) && doc.contents.value === value
    })
    if (readings.size >= MAX_READINGS) readings.clear()
    readings.set(key, reads)
  }
  return reads
}
