import { isDeepStrictEqual } from 'node:util'
import {
  Composer,
  CST,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  Lexer,
  LineCounter,
  Parser,
  type Alias,
  type Document,
  type Node,
  type Pair,
  type Scalar,
  type YAMLMap,
  type YAMLSeq
} from 'yaml'
import { readsAs, type Splice } from './source-text.js'

/** A map key (as `keyId` spells it) or a list index. */
export type PathStep = string | number

/** Where a node sits in its file: its parent and the step from it, so paths cost nothing until asked for. */
export interface NodeInfo {
  doc: number
  /** The step from the parent: a key id (`?id` for the key node itself) or an index; none for a root. */
  step?: PathStep
  /** Inside a flow collection (`{…}` / `[…]`), where `,[]{}` end a plain scalar. */
  inFlow: boolean
  /** A map key, a map value, a list item, or a document's root. */
  role: 'key' | 'value' | 'item' | 'root'
  /** The map key this node is the value of, when it is a plain string key. */
  key?: string
  parent?: YAMLMap | YAMLSeq
}

/** The parsed documents of one file, and where every node is. Aliases are never expanded. */
export interface YamlFile {
  text: string
  /** The yaml Lexer's tokens of `text`, which the parser read: what the proof of an edit compares. */
  tokens: string[]
  docs: Document.Parsed[]
  lines: LineCounter
  info: Map<Node, NodeInfo>
  /** Each alias and the node it names (the last anchor of that name before it). */
  aliases: Map<Alias, Node | undefined>
  /** Quote style most used in the file, for values that cannot stay plain. */
  preferredQuote: 'QUOTE_SINGLE' | 'QUOTE_DOUBLE'
}

export interface ParseFailure {
  line?: number
  message: string
}

const MERGE_DEPTH = 16
const MERGE_ID = '<<merge>>'

/** Parse every document of `text`; the first error of any document fails the whole file. */
export function parseYamlFile(text: string): YamlFile | ParseFailure {
  const lines = new LineCounter()
  const tokens: string[] = []
  const docs = parseDocuments(text, lines, tokens)
  if (!Array.isArray(docs)) return docs
  const file: YamlFile = {
    text,
    tokens,
    docs,
    lines,
    info: new Map(),
    aliases: new Map(),
    preferredQuote: 'QUOTE_DOUBLE'
  }
  const quotes = { single: 0, double: 0 }
  for (let index = 0; index < docs.length; index++) {
    const failure = indexDocument(file, index, quotes)
    if (failure) return failure
  }
  if (quotes.single > quotes.double) file.preferredQuote = 'QUOTE_SINGLE'
  return file
}

/**
 * Record where every node of one document is, depth-first in document order (an alias names the last anchor before
 * it), without recursion; count quoted scalars. A duplicate map key (merge keys aside) is the file's failure.
 */
function indexDocument(
  file: YamlFile,
  index: number,
  quotes: { single: number; double: number }
): ParseFailure | undefined {
  const anchors = new Map<string, Node>()
  // Two stacks, node and where it is, rather than one of pairs: the loop runs for every node of every file.
  const nodes: unknown[] = [file.docs[index]!.contents]
  const infos: NodeInfo[] = [nodeInfo(index, undefined, false, 'root', undefined, undefined)]
  while (nodes.length > 0) {
    const node = nodes.pop()
    const info = infos.pop()!
    if (isAlias(node)) {
      file.aliases.set(node, anchors.get(node.source))
      file.info.set(node, info)
      continue
    }
    if (!isScalar(node) && !isMap(node) && !isSeq(node)) continue
    file.info.set(node, info)
    if (node.anchor) anchors.set(node.anchor, node)
    if (isScalar(node)) {
      if (node.type === 'QUOTE_SINGLE') quotes.single++
      else if (node.type === 'QUOTE_DOUBLE') quotes.double++
      continue
    }
    const inFlow = info.inFlow || Boolean(node.flow)
    // Children go on the stack last first, so that they come off it in document order.
    if (isMap(node)) {
      const ids = keyIds(file, node)
      if (!Array.isArray(ids)) return ids
      for (let i = node.items.length - 1; i >= 0; i--) {
        const pair = node.items[i]!
        const key = isScalar(pair.key) && typeof pair.key.value === 'string' ? pair.key.value : undefined
        nodes.push(pair.value, pair.key)
        infos.push(
          nodeInfo(index, ids[i], inFlow, 'value', key, node),
          nodeInfo(index, `?${ids[i]}`, inFlow, 'key', undefined, node)
        )
      }
    } else {
      for (let i = node.items.length - 1; i >= 0; i--) {
        nodes.push(node.items[i])
        infos.push(nodeInfo(index, i, inFlow, 'item', undefined, node))
      }
    }
  }
  return undefined
}

/** Every NodeInfo has the same fields in the same order, so code reading them meets one shape. */
function nodeInfo(
  doc: number,
  step: PathStep | undefined,
  inFlow: boolean,
  role: NodeInfo['role'],
  key: string | undefined,
  parent: YAMLMap | YAMLSeq | undefined
): NodeInfo {
  return { doc, step, inFlow, role, key, parent }
}

/** The id of each key of `map` in order, or the failure of a duplicate key (merge keys aside), at its second use. */
function keyIds(file: YamlFile, map: YAMLMap): string[] | ParseFailure {
  const ids: string[] = []
  const seen = new Set<string>()
  for (const pair of map.items) {
    const id = keyId(pair.key, file.text)
    if (id !== MERGE_ID && seen.has(id)) {
      const at = (pair.key as Node | null)?.range?.[0]
      return {
        line: at === undefined ? undefined : file.lines.linePos(at).line,
        message: 'map keys must be unique'
      }
    }
    seen.add(id)
    ids.push(id)
  }
  return ids
}

/**
 * The documents of `text`, or the first error of any document: the yaml package's parseAllDocuments, with the
 * composer's options set here, and the lexer's tokens pushed to `tokens`. Duplicate keys are left to the caller.
 */
function parseDocuments(
  text: string,
  lines: LineCounter,
  tokens: string[] = []
): Document.Parsed[] | ParseFailure {
  let docs: Document.Parsed[]
  try {
    const parser = new Parser(lines.addNewLine)
    // The parser's own duplicate-key check is quadratic in a map's size; callers check in one pass.
    const composer = new Composer({ merge: true, uniqueKeys: false })
    // The parser fed from a Lexer of our own, as the yaml docs show, keeps the tokens without lexing twice; the
    // first line's start is reported here, as Parser.parse would.
    lines.addNewLine(0)
    const cst = function* () {
      for (const token of new Lexer().lex(text)) {
        tokens.push(token)
        yield* parser.next(token)
      }
      yield* parser.end()
    }
    docs = Array.from(composer.compose(cst())) as Document.Parsed[]
  } catch (error) {
    return { message: `the parser gave up: ${error instanceof Error ? error.message : String(error)}` }
  }
  for (const doc of docs) {
    const error = doc.errors[0]
    if (error) return { line: lines.linePos(error.pos[0]).line, message: error.message.split('\n')[0]! }
  }
  return docs
}

/** The path from the document's root to `node`. */
export function pathOf(file: YamlFile, node: Node): PathStep[] {
  const path: PathStep[] = []
  for (let info = file.info.get(node); info?.step !== undefined; info = file.info.get(info.parent!)) {
    path.unshift(info.step)
  }
  return path
}

/** The node and its ancestors. */
export function lineageOf(file: YamlFile, node: Node): Node[] {
  const lineage: Node[] = [node]
  for (let parent = file.info.get(node)?.parent; parent; parent = file.info.get(parent)?.parent) {
    lineage.push(parent)
  }
  return lineage
}

/** True for a parse failure. */
export function isParseFailure(value: YamlFile | ParseFailure): value is ParseFailure {
  return !('docs' in value)
}

/** The identity of a map key in a path: type and value for scalars, the source text for anything else. */
export function keyId(key: unknown, text: string): string {
  if (isScalar(key)) {
    const value = typeof key.value === 'symbol' ? MERGE_ID : `${typeof key.value}:${String(key.value)}`
    return `${key.anchor ? `&${key.anchor} ` : ''}${key.tag ? `!${key.tag} ` : ''}${value}`
  }
  if (key === null || key === undefined) return 'null'
  const range = (key as Node).range
  return `complex:${range ? text.slice(range[0], range[1]) : ''}`
}

/** The id a plain string key has in a path. */
export function stringKeyId(key: string): string {
  return `string:${key}`
}

/** 1-based line of an offset. */
export function lineOf(file: YamlFile, offset: number): number {
  return file.lines.linePos(offset).line
}

/** The node an alias names; any other node is itself. */
export function resolveNode(file: YamlFile, node: unknown): Scalar | YAMLMap | YAMLSeq | undefined {
  const target = isAlias(node) ? file.aliases.get(node) : node
  return isScalar(target) || isMap(target) || isSeq(target) ? target : undefined
}

/** The pair of `key` in `map`, looking through `<<` merge keys (bounded) like YAML 1.1 merges do. */
export function findPair(
  file: YamlFile,
  map: YAMLMap,
  key: string,
  depth = 0
): { pair: Pair<unknown, unknown>; owner: YAMLMap } | undefined {
  for (const pair of map.items) {
    if (isScalar(pair.key) && pair.key.value === key) return { pair, owner: map }
  }
  if (depth >= MERGE_DEPTH) return undefined
  for (const pair of map.items) {
    if (!isScalar(pair.key) || typeof pair.key.value !== 'symbol') continue
    const sources = isSeq(pair.value) ? pair.value.items : [pair.value]
    for (const source of sources) {
      const merged = resolveNode(file, source)
      if (!isMap(merged)) continue
      const found = findPair(file, merged, key, depth + 1)
      if (found) return found
    }
  }
  return undefined
}

/** The value of `key` in `map` (aliases resolved), with the pair that holds it. */
export function getValue(
  file: YamlFile,
  map: unknown,
  key: string
): { node: Scalar | YAMLMap | YAMLSeq | undefined; raw: unknown; pair: Pair<unknown, unknown> } | undefined {
  if (!isMap(map)) return undefined
  const found = findPair(file, map, key)
  if (!found) return undefined
  return { node: resolveNode(file, found.pair.value), raw: found.pair.value, pair: found.pair }
}

/** Follow `keys` from `node` through maps (aliases resolved). */
export function dig(
  file: YamlFile,
  node: unknown,
  ...keys: string[]
): Scalar | YAMLMap | YAMLSeq | undefined {
  let current = resolveNode(file, node)
  for (const key of keys) {
    current = getValue(file, current, key)?.node
    if (!current) return undefined
  }
  return current
}

/** True for a `|` or `>` scalar, whose layout a person chose on purpose. */
export function isBlockScalar(node: unknown): boolean {
  return isScalar(node) && (node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED')
}

/** A string scalar's value, else undefined. */
export function stringValue(node: unknown): string | undefined {
  return isScalar(node) && typeof node.value === 'string' ? node.value : undefined
}

/** The scalar's text as a person reads it: strings as they are, numbers as written (`tag: 1.20`). */
export function scalarText(file: YamlFile, node: Scalar): string {
  if (typeof node.value === 'string') return node.value
  if (node.value === null || node.value === undefined) return ''
  return node.source ?? (node.range ? file.text.slice(node.range[0], node.range[1]) : String(node.value))
}

const aliasesByTarget = new WeakMap<YamlFile, Map<Node, Alias[]>>()

/** Offsets of every alias through which `node` is also used: aliases of it, of an ancestor, and so on transitively. */
export function aliasOffsets(file: YamlFile, node: Node): number[] {
  if (file.aliases.size === 0) return []
  let byTarget = aliasesByTarget.get(file)
  if (!byTarget) {
    byTarget = new Map()
    for (const [alias, target] of file.aliases) {
      if (!target) continue
      const list = byTarget.get(target)
      if (list) list.push(alias)
      else byTarget.set(target, [alias])
    }
    aliasesByTarget.set(file, byTarget)
  }
  const offsets = new Set<number>()
  const seen = new Set<Node>()
  const queue = lineageOf(file, node)
  while (queue.length > 0) {
    const shared = queue.pop()!
    if (seen.has(shared)) continue
    seen.add(shared)
    for (const alias of byTarget.get(shared) ?? []) {
      if (alias.range) offsets.add(alias.range[0])
      queue.push(...lineageOf(file, alias))
    }
  }
  return [...offsets].sort((a, b) => a - b)
}

/** How a document reads back: values, tags, anchors and aliases, map entries by key. Comments and layout are not in it. */
export type Plain =
  | { scalar: unknown; tag?: string; anchor?: string }
  | { alias: string }
  | { map: Map<string, Plain>; tag?: string; anchor?: string }
  | { seq: Plain[]; tag?: string; anchor?: string }
  | { empty: true }

/** An edit as the document should read back after it. */
export type Expectation =
  | { doc: number; path: PathStep[]; op: 'set'; value: string }
  | { doc: number; path: PathStep[]; op: 'add'; key: string; value: Plain }
  | { doc: number; path: PathStep[]; op: 'remove'; key: string }
  | { doc: number; path: PathStep[]; op: 'append'; value: Plain }

/** The plain form of a string, map or list written fresh (no tag, no anchor). */
export function plainOf(value: string | Record<string, string> | Array<Record<string, string>>): Plain {
  if (typeof value === 'string') return { scalar: value }
  if (Array.isArray(value)) return { seq: value.map(plainOf) }
  return { map: new Map(Object.entries(value).map(([k, v]) => [stringKeyId(k), plainOf(v)])) }
}

/** The plain form of a node; the offset of each duplicate map key (merge keys aside) goes to `duplicates`. */
function toPlain(node: unknown, text: string, duplicates: number[] = []): Plain {
  const meta = (n: { tag?: string; anchor?: string }) => ({
    ...(n.tag ? { tag: n.tag } : {}),
    ...(n.anchor ? { anchor: n.anchor } : {})
  })
  if (isAlias(node)) return { alias: node.source }
  if (isScalar(node)) return { scalar: node.value, ...meta(node) }
  if (isMap(node)) {
    const map = new Map<string, Plain>()
    for (const pair of node.items) {
      const id = keyId(pair.key, text)
      if (map.has(id) && id !== MERGE_ID) duplicates.push((pair.key as Node | null)?.range?.[0] ?? -1)
      map.set(id, toPlain(pair.value, text, duplicates))
    }
    return { map, ...meta(node) }
  }
  if (isSeq(node)) return { seq: node.items.map(item => toPlain(item, text, duplicates)), ...meta(node) }
  return { empty: true }
}

/**
 * Check that `newText` reads exactly as `before` with `expectations` applied: the edited values are what was
 * intended and nothing else changed. Returns what differs, or undefined when all is as expected.
 */
export function verifyEdit(
  before: YamlFile,
  newText: string,
  splices: readonly Splice[],
  expectations: readonly Expectation[]
): string | undefined {
  if (scalarEditsLexAsIntended(before.tokens, newText, splices, expectations)) return undefined
  // Only the values are compared, so the re-parse skips the index parseYamlFile builds for editing.
  const lines = new LineCounter()
  const docs = parseDocuments(newText, lines)
  if (!Array.isArray(docs))
    return `the edited text does not parse (line ${docs.line ?? '?'}: ${docs.message})`
  const duplicates: number[] = []
  const actual = docs.map(doc => toPlain(doc.contents, newText, duplicates))
  if (duplicates.length > 0) {
    const line = duplicates[0]! < 0 ? '?' : lines.linePos(duplicates[0]!).line
    return `the edited text does not parse (line ${line}: map keys must be unique)`
  }
  if (actual.length !== before.docs.length) {
    return `the edited text has ${actual.length} documents instead of ${before.docs.length}`
  }
  const expected = before.docs.map(doc => toPlain(doc.contents, before.text))
  for (const expectation of expectations) {
    const problem = apply(expected, expectation)
    if (problem) return problem
  }
  for (let i = 0; i < expected.length; i++) {
    if (!isDeepStrictEqual(expected[i], actual[i])) {
      return `document ${i + 1} does not read back as intended`
    }
  }
  return undefined
}

function apply(docs: Plain[], expectation: Expectation): string | undefined {
  const where = `document ${expectation.doc + 1} at ${expectation.path.join(' > ') || 'the root'}`
  let node = docs[expectation.doc]
  for (const step of expectation.path) {
    if (node && typeof step === 'number' && 'seq' in node) node = node.seq[step]
    else if (node && typeof step === 'string' && 'map' in node) node = node.map.get(step)
    else node = undefined
  }
  if (!node) return `nothing found in ${where}`
  switch (expectation.op) {
    case 'set':
      if (!('scalar' in node)) return `no scalar in ${where}`
      node.scalar = expectation.value
      return undefined
    case 'add':
    case 'remove':
      if (!('map' in node)) return `no map in ${where}`
      if (expectation.op === 'add') node.map.set(stringKeyId(expectation.key), expectation.value)
      else if (!node.map.delete(stringKeyId(expectation.key))) return `no key ${expectation.key} in ${where}`
      return undefined
    case 'append':
      if (!('seq' in node)) return `no list in ${where}`
      node.seq.push(expectation.value)
      return undefined
  }
}

/**
 * The proof of the common edit, where every splice replaces one scalar value in place, at a quarter of a re-parse's
 * cost: the yaml package's Lexer must give the edited text the `original` tokens but for each spliced scalar, which
 * must be the splice's text, of the same kind, reading as the intended value. The parser builds a document from
 * tokens, never from a scalar's content (test/unit/manifest-verify.test.ts holds this to the full re-parse). False
 * when that cannot be shown, and the caller re-parses.
 */
export function scalarEditsLexAsIntended(
  original: readonly string[],
  newText: string,
  splices: readonly Splice[],
  expectations: readonly Expectation[]
): boolean {
  if (splices.length === 0 || expectations.length !== splices.length) return false
  if (!expectations.every(e => e.op === 'set') || !splices.every(s => s.value !== undefined)) return false
  const pending = [...splices].sort((a, b) => a.start - b.start)
  const edited = Array.from(new Lexer().lex(newText))
  if (edited.length !== original.length) return false
  let offset = 0
  let atScalar = false
  let next = 0
  for (let i = 0; i < original.length; i++) {
    const token = original[i]!
    const at = offset
    // A scalar's source follows its marker, which (like the document and flow-error-end markers) has no width.
    const kind: CST.TokenType | 'plain' | null = atScalar ? 'plain' : CST.tokenType(token)
    atScalar = kind === 'scalar'
    if (kind !== 'scalar' && kind !== 'doc-mode' && kind !== 'flow-error-end') offset += token.length
    const splice = pending[next]
    if (splice && at === splice.start && offset > at) {
      const replaced = edited[i]!
      const scalar = kind === 'plain' || kind === 'single-quoted-scalar' || kind === 'double-quoted-scalar'
      if (!scalar || token.length !== splice.end - splice.start || replaced !== splice.text) return false
      if (kind !== 'plain' && CST.tokenType(replaced) !== kind) return false
      if (/[\r\n]/.test(token) || /[\r\n]/.test(replaced) || !readsAs(replaced, splice.value!)) return false
      next++
    } else if (edited[i] !== token) {
      return false
    }
  }
  return next === pending.length
}
