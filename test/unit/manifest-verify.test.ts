// The proofs of an edit, over every fixture, real edits and hostile ones. The full re-parse (verifyEdit, values, tags
// and anchors compared) may only accept an edit after which the yaml package's own toJS of every document is the
// original's with that one scalar changed (aliases of it included); the cheap proof by tokens
// (scalarEditsLexAsIntended) may only accept what the full re-parse accepts. Both must accept the edits the engine
// really makes (or the cheap one saves nothing).
import { describe, expect, it } from '@jest/globals'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { isDeepStrictEqual } from 'node:util'
import path from 'node:path'
import { isScalar, parseAllDocuments, visit, type Scalar } from 'yaml'
import { applySplices, encodeScalar } from '../../src/lib/manifest/source-text.js'
import {
  isBlockScalar,
  isParseFailure,
  parseYamlFile,
  pathOf,
  scalarEditsLexAsIntended,
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
  node: Scalar
  edited: string
  value: string
}

function edit(before: YamlFile, node: Scalar, text: string, value: string): Case {
  const [start, end] = node.range!
  return { before, node, edited: applySplices(before.text, [{ start, end, text }]), value }
}

const expectation = (c: Case): Expectation => ({
  doc: c.before.info.get(c.node)!.doc,
  path: pathOf(c.before, c.node),
  op: 'set',
  value: c.value
})
// Without a splice (whose value the cheap proof needs), verifyEdit re-parses.
const proven = (c: Case) => verifyEdit(c.before, c.edited, [], [expectation(c)]) === undefined
const provenCheaply = (c: Case) => {
  const [start, end] = c.node.range!
  const text = c.edited.slice(start, c.edited.length - (c.before.text.length - end))
  return scalarEditsLexAsIntended(
    c.before.tokens,
    c.edited,
    [{ start, end, text, value: c.value }],
    [expectation(c)]
  )
}

/** What the yaml package reads from `text`, or undefined when a document has an error. */
function toJS(text: string, change?: { offset: number; value: string }): unknown[] | undefined {
  const docs = parseAllDocuments(text, { merge: true, uniqueKeys: false })
  if (!Array.isArray(docs) || docs.some(doc => doc.errors.length > 0)) return undefined
  if (change) {
    // Changing the node itself, not the path to it, changes every alias of it too.
    for (const doc of docs) {
      visit(doc, {
        Scalar(_key, node) {
          if (node.range?.[0] === change.offset) node.value = change.value
        }
      })
    }
  }
  return docs.map(doc => doc.toJS({ maxAliasCount: -1 }))
}

/** The independent reading: the edited text reads as the original with the one scalar set to the value. */
const readsAsIntended = (c: Case) => {
  const actual = toJS(c.edited)
  return (
    actual !== undefined &&
    isDeepStrictEqual(actual, toJS(c.before.text, { offset: c.node.range![0], value: c.value }))
  )
}

const files = yamlFiles(FIXTURES)
  .map(file => ({ name: path.relative(FIXTURES, file), yaml: parseYamlFile(readFileSync(file, 'utf8')) }))
  .filter((f): f is { name: string; yaml: YamlFile } => !isParseFailure(f.yaml))

describe('the proof of an edit', () => {
  it('reads every fixture that parses', () => {
    expect(files.length).toBeGreaterThanOrEqual(15)
  })

  it.each(files.map(f => [f.name, f.yaml] as const))(
    '%s: accepts the edits the engine makes, and only edits that read back as intended',
    (_name, yaml) => {
      for (const node of scalarValues(yaml, 6)) {
        const info = yaml.info.get(node)!
        const style = node.type === 'QUOTE_SINGLE' || node.type === 'QUOTE_DOUBLE' ? node.type : undefined
        const encoded = encodeScalar(VALUE, style, info.inFlow, yaml.preferredQuote)
        const engine = edit(yaml, node, encoded, VALUE)
        expect(readsAsIntended(engine)).toBe(true)
        expect(proven(engine)).toBe(true)
        // The engine keeps a scalar's quoting, so its edits are all provable without the re-parse.
        expect(provenCheaply(engine)).toBe(true)
        let refused = 0
        for (const [text, value] of HOSTILE) {
          const hostile = edit(yaml, node, text, value)
          if (provenCheaply(hostile))
            expect({ text, accepted: proven(hostile) }).toEqual({ text, accepted: true })
          if (proven(hostile))
            expect({ text, reads: readsAsIntended(hostile) }).toEqual({ text, reads: true })
          else refused++
        }
        // A list where a string was, an unclosed quote, a new key: never the value intended.
        expect(refused).toBeGreaterThanOrEqual(3)
      }
    }
  )

  it('refuses a change the expectations do not name, even where it reads as a valid document', () => {
    const before = parseYamlFile('a: &x 1\nb: *x\nc: [y, z]\n') as YamlFile
    const set = { doc: 0, path: ['string:c', 1], op: 'set' as const, value: 'w' }
    const verify = (text: string, expectations = [set]) => verifyEdit(before, text, [], expectations)
    expect(verify('a: &x 1\nb: *x\nc: [y, w]\n')).toBe(undefined)
    expect(verify('a: &x 1\nb: *x\nc: [y, w]\n', [{ ...set, value: 'v' }])).toMatch(/read back/)
    expect(verify('a: &x 1\nb: 1\nc: [y, w]\n')).toMatch(/read back/)
    expect(verify('a: 1\nb: *x\nc: [y, w]\n')).toMatch(/read back/)
    expect(verify('a: &x 1\nb: *x\nc: [y, w\n')).toMatch(/does not parse/)
    expect(verify('a: &x 1\nb: *x\nc: [y, w]\nc: 2\n')).toMatch(/unique/)
    expect(verify('a: &x 1\nb: *x\nc: [y, !!str w]\n')).toMatch(/read back/)
  })

  it('proves by tokens only a splice that is exactly one scalar token, and nothing else changed', () => {
    const tokens = (parseYamlFile('a: x\nb: [y, z]\n') as YamlFile).tokens
    const set: Expectation = { doc: 0, path: ['string:a'], op: 'set', value: 'x2' }
    const cheap = (
      newText: string,
      splice: { start: number; end: number; text: string },
      expectations = [set]
    ) => scalarEditsLexAsIntended(tokens, newText, [{ ...splice, value: 'x2' }], expectations)
    // The right splice is proven.
    expect(cheap('a: x2\nb: [y, z]\n', { start: 3, end: 4, text: 'x2' })).toBe(true)
    // The splice starts inside the token.
    expect(cheap('a: x2\nb: [y, z]\n', { start: 4, end: 4, text: '2' })).toBe(false)
    // Two expectations for one splice.
    expect(
      cheap('a: x2\nb: [y, z]\n', { start: 3, end: 4, text: 'x2' }, [set, { ...set, path: ['string:b', 0] }])
    ).toBe(false)
    // The text changed somewhere the splice does not describe.
    expect(cheap('a: x2\nb: [y, Z]\n', { start: 3, end: 4, text: 'x2' })).toBe(false)
    // A quote the edit opens is closed further on: everything after it lexes differently.
    expect(cheap('a: "x2\nb: [y, z]\n"\n', { start: 3, end: 4, text: '"x2' })).toBe(false)
  })
})
