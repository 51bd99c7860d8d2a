import { isMap, isScalar, type Node, type Pair, type Scalar, type YAMLMap } from 'yaml'
import type { PinTarget } from './pin-target.js'
import { detectEol, encodeScalar, lineEnd, lineStart, nextLineStart, type Splice } from './source-text.js'
import type {
  ChangeKind,
  FileError,
  NotManaged,
  NotManagedReason,
  Previous,
  Reference
} from './request-and-changes.js'
import {
  aliasOffsets,
  isBlockScalar,
  lineOf,
  pathOf,
  plainOf,
  type Expectation,
  type YamlFile
} from './yaml-tree.js'

/** A change before the edited text exists: its line in the new text is worked out once every splice is known. */
export interface PendingChange {
  /** Offset in the original text the change is reported at. */
  offset: number
  /** A splice that ends at `offset` but belongs after it (an insertion reported at its own new line). */
  own?: Splice
  /** Lines to add to the line `offset` lands on (an inserted block reported at one of its lines). */
  extraLines?: number
  old: string
  new: string
  kind: ChangeKind
  /** Offsets (original text) of aliases sharing the edited value. */
  aliasOffsets?: number[]
  previous?: Previous
}

/** The edits of one file, collected by every editor before anything is applied. */
export class EditSession {
  readonly splices: Splice[] = []
  readonly expectations: Expectation[] = []
  readonly changes: PendingChange[] = []
  readonly unchanged: Reference[] = []
  readonly notManaged: NotManaged[] = []
  /** What makes the file invalid for the tool that reads it (e.g. an `images:` entry Kustomize refuses). */
  readonly errors: FileError[] = []
  private readonly handled = new Set<Node>()
  readonly eol: string

  constructor(
    readonly yaml: YamlFile,
    readonly file: string,
    readonly target: PinTarget
  ) {
    this.eol = detectEol(yaml.text)
  }

  get text(): string {
    return this.yaml.text
  }

  /** Mark nodes as looked after, so no editor touches them again and none is reported as not managed. */
  handle(...nodes: unknown[]): void {
    for (const node of nodes) if (node && typeof node === 'object') this.handled.add(node as Node)
  }

  isHandled(node: unknown): boolean {
    return Boolean(node) && this.handled.has(node as Node)
  }

  line(offset: number): number {
    return lineOf(this.yaml, offset)
  }

  /** Record a reference that already has the requested value. */
  found(node: Node, value: string, kind: ChangeKind): void {
    this.unchanged.push({ file: this.file, line: this.line(node.range?.[0] ?? 0), value, kind })
  }

  /** Record a change reported at `node`'s line; aliases sharing the node are listed. */
  change(node: Node, old: string, value: string, kind: ChangeKind): void {
    const offset = node.range?.[0] ?? 0
    const shared = aliasOffsets(this.yaml, node)
    this.changes.push({
      offset,
      old,
      new: value,
      kind,
      ...(shared.length > 0 ? { aliasOffsets: shared } : {}),
      previous: { file: this.file, line: this.line(offset), old }
    })
  }

  skip(
    node: Node | undefined,
    text: string,
    reason: NotManagedReason,
    message: string,
    offset?: number
  ): void {
    const at = offset ?? node?.range?.[0] ?? 0
    this.notManaged.push({ file: this.file, line: this.line(at), text, reason, message })
  }

  /** Record that the file is invalid at `node`: the run fails naming it, and nothing is written. */
  invalid(node: Node | undefined, message: string): void {
    const line = this.line(node?.range?.[0] ?? 0)
    this.errors.push({ file: this.file, line, kind: 'invalid', message: `${this.file}:${line} ${message}` })
  }

  private expect(node: Node, op: 'set', value: string): void
  private expect(node: Node, op: 'add', key: string, value: string): void
  private expect(node: Node, op: 'remove', key: string): void
  private expect(node: Node, op: 'set' | 'add' | 'remove', a: string, b?: string): void {
    const info = this.yaml.info.get(node)
    if (!info) throw new Error('edited node is not in the index')
    const path = pathOf(this.yaml, node)
    if (op === 'set') this.expectations.push({ doc: info.doc, path, op, value: a })
    else if (op === 'add') this.expectations.push({ doc: info.doc, path, op, key: a, value: plainOf(b!) })
    else this.expectations.push({ doc: info.doc, path, op, key: a })
  }

  /** Record an arbitrary expectation (for inserted collections). */
  expectRaw(expectation: Expectation): void {
    this.expectations.push(expectation)
  }

  /** Encode `value` for insertion where `near` lives (flow or block), plain when that reads back the same. */
  encode(value: string, near: Node): string {
    return encodeScalar(value, undefined, this.inFlow(near), this.yaml.preferredQuote)
  }

  inFlow(node: Node): boolean {
    const info = this.yaml.info.get(node)
    return Boolean(info?.inFlow) || (isMap(node) && Boolean(node.flow))
  }

  /**
   * Replace the scalar's bytes with `value`, in the quoting style it has. Returns false (and reports it) for a
   * block scalar, whose layout a person chose on purpose.
   */
  setScalar(node: Scalar, value: string, pair?: Pair<unknown, unknown>): boolean {
    const range = node.range
    if (!range) throw new Error('scalar without a source range')
    if (isBlockScalar(node)) {
      this.skip(
        node,
        String(node.value).trim(),
        'unsupported-shape',
        'a block scalar (| or >) holds the image: write it on one line to have it pinned'
      )
      return false
    }
    const info = this.yaml.info.get(node)
    const empty = node.value === null && range[0] === range[1]
    if (empty && pair && isScalar(pair.key) && pair.key.range) {
      // `key:` or `key: # comment` with no value: the value goes right after the colon.
      const colon = this.text.indexOf(':', pair.key.range[1])
      this.splices.push({ start: colon + 1, end: colon + 1, text: ` ${this.encode(value, node)}` })
    } else {
      const style = node.type === 'QUOTE_SINGLE' || node.type === 'QUOTE_DOUBLE' ? node.type : undefined
      const encoded = encodeScalar(value, style, Boolean(info?.inFlow), this.yaml.preferredQuote)
      this.splices.push({
        start: range[0],
        end: range[1],
        text: encoded,
        ...(info?.role === 'key' ? {} : { value })
      })
    }
    this.expect(node, 'set', value)
    return true
  }

  /** Offset just after the last character of `node`'s content (trailing blank lines and spaces excluded). */
  contentEnd(node: Node): number {
    const range = node.range!
    let end = range[1]
    while (end > range[0] && /\s/.test(this.text[end - 1]!)) end--
    return end
  }

  /** The column at which `map`'s keys start. */
  keyColumn(map: YAMLMap): number {
    const first = map.items[0]?.key as Node | undefined
    const at = first?.range?.[0] ?? map.range![0]
    return at - lineStart(this.text, at)
  }

  /**
   * Add `pairs` to `map` (block or flow), before `before` when given, else after `after` (default: the last pair).
   * Returns the splice, or undefined when the layout is not one we add to.
   */
  insertPairs(
    map: YAMLMap,
    pairs: Array<[string, string]>,
    where: { before?: Pair<unknown, unknown>; after?: Pair<unknown, unknown> } = {}
  ): Splice | undefined {
    const before = where.before
    const last = where.after ?? map.items[map.items.length - 1]
    if (!last || pairs.length === 0) return undefined
    let splice: Splice
    if (map.flow) {
      const end = this.contentEnd((last.value ?? last.key) as Node)
      const text = pairs.map(([k, v]) => `, ${k}: ${this.encode(v, map)}`).join('')
      splice = { start: end, end, text }
    } else {
      const indent = ' '.repeat(this.keyColumn(map))
      const beforeKey = before?.key as Node | undefined
      if (beforeKey?.range) {
        const start = lineStart(this.text, beforeKey.range[0])
        if (this.text.slice(start, beforeKey.range[0]).trim() !== '') return undefined
        const text = pairs.map(([k, v]) => `${indent}${k}: ${this.encode(v, map)}${this.eol}`).join('')
        splice = { start, end: start, text }
      } else {
        const valueNode = (last.value ?? last.key) as Node
        if (!isScalar(valueNode)) return undefined
        const end = lineEnd(this.text, this.contentEnd(valueNode))
        const text = pairs.map(([k, v]) => `${this.eol}${indent}${k}: ${this.encode(v, map)}`).join('')
        splice = { start: end, end, text }
      }
    }
    this.splices.push(splice)
    for (const [k, v] of pairs) this.expect(map, 'add', k, v)
    return splice
  }

  /** Remove `pair` from `map`, its whole line in a block map. False when the layout is not one we remove from. */
  removePair(map: YAMLMap, pair: Pair<unknown, unknown>): boolean {
    const index = map.items.indexOf(pair)
    const key = pair.key as Node
    const value = (pair.value ?? pair.key) as Node
    if (index < 0 || !key.range || !isScalar(key) || typeof key.value !== 'string' || !isScalar(value))
      return false
    const next = map.items[index + 1]?.key as Node | undefined
    let splice: Splice | undefined
    if (map.flow) {
      const previous = map.items[index - 1]
      if (previous)
        splice = {
          start: this.contentEnd((previous.value ?? previous.key) as Node),
          end: this.contentEnd(value),
          text: ''
        }
      else if (next?.range) splice = { start: key.range[0], end: next.range[0], text: '' }
    } else {
      const start = lineStart(this.text, key.range[0])
      if (this.text.slice(start, key.range[0]).trim() === '') {
        splice = { start, end: nextLineStart(this.text, this.contentEnd(value)), text: '' }
      } else if (next?.range) {
        // The first key shares the line with `- `: the next key moves up to take its place.
        splice = { start: key.range[0], end: next.range[0], text: '' }
      }
    }
    if (!splice) return false
    this.splices.push(splice)
    this.expect(map, 'remove', key.value)
    return true
  }
}
