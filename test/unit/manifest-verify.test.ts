// The cheap proof of scalar edits (scalarEditsReadBack) against the full re-parse it stands in for: over every
// fixture, real edits and hostile ones, the cheap proof may only accept what the full re-parse accepts, and it must
// accept the edits the engine really makes (or it saves nothing).
import { describe, expect, it } from '@jest/globals'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { isScalar, Lexer, type Scalar } from 'yaml'
import { applySplices, encodeScalar, type Splice } from '../../src/lib/manifest/source-text.js'
import {
  editedLinesMatch,
  isBlockScalar,
  isParseFailure,
  parseYamlFile,
  pathOf,
  scalarEditsReadBack,
  verifyEdit,
  type Expectation,
  type YamlFile
} from '../../src/lib/manifest/yaml-tree.js'
import { DIGEST, FIXTURES } from '../support/manifest-fixtures/helpers.js'

const VALUE = `ghcr.io/org/app:1.2.3@${DIGEST}`

/** Replacement texts that must not pass for VALUE unless the full re-parse agrees, each with the value intended. */
const HOSTILE: Array<[string, string]> = [
  ...[
    VALUE,
    `"${VALUE}"`,
    `'${VALUE}'`,
    `${VALUE} # c`,
    `${VALUE} #c`,
    `${VALUE}#c`,
    `${VALUE}:`,
    `${VALUE}: x`,
    `${VALUE},`,
    `${VALUE}]`,
    `${VALUE}}`,
    `[${VALUE}]`,
    `{${VALUE}}`,
    `&a ${VALUE}`,
    `!!str ${VALUE}`,
    `${VALUE}\n`,
    `${VALUE}\nx: 1`,
    `"${VALUE}`,
    `'${VALUE}`,
    `"${VALUE}\\q"`,
    `- ${VALUE}`,
    `? ${VALUE}`,
    `${VALUE} `,
    `\t${VALUE}`,
    '|',
    '>',
    '*a',
    '%x',
    '@x',
    '',
    ' '
  ].map((text): [string, string] => [text, VALUE]),
  // Strings that a plain scalar would turn into something else.
  ...['1.0', 'null', 'true', '~', '0x1F', '1e3', 'yes', 'on', '2001-12-14', '12:30', '-', '.inf'].map(
    (text): [string, string] => [text, text]
  )
]

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap(name => {
    const file = path.join(dir, name)
    if (statSync(file).isDirectory()) return yamlFiles(file)
    return /\.ya?ml$|Kustomization$/.test(name) ? [file] : []
  })
}

/** Up to `limit` scalar values (map values and list items, not keys, not block scalars), spread over the file. */
function scalarValues(file: YamlFile, limit: number): Scalar[] {
  const all = [...file.info.entries()]
    .filter(([node, info]) => isScalar(node) && info.role !== 'key' && info.role !== 'root' && node.range)
    .map(([node]) => node as Scalar)
    .filter(node => !isBlockScalar(node) && node.range![0] < node.range![1])
  const step = Math.max(1, Math.floor(all.length / limit))
  return all.filter((_, i) => i % step === 0).slice(0, limit)
}

interface Case {
  before: YamlFile
  edited: string
  splice: Splice
  expectation: Expectation
}

function edit(before: YamlFile, node: Scalar, text: string, value: string): Case {
  const [start, end] = node.range!
  return {
    before,
    edited: applySplices(before.text, [{ start, end, text }]),
    splice: { start, end, text, value },
    expectation: { doc: before.info.get(node)!.doc, path: pathOf(before, node), op: 'set', value }
  }
}

const fast = (c: Case) => scalarEditsReadBack(c.before, c.edited, [c.splice], [c.expectation])
// Without the splice's value only the full re-parse can answer.
const full = (c: Case) =>
  verifyEdit(c.before, c.edited, [{ ...c.splice, value: undefined }], [c.expectation]) === undefined

const files = yamlFiles(FIXTURES)
  .map(file => ({ name: path.relative(FIXTURES, file), yaml: parseYamlFile(readFileSync(file, 'utf8')) }))
  .filter((f): f is { name: string; yaml: YamlFile } => !isParseFailure(f.yaml))

describe('the cheap proof of scalar edits', () => {
  it('reads every fixture that parses', () => {
    expect(files.length).toBeGreaterThanOrEqual(15)
  })

  it.each(files.map(f => [f.name, f.yaml] as const))(
    '%s: accepts only what the full re-parse accepts, and the edits the engine makes',
    (_name, yaml) => {
      let engineEdits = 0
      let provenCheaply = 0
      for (const node of scalarValues(yaml, 6)) {
        const info = yaml.info.get(node)!
        const style = node.type === 'QUOTE_SINGLE' || node.type === 'QUOTE_DOUBLE' ? node.type : undefined
        const encoded = encodeScalar(VALUE, style, info.inFlow, yaml.preferredQuote)
        const engine = edit(yaml, node, encoded, VALUE)
        expect(full(engine)).toBe(true)
        engineEdits++
        if (fast(engine)) provenCheaply++
        // Proven from the edited lines alone, not by lexing the whole edited text.
        expect(editedLinesMatch(yaml.text, engine.edited, [engine.splice])).toBe(true)
        for (const [text, value] of HOSTILE) {
          const hostile = edit(yaml, node, text, value)
          if (fast(hostile)) expect({ text, accepted: full(hostile) }).toEqual({ text, accepted: true })
        }
      }
      // The engine keeps a scalar's quoting, so its edits are nearly all provable without the re-parse.
      expect(provenCheaply).toBe(engineEdits)
    }
  )

  it('relies on a Lexer whose state between calls is the fields this yaml version has', () => {
    // The edited lines are lexed from a copy of the Lexer's own fields: a yaml upgrade that keeps state elsewhere
    // must be looked at before this list is changed.
    expect(Object.keys(new Lexer()).sort()).toEqual([
      'atEnd',
      'blockScalarIndent',
      'blockScalarKeep',
      'buffer',
      'flowKey',
      'flowLevel',
      'indentNext',
      'indentValue',
      'lineEndPos',
      'next',
      'pos'
    ])
  })

  it('lexes only around the edit, and sees an edit that changes how the rest of the text lexes', () => {
    const text = `a: x\nb: "y"\nc: 1\n${'d: 2\n'.repeat(40)}`
    const good = { start: 3, end: 4, text: 'z', value: 'z' }
    expect(editedLinesMatch(text, applySplices(text, [good]), [good])).toBe(true)
    // A quote the edit opens is closed by the next line's: everything after lexes differently.
    const open = { start: 3, end: 4, text: '"x', value: 'x' }
    expect(editedLinesMatch(text, applySplices(text, [open]), [open])).toBe(false)
    // At the end of the text, what the lexer held back is compared too.
    const last = text.length - 2
    const end = { start: last, end: last + 1, text: '3', value: '3' }
    expect(editedLinesMatch(text, applySplices(text, [end]), [end])).toBe(false)
    const endText = { start: last, end: last + 1, text: 'three', value: 'three' }
    expect(editedLinesMatch(text, applySplices(text, [endText]), [endText])).toBe(true)
  })

  it('refuses an edit whose splice is not exactly one scalar token', () => {
    const before = parseYamlFile('a: x\nb: [y, z]\n') as YamlFile
    const expectation: Expectation = { doc: 0, path: ['string:a'], op: 'set', value: 'x2' }
    // The splice starts inside the token.
    expect(
      scalarEditsReadBack(
        before,
        'a: x2\nb: [y, z]\n',
        [{ start: 4, end: 4, text: '2', value: 'x2' }],
        [expectation]
      )
    ).toBe(false)
    // Two expectations for one splice.
    const twice = [expectation, { ...expectation, path: ['string:b', 0] }]
    expect(
      scalarEditsReadBack(
        before,
        'a: x2\nb: [y, z]\n',
        [{ start: 3, end: 4, text: 'x2', value: 'x2' }],
        twice
      )
    ).toBe(false)
    // The text changed somewhere the splices do not describe.
    expect(
      scalarEditsReadBack(
        before,
        'a: x2\nb: [y, Z]\n',
        [{ start: 3, end: 4, text: 'x2', value: 'x2' }],
        [expectation]
      )
    ).toBe(false)
    // The right splice is proven.
    expect(
      scalarEditsReadBack(
        before,
        'a: x2\nb: [y, z]\n',
        [{ start: 3, end: 4, text: 'x2', value: 'x2' }],
        [expectation]
      )
    ).toBe(true)
  })
})
