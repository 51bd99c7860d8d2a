import { formatPath, type JsonVisitor, type PathKey } from './json-stream.js'
import { ReportError, type ScanReport } from './finding.js'

/** What the top level of a report turned out to be. */
export interface ReportRoot {
  kind: 'object' | 'array' | 'scalar'
  /** The keys of an object root, in order. */
  keys: string[]
  /** The value of a scalar root (`null` for Trivy's legacy empty report). */
  scalar?: unknown
}

/**
 * One report format: the streaming reader routes the top-level keys it owns (or a whole array root) to it, and
 * asks it at the end whether the report is its format and what it says. Adding a scanner is one such file.
 */
export interface ReportCollector extends JsonVisitor {
  readonly name: string
  /** True for a top-level key of this format (routed here whatever the format turns out to be). */
  ownsKey(key: string): boolean
  /** True for a root that is an array or a scalar this format uses. */
  ownsRoot(root: Pick<ReportRoot, 'kind' | 'scalar'>): boolean
  /** True when the root identifies this format. */
  recognises(root: ReportRoot): boolean
  /** The report; throws a ReportError when something the format requires is missing or wrong. */
  finish(root: ReportRoot): ScanReport
}

/** A plain JSON object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Typed field reads that name the path and field in their errors. */
export class Fields {
  constructor(
    private readonly record: Record<string, unknown>,
    private readonly where: string
  ) {}

  static of(value: unknown, path: readonly PathKey[] | string, what = 'an object'): Fields {
    const where = typeof path === 'string' ? path : formatPath(path)
    if (!isRecord(value)) {
      throw new ReportError(`${where} is ${describe(value)}, not ${what}`)
    }
    return new Fields(value, where)
  }

  get raw(): Record<string, unknown> {
    return this.record
  }

  /** A string that must be there and not be empty. */
  string(key: string): string {
    const value = this.record[key]
    if (typeof value !== 'string' || value === '') {
      throw new ReportError(`${this.where}.${key} is ${describe(value)}; a non-empty string is required`)
    }
    return value
  }

  /** A string, '' when absent or null. */
  optionalString(key: string): string {
    const value = this.record[key]
    if (value === undefined || value === null) return ''
    if (typeof value !== 'string') {
      throw new ReportError(`${this.where}.${key} is ${describe(value)}; expected a string`)
    }
    return value
  }

  /** Strings of an array, [] when absent or null. */
  strings(key: string): string[] {
    const value = this.record[key]
    if (value === undefined || value === null) return []
    if (!Array.isArray(value) || value.some(item => typeof item !== 'string')) {
      throw new ReportError(`${this.where}.${key} is ${describe(value)}; expected an array of strings`)
    }
    return value as string[]
  }

  /** A nested object, undefined when absent or null. */
  object(key: string): Fields | undefined {
    const value = this.record[key]
    if (value === undefined || value === null) return undefined
    return Fields.of(value, `${this.where}.${key}`)
  }

  /** A nested array, [] when absent or null. */
  array(key: string): unknown[] {
    const value = this.record[key]
    if (value === undefined || value === null) return []
    if (!Array.isArray(value))
      throw new ReportError(`${this.where}.${key} is ${describe(value)}; expected an array`)
    return value
  }
}

/** How a value reads in an error message: its type, and the value itself when short. */
export function describe(value: unknown): string {
  if (value === undefined) return 'missing'
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') return 'an object'
  const text = JSON.stringify(value)
  return `${typeof value === 'string' ? 'the string' : `the ${typeof value}`} ${text.length > 60 ? `${text.slice(0, 57)}…` : text}`
}

/** Throws unless a container the reader walked into has the expected kind (`null` arrives as a value instead). */
export function expectKind(
  path: readonly PathKey[],
  kind: 'object' | 'array',
  expected: 'object' | 'array'
): void {
  if (kind !== expected) {
    throw new ReportError(
      `${formatPath(path)} is ${kind === 'array' ? 'an array' : 'an object'}; expected ${expected === 'array' ? 'an array' : 'an object'}`
    )
  }
}
