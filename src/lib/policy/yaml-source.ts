import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair, type YAMLMap } from 'yaml'
import { ConfigurationError } from '../errors.js'

/** A parsed YAML file whose errors say `file:line: what is wrong`. */
export class YamlSource {
  private readonly lines = new LineCounter()
  readonly root: Node | null

  constructor(
    readonly label: string,
    text: string
  ) {
    const document = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true })
    const [first] = document.errors
    if (first) {
      const line = first.pos?.[0] === undefined ? undefined : this.lines.linePos(first.pos[0]).line
      throw new ConfigurationError(`${label}${line ? `:${line}` : ''}: ${first.message.split('\n')[0]}`)
    }
    this.root = document.contents
  }

  /** `file:line` of a node. */
  at(node: Node | null | undefined): string {
    const offset = node?.range?.[0]
    return offset === undefined ? this.label : `${this.label}:${this.lines.linePos(offset).line}`
  }

  error(node: Node | null | undefined, message: string): ConfigurationError {
    return new ConfigurationError(`${this.at(node)}: ${message}`)
  }

  /** The pairs of a mapping, refusing keys not in `allowed` (named with their line). */
  entries(
    node: Node | null,
    what: string,
    allowed: readonly string[]
  ): Array<{ key: string; pair: Pair<Node, Node | null> }> {
    if (!isMap(node)) throw this.error(node, `${what} must be a mapping`)
    return (node as YAMLMap<Node, Node | null>).items.map(pair => {
      const keyNode = pair.key
      const key = isScalar(keyNode) ? String(keyNode.value) : ''
      if (!allowed.includes(key)) {
        throw this.error(keyNode, `unknown key '${key}' in ${what} (known keys: ${allowed.join(', ')})`)
      }
      return { key, pair }
    })
  }

  /** The items of a sequence. */
  items(node: Node | null, what: string): Node[] {
    if (!isSeq(node)) throw this.error(node, `${what} must be a list`)
    return node.items as Node[]
  }

  string(node: Node | null, what: string): string {
    if (!isScalar(node) || typeof node.value !== 'string' || node.value.trim() === '') {
      throw this.error(node, `${what} must be a non-empty string`)
    }
    return node.value.trim()
  }

  boolean(node: Node | null, what: string): boolean {
    if (!isScalar(node) || typeof node.value !== 'boolean')
      throw this.error(node, `${what} must be true or false`)
    return node.value
  }

  integer(node: Node | null, what: string): number {
    if (
      !isScalar(node) ||
      typeof node.value !== 'number' ||
      !Number.isInteger(node.value) ||
      node.value < 0
    ) {
      throw this.error(node, `${what} must be a whole number, 0 or more`)
    }
    return node.value
  }

  /** A scalar as text: dates written bare stay as written (YAML 1.1 timestamps become `YYYY-MM-DD…` again). */
  text(node: Node | null, what: string): string {
    if (!isScalar(node) || node.value === null || node.value === undefined)
      throw this.error(node, `${what} must be a value`)
    const value: unknown = node.value
    if (value instanceof Date) return value.toISOString().replace(/T00:00:00\.000Z$/, '')
    return String(value).trim()
  }

  strings(node: Node | null, what: string): string[] {
    return this.items(node, what).map((item, index) => this.string(item, `${what}[${index}]`))
  }
}
