import { describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import {
  JsonStreamParser,
  JsonSyntaxError,
  type PathKey,
  type Selection
} from '../../src/lib/scanner/json-stream.js'

/** Feeds `text` in the given chunk sizes; records every value delivered with its path. */
function parse(
  text: string | Buffer,
  chunks: number[] = [],
  select: (path: readonly PathKey[]) => Selection = () => 'value'
): { root: string; values: Array<[string, unknown]> } {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text)
  const values: Array<[string, unknown]> = []
  const parser = new JsonStreamParser({
    select,
    value: (path, value) => values.push([path.join('/'), value])
  })
  let offset = 0
  for (const size of chunks) {
    if (offset >= bytes.length) break
    parser.write(bytes.subarray(offset, offset + size))
    offset += size
  }
  if (offset < bytes.length) parser.write(bytes.subarray(offset))
  return { root: parser.end(), values }
}

function failure(text: string, chunks: number[] = []): JsonSyntaxError {
  try {
    parse(text, chunks)
  } catch (error) {
    if (error instanceof JsonSyntaxError) return error
    throw error
  }
  throw new Error(`parsed without error: ${text}`)
}

describe('JsonStreamParser', () => {
  it('delivers the top-level values of an object, whatever the chunk boundaries', () => {
    const text = '{"a": [1, {"b": "x\\"}]{["}], "c": "\\\\", "d": null, "e": -1.5e3, "f": true}'
    const expected = [
      ['a', [1, { b: 'x"}]{[' }]],
      ['c', '\\'],
      ['d', null],
      ['e', -1500],
      ['f', true]
    ]
    expect(parse(text).values).toEqual(expected)
    for (let size = 1; size <= text.length; size++) {
      expect(parse(text, Array(text.length).fill(size)).values).toEqual(expected)
    }
  })

  it('walks into containers it is asked to descend into, with array indexes in the path', () => {
    const text = '{"Results": [{"Target": "t", "Vulnerabilities": [{"id": 1}, {"id": 2}]}], "x": 5}'
    const select = (path: readonly PathKey[]): Selection =>
      path.length <= 3 && path[0] === 'Results' && path[2] !== 'Target'
        ? 'descend'
        : path[0] === 'x'
          ? 'skip'
          : 'value'
    expect(parse(text, [7, 3, 11], select).values).toEqual([
      ['Results/0/Target', 't'],
      ['Results/0/Vulnerabilities/0', { id: 1 }],
      ['Results/0/Vulnerabilities/1', { id: 2 }]
    ])
  })

  it('reads a scalar root and skips a UTF-8 byte order mark', () => {
    expect(parse('null').values).toEqual([['', null]])
    expect(parse(' null \n').root).toBe('scalar')
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a": 1}')])
    expect(parse(bom).values).toEqual([['a', 1]])
  })

  it('keeps multi-byte UTF-8 split across chunks intact', () => {
    const text = '{"t": "Größe – 大きさ – 🙂"}'
    const bytes = Buffer.from(text)
    for (let size = 1; size < bytes.length; size++) {
      expect(parse(bytes, Array(bytes.length).fill(size)).values).toEqual([['t', 'Größe – 大きさ – 🙂']])
    }
  })

  it.each([
    ['', 'empty', 'the document is empty'],
    ['   \n', 'empty', 'the document is empty'],
    ['{"a": [1, 2', 'truncated', 'inside a'],
    ['{"a": "unterminated', 'truncated', 'truncated'],
    ['{"a": 1', 'truncated', 'truncated'],
    ['{"a": 1} x', 'invalid', 'after the end of the JSON document'],
    ['{"a": 1,}', 'invalid', 'expected a key after a comma'],
    ['{"a": [1,]}', 'invalid', 'invalid JSON in the value at a'],
    ['{"a" 1}', 'invalid', "expected ':'"],
    ['{"a": tru}', 'invalid', 'invalid JSON in the value at a'],
    ['{"a": {"b": 1]}', 'invalid', 'invalid JSON in the value at a'],
    ['{"a": 1, "a": 2}', 'invalid', "duplicate key 'a'"],
    ['{a: 1}', 'invalid', 'expected a key or }'],
    ['{"a": "\\x"}', 'invalid', 'invalid JSON']
  ])('refuses %j as %s', (text, reason, message) => {
    const error = failure(text)
    expect(error.reason).toBe(reason)
    expect(error.message).toContain(message)
  })

  it('checks values it skips: a malformed skipped value is still an error', () => {
    const select = (): Selection => 'skip'
    expect(() => parse('{"skipped": {"deep": [1, 2, tru]}}', [], select)).toThrow(JsonSyntaxError)
    expect(() => parse('{"skipped": {"deep": "\\q"}}', [], select)).toThrow(JsonSyntaxError)
    expect(parse('{"skipped": {"deep": [1, "}"]}}', [], select).values).toEqual([])
    expect(() => parse('{"walked": [1,]}', [], () => 'descend')).toThrow('expected a JSON value')
  })

  it('agrees with JSON.parse on any JSON object split at any points (property)', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 4 }), { maxKeys: 6 }),
        fc.array(fc.integer({ min: 1, max: 17 }), { maxLength: 40 }),
        fc.boolean(),
        (object, chunks, pretty) => {
          const text = JSON.stringify(object, null, pretty ? 2 : undefined)
          const expected = Object.entries(JSON.parse(text) as Record<string, unknown>)
          expect(parse(text, chunks).values).toEqual(expected)
        }
      ),
      { numRuns: 300 }
    )
  })

  it('never accepts a proper prefix of an object or array as a document (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.dictionary(fc.string(), fc.jsonValue()), fc.array(fc.jsonValue())),
        fc.nat(),
        (value, cut) => {
          const text = JSON.stringify(value)
          const prefix = text.slice(0, cut % text.length)
          expect(() => parse(prefix)).toThrow(JsonSyntaxError)
        }
      ),
      { numRuns: 300 }
    )
  })
})
