/**
 * A streaming JSON reader for reports far larger than is sensible to hold as one string: the structure is walked
 * byte by byte, and only the values a visitor asks for are materialised (each with JSON.parse of its own bytes).
 * Everything, including what is skipped, is validated: malformed input is always an error, never a short read.
 */

/** A step of the path from the root: an object key or an array index. */
export type PathKey = string | number

/**
 * What to do with the value at a path: walk into it (`descend`, containers only; scalars are then read as
 * `value`), read it whole and hand it to the visitor (`value`), or check it and drop it (`skip`).
 */
export type Selection = 'descend' | 'value' | 'skip'

export interface JsonVisitor {
  /** Asked once per value below the root; the root itself is always descended into when it is a container. */
  select(path: readonly PathKey[]): Selection
  /** A value read whole; `path` is only valid during the call. */
  value(path: readonly PathKey[], value: unknown): void
  /** A container walked into at `path` (optional): lets a visitor see an empty or present array. */
  enter?(path: readonly PathKey[], kind: 'object' | 'array'): void
}

/** The input is not JSON; `offset` is the byte where the problem was found. */
export class JsonSyntaxError extends Error {
  override name = 'JsonSyntaxError'
  constructor(
    message: string,
    readonly offset: number,
    readonly reason: 'empty' | 'truncated' | 'invalid'
  ) {
    super(message)
  }
}

const enum State {
  Value,
  ArrayFirst,
  ObjectFirst,
  KeyStart,
  Key,
  Colon,
  AfterValue,
  Capture,
  Done
}

const enum Capture {
  Container,
  String,
  Scalar
}

interface Frame {
  array: boolean
  /** Everything inside is checked and dropped. */
  skipping: boolean
  index: number
  keys?: Set<string>
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
const COMMA = 0x2c
const COLON = 0x3a
const OPEN_BRACE = 0x7b
const CLOSE_BRACE = 0x7d
const OPEN_BRACKET = 0x5b
const CLOSE_BRACKET = 0x5d

const QUOTE_BYTE = 1
const OPEN_BYTE = 2
const CLOSE_BYTE = 3
const BYTE_KIND = new Uint8Array(256)
BYTE_KIND[QUOTE] = QUOTE_BYTE
BYTE_KIND[OPEN_BRACE] = OPEN_BYTE
BYTE_KIND[OPEN_BRACKET] = OPEN_BYTE
BYTE_KIND[CLOSE_BRACE] = CLOSE_BYTE
BYTE_KIND[CLOSE_BRACKET] = CLOSE_BYTE

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09
}

/** Feed it chunks with `write`, then call `end`; the visitor is called synchronously as values complete. */
export class JsonStreamParser {
  private state = State.Value
  private readonly frames: Frame[] = []
  private readonly path: PathKey[] = []
  /** Absolute offset of the current chunk's first byte. */
  private base = 0
  private started = false
  private rootKind: 'object' | 'array' | 'scalar' | undefined

  // The value or key being captured.
  private captureKind = Capture.Container
  private captureKeep = true
  private captureDeliver = true
  private captureStart = 0
  private captureOffset = 0
  private depth = 0
  private inString = false
  /** The previous chunk ended on a backslash inside a string: the next byte is escaped. */
  private skipNext = false
  /** Backslashes that ended the previous chunk inside a captured string (an odd count escapes what follows). */
  private backslashes = 0
  private hasEscape = false
  private parts: Buffer[] = []

  constructor(private readonly visitor: JsonVisitor) {}

  /** Offset of the next byte to be read: how much of the input was consumed. */
  get bytesRead(): number {
    return this.base
  }

  write(chunk: Buffer): void {
    let i = 0
    const n = chunk.length
    if (!this.started && n > 0) {
      this.started = true
      // A UTF-8 byte order mark, as some Windows tools write.
      if (n >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) i = 3
    }
    if (this.state === State.Capture || this.state === State.Key) this.captureStart = i
    while (i < n) {
      if (this.state === State.Capture || this.state === State.Key) {
        i = this.state === State.Key ? this.scanKey(chunk, i) : this.scanCapture(chunk, i)
        continue
      }
      const c = chunk[i] as number
      if (isSpace(c)) {
        i++
        continue
      }
      switch (this.state) {
        case State.Value:
          // A container opened: step past its bracket. A capture starts at this very byte.
          if (this.beginValue(chunk, i, c) === 'opened') i++
          break
        case State.ArrayFirst:
          if (c === CLOSE_BRACKET) {
            this.closeContainer(i, true)
            i++
          } else {
            this.state = State.Value
          }
          break
        case State.ObjectFirst:
        case State.KeyStart:
          if (c === QUOTE) {
            this.beginCapture(chunk, i, Capture.String, true, false)
            this.state = State.Key
            i++
            this.inString = true
          } else if (c === CLOSE_BRACE && this.state === State.ObjectFirst) {
            this.closeContainer(i, false)
            i++
          } else {
            throw this.unexpected(c, i, this.state === State.KeyStart ? 'a key after a comma' : 'a key or }')
          }
          break
        case State.Colon:
          if (c !== COLON) throw this.unexpected(c, i, "':' after a key")
          this.state = State.Value
          i++
          break
        case State.AfterValue: {
          const frame = this.frames[this.frames.length - 1] as Frame
          if (c === COMMA) {
            if (frame.array) {
              frame.index++
              this.state = State.Value
            } else {
              this.state = State.KeyStart
            }
          } else if (c === (frame.array ? CLOSE_BRACKET : CLOSE_BRACE)) {
            this.closeContainer(i, frame.array)
          } else {
            throw this.unexpected(c, i, frame.array ? "',' or ']'" : "',' or '}'")
          }
          i++
          break
        }
        case State.Done:
          throw new JsonSyntaxError(
            `unexpected ${describeByte(c)} at byte ${this.base + i} after the end of the JSON document`,
            this.base + i,
            'invalid'
          )
      }
    }
    if (this.state === State.Capture || this.state === State.Key) {
      if (this.captureKeep && this.captureStart < n) this.parts.push(chunk.subarray(this.captureStart, n))
      this.captureStart = 0
    }
    this.base += n
  }

  /** Finishes the document; throws when it is empty or was cut off. Returns what the root was. */
  end(): 'object' | 'array' | 'scalar' {
    if (this.state === State.Capture && this.captureKind === Capture.Scalar && this.frames.length === 0) {
      this.finishCapture(Buffer.alloc(0), 0)
    }
    if (this.state === State.Done && this.rootKind) return this.rootKind
    if (this.rootKind === undefined && this.state === State.Value) {
      throw new JsonSyntaxError('the document is empty (no JSON value)', this.base, 'empty')
    }
    const inside = this.path.length > 0 ? ` inside ${formatPath(this.path)}` : ''
    throw new JsonSyntaxError(
      `the document is truncated: it ends after ${this.base} bytes${inside} before the JSON value is complete`,
      this.base,
      'truncated'
    )
  }

  private beginValue(chunk: Buffer, i: number, c: number): 'opened' | 'capturing' {
    const parent = this.frames[this.frames.length - 1]
    if (parent?.array) this.path[this.path.length - 1] = parent.index
    const skipping = parent?.skipping ?? false
    let selection: Selection
    if (!parent) selection = 'descend'
    else if (skipping) selection = 'skip'
    else selection = this.visitor.select(this.path)

    if (!parent) this.rootKind = c === OPEN_BRACE ? 'object' : c === OPEN_BRACKET ? 'array' : 'scalar'
    if ((c === OPEN_BRACE || c === OPEN_BRACKET) && selection !== 'value') {
      const array = c === OPEN_BRACKET
      this.frames.push({
        array,
        skipping: selection === 'skip',
        index: 0,
        keys: array ? undefined : new Set()
      })
      this.path.push(array ? 0 : '')
      if (selection === 'descend') this.visitor.enter?.(this.path.slice(0, -1), array ? 'array' : 'object')
      this.state = array ? State.ArrayFirst : State.ObjectFirst
      return 'opened'
    }
    const kind =
      c === OPEN_BRACE || c === OPEN_BRACKET
        ? Capture.Container
        : c === QUOTE
          ? Capture.String
          : Capture.Scalar
    if (kind === Capture.Scalar && !isScalarStart(c)) throw this.unexpected(c, i, 'a JSON value')
    // Skipped values are still parsed (so malformed ones fail) unless they are containers, which are walked.
    this.beginCapture(chunk, i, kind, true, selection !== 'skip')
    return 'capturing'
  }

  private beginCapture(_chunk: Buffer, i: number, kind: Capture, keep: boolean, deliver: boolean): void {
    this.state = State.Capture
    this.captureKind = kind
    this.captureKeep = keep
    this.captureDeliver = deliver
    this.captureStart = i
    this.captureOffset = this.base + i
    this.parts = []
    this.depth = 0
    this.inString = false
    this.hasEscape = false
    this.skipNext = false
    this.backslashes = 0
  }

  /** Scans a captured value from `i`; returns where scanning stopped (the chunk's end or past the value). */
  private scanCapture(chunk: Buffer, start: number): number {
    const n = chunk.length
    let i = start
    if (this.captureKind === Capture.Scalar) {
      while (i < n) {
        const c = chunk[i] as number
        if (c === COMMA || c === CLOSE_BRACE || c === CLOSE_BRACKET || isSpace(c)) {
          this.finishCapture(chunk, i)
          return i
        }
        i++
      }
      return n
    }
    let depth = this.depth
    let inString = this.inString
    if (this.captureKind === Capture.String && i === this.captureStart && !inString) {
      // The opening quote.
      inString = true
      i++
    }
    while (i < n) {
      if (inString) {
        // Most bytes of a report are inside strings: let indexOf find the next quote.
        const quote = chunk.indexOf(QUOTE, i)
        if (quote < 0) {
          this.backslashes = backslashesBefore(chunk, n, i, this.backslashes)
          break
        }
        const escaped = backslashesBefore(chunk, quote, i, this.backslashes) % 2 === 1
        this.backslashes = 0
        i = quote + 1
        if (escaped) continue
        inString = false
        if (this.captureKind === Capture.String) {
          this.finishCapture(chunk, i)
          return i
        }
        continue
      }
      // One table load per byte: white space, digits and punctuation between strings are most of the rest.
      const kind = BYTE_KIND[chunk[i] as number]
      if (kind === QUOTE_BYTE) {
        inString = true
      } else if (kind === OPEN_BYTE) {
        depth++
      } else if (kind === CLOSE_BYTE) {
        depth--
        if (depth === 0) {
          this.finishCapture(chunk, i + 1)
          return i + 1
        }
      }
      i++
    }
    this.depth = depth
    this.inString = inString
    return n
  }

  private scanKey(chunk: Buffer, start: number): number {
    const n = chunk.length
    let i = start
    if (this.skipNext) {
      this.skipNext = false
      i++
    }
    while (i < n) {
      const c = chunk[i] as number
      if (c === BACKSLASH) {
        this.hasEscape = true
        i += 2
        continue
      }
      if (c === QUOTE) {
        this.finishKey(chunk, i)
        return i + 1
      }
      i++
    }
    if (i > n) this.skipNext = true
    return n
  }

  private finishKey(chunk: Buffer, quote: number): void {
    const bytes = this.collect(chunk, quote + 1)
    let key: string
    try {
      key = this.hasEscape
        ? (JSON.parse(bytes.toString('utf8')) as string)
        : bytes.toString('utf8', 1, bytes.length - 1)
    } catch (error) {
      throw new JsonSyntaxError(
        `invalid object key at byte ${this.captureOffset}: ${(error as Error).message}`,
        this.captureOffset,
        'invalid'
      )
    }
    const frame = this.frames[this.frames.length - 1] as Frame
    if (frame.keys?.has(key)) {
      throw new JsonSyntaxError(
        `duplicate key '${key}' at byte ${this.captureOffset} in ${formatPath(this.path.slice(0, -1))}`,
        this.captureOffset,
        'invalid'
      )
    }
    frame.keys?.add(key)
    this.path[this.path.length - 1] = key
    this.state = State.Colon
  }

  private finishCapture(chunk: Buffer, end: number): void {
    const bytes = this.collect(chunk, end)
    let value: unknown
    try {
      value = JSON.parse(bytes.toString('utf8'))
    } catch (error) {
      throw new JsonSyntaxError(
        `invalid JSON in the value at ${formatPath(this.path)} (starting at byte ${this.captureOffset}): ${(error as Error).message}`,
        this.captureOffset,
        'invalid'
      )
    }
    if (this.captureDeliver) this.visitor.value(this.path, value)
    this.afterValue()
  }

  private collect(chunk: Buffer, end: number): Buffer {
    const last = chunk.subarray(this.captureStart, end)
    const bytes = this.parts.length === 0 ? last : Buffer.concat([...this.parts, last])
    this.parts = []
    return bytes
  }

  private closeContainer(_i: number, _array: boolean): void {
    this.frames.pop()
    this.path.pop()
    this.afterValue()
  }

  private afterValue(): void {
    this.state = this.frames.length === 0 ? State.Done : State.AfterValue
  }

  private unexpected(c: number, i: number, expected: string): JsonSyntaxError {
    return new JsonSyntaxError(
      `unexpected ${describeByte(c)} at byte ${this.base + i}${this.path.length ? ` in ${formatPath(this.path)}` : ''}: expected ${expected}`,
      this.base + i,
      'invalid'
    )
  }
}

/**
 * The run of backslashes just before `end`, looking no further back than `from`; a run reaching `from` at the
 * chunk's start continues the `carried` run of the previous chunk.
 */
function backslashesBefore(chunk: Buffer, end: number, from: number, carried: number): number {
  let k = end - 1
  while (k >= from && chunk[k] === BACKSLASH) k--
  const run = end - 1 - k
  return k < from && from === 0 ? run + carried : run
}

function isScalarStart(c: number): boolean {
  // - 0-9 t f n
  return c === 0x2d || (c >= 0x30 && c <= 0x39) || c === 0x74 || c === 0x66 || c === 0x6e
}

function describeByte(c: number): string {
  return c >= 0x20 && c < 0x7f ? `'${String.fromCharCode(c)}'` : `byte 0x${c.toString(16).padStart(2, '0')}`
}

/** `Results[3].Vulnerabilities[17]`: a path as people read it. */
export function formatPath(path: readonly PathKey[]): string {
  if (path.length === 0) return 'the top level'
  return path
    .map((key, index) =>
      typeof key === 'number'
        ? `[${key}]`
        : /^[A-Za-z_$][\w$-]*$/.test(key)
          ? index
            ? `.${key}`
            : key
          : `[${JSON.stringify(key)}]`
    )
    .join('')
}
