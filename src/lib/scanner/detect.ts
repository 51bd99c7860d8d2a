import type { FileHandle } from 'node:fs/promises'
import { errorMessage } from '../errors.js'
import { openRegularFile } from '../workspace-files.js'
import { describe, type ReportCollector, type ReportRoot } from './collector.js'
import { ReportError, type ScanReport } from './finding.js'
import { createGrypeCollector } from './grype.js'
import { JsonStreamParser, JsonSyntaxError, type JsonVisitor, type PathKey } from './json-stream.js'
import { createSarifCollector } from './sarif.js'
import { createTrivyCollector } from './trivy.js'

/** Every format a report is recognised as; a new scanner adds its collector here. */
const FORMATS: Array<() => ReportCollector> = [
  createTrivyCollector,
  createGrypeCollector,
  createSarifCollector
]

const CHUNK_BYTES = 1024 * 1024

/** A report being read: feed bytes, then `finish` detects the format from the content and returns the report. */
export class ReportReader {
  private readonly collectors = FORMATS.map(create => create())
  private readonly keys: string[] = []
  private readonly owners = new Map<string, ReportCollector>()
  private rootKind: ReportRoot['kind'] | undefined
  private rootOwner: ReportCollector | undefined
  private scalar: unknown
  private readonly parser: JsonStreamParser

  constructor(private readonly label: string) {
    this.parser = new JsonStreamParser(this.router())
  }

  write(chunk: Buffer): void {
    try {
      this.parser.write(chunk)
    } catch (error) {
      throw this.wrap(error)
    }
  }

  finish(): ScanReport {
    let kind: ReportRoot['kind']
    try {
      kind = this.parser.end()
    } catch (error) {
      throw this.wrap(error)
    }
    const root: ReportRoot = { kind, keys: this.keys, scalar: this.scalar }
    if (kind === 'scalar' && !this.collectors.some(c => c.ownsRoot(root))) {
      throw new ReportError(`${this.label} is ${describe(this.scalar)}, not a scanner report`)
    }
    const matching = this.collectors.filter(collector => collector.recognises(root))
    if (matching.length === 0) {
      const keys = this.keys.length
        ? `top-level keys ${this.keys.map(key => `'${key}'`).join(', ')}`
        : 'no keys'
      throw new ReportError(
        `${this.label} is in an unrecognised format (${kind === 'object' ? keys : `a JSON ${kind}`}): expected Trivy JSON ` +
          '(SchemaVersion 2, or the legacy array), Grype JSON (matches with source or descriptor) or SARIF 2.1.0 (version and runs)'
      )
    }
    if (matching.length > 1) {
      throw new ReportError(
        `${this.label} looks like several formats at once (${matching.map(c => c.name).join(', ')}): refusing to guess`
      )
    }
    try {
      return (matching[0] as ReportCollector).finish(root)
    } catch (error) {
      throw this.wrap(error)
    }
  }

  /** Routes top-level keys to the format that owns them, so one pass serves every format. */
  private router(): JsonVisitor {
    const ownerOf = (path: readonly PathKey[]): ReportCollector | undefined => {
      const [first] = path
      return typeof first === 'number'
        ? this.rootOwner
        : first === undefined
          ? undefined
          : this.owners.get(first)
    }
    return {
      select: path => {
        if (path.length === 1) {
          const [first] = path
          if (typeof first === 'number') {
            this.rootKind ??= 'array'
            this.rootOwner ??= this.collectors.find(c => c.ownsRoot({ kind: 'array' }))
          } else if (first !== undefined) {
            this.rootKind ??= 'object'
            this.keys.push(first)
            const owner = this.collectors.find(collector => collector.ownsKey(first))
            if (owner) this.owners.set(first, owner)
          }
        }
        const owner = ownerOf(path)
        return owner ? owner.select(path) : 'skip'
      },
      enter: (path, kind) => {
        if (path.length === 0) {
          this.rootKind = kind
          if (kind === 'array') this.rootOwner = this.collectors.find(c => c.ownsRoot({ kind: 'array' }))
          return
        }
        ownerOf(path)?.enter?.(path, kind)
      },
      value: (path, value) => {
        if (path.length === 0) {
          this.scalar = value
          return
        }
        ownerOf(path)?.value(path, value)
      }
    }
  }

  private wrap(error: unknown): Error {
    if (error instanceof JsonSyntaxError) {
      const what =
        error.reason === 'empty'
          ? 'is empty'
          : error.reason === 'truncated'
            ? 'is truncated'
            : 'is not valid JSON'
      return new ReportError(`${this.label} ${what}: ${error.message}`)
    }
    if (error instanceof ReportError) return new ReportError(`${this.label}: ${error.message}`)
    return error as Error
  }
}

/**
 * Reads a report file in chunks (never whole into memory) and detects its format from the content. Only a regular
 * file is read (opened without following a symlink or blocking on a FIFO): a device or a FIFO would never end.
 */
export async function readReport(file: string, label = `the report ${file}`): Promise<ScanReport> {
  let handle: FileHandle
  try {
    handle = await openRegularFile(file, label)
  } catch (error) {
    throw new ReportError(errorMessage(error))
  }
  try {
    const { size } = await handle.stat()
    if (size === 0) throw new ReportError(`${label} is empty (0 bytes)`)
    const reader = new ReportReader(label)
    try {
      for await (const chunk of handle.createReadStream({ highWaterMark: CHUNK_BYTES, autoClose: false }))
        reader.write(chunk as Buffer)
    } catch (error) {
      if (error instanceof ReportError) throw error
      throw new ReportError(`${label} cannot be read: ${(error as Error).message}`)
    }
    return reader.finish()
  } finally {
    await handle.close()
  }
}

/** Reads a report held in memory (tests, small reports). */
export function parseReport(content: string | Buffer, label = 'the report'): ScanReport {
  const bytes = typeof content === 'string' ? Buffer.from(content) : content
  if (bytes.length === 0) throw new ReportError(`${label} is empty (0 bytes)`)
  const reader = new ReportReader(label)
  reader.write(bytes)
  return reader.finish()
}
