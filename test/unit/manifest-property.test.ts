import { describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import { parseDocument, stringify } from 'yaml'
import { pinText } from '../../src/lib/manifest/index.js'
import { DIGEST, OTHER_DIGEST } from '../support/manifest-fixtures/helpers.js'

const APP = 'ghcr.io/org/app'

/** How a person may have written the file around the image: none of it may change. */
interface Decoration {
  eol: '\n' | '\r\n'
  bom: boolean
  indent: 2 | 4
  indentedLists: boolean
  quote: 'plain' | 'single' | 'double'
  comment: string | undefined
  blankLines: boolean[]
  docsBefore: number
  docsAfter: number
  finalNewline: boolean
}

const comments = fc.option(
  fc.constantFrom(' # pinned', '   #no space', ' # 日本語のコメント', ' # émoji 🚀 "quoted" \'x\'', ' #'),
  { nil: undefined }
)

const decoration: fc.Arbitrary<Decoration> = fc.record({
  eol: fc.constantFrom('\n' as const, '\r\n' as const),
  bom: fc.boolean(),
  indent: fc.constantFrom(2 as const, 4 as const),
  indentedLists: fc.boolean(),
  quote: fc.constantFrom('plain' as const, 'single' as const, 'double' as const),
  comment: comments,
  blankLines: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
  docsBefore: fc.integer({ min: 0, max: 3 }),
  docsAfter: fc.integer({ min: 0, max: 3 }),
  finalNewline: fc.boolean()
})

function quoted(value: string, quote: Decoration['quote']): string {
  return quote === 'single' ? `'${value}'` : quote === 'double' ? `"${value}"` : value
}

/** A Deployment decorated by `d`, its image written as `image`. */
function renderDeployment(d: Decoration, image: string): string {
  const pad = (level: number) => ' '.repeat(level * d.indent)
  const dash = (level: number) => (d.indentedLists ? pad(level + 1) : pad(level))
  const blank = (i: number) => (d.blankLines[i] ? [''] : [])
  const lines = [
    'apiVersion: apps/v1',
    ...blank(0),
    'kind: Deployment # the web tier',
    'metadata:',
    `${pad(1)}name: web`,
    ...blank(1),
    'spec:',
    `${pad(1)}template:`,
    ...blank(2),
    `${pad(2)}spec:`,
    `${pad(3)}containers:`,
    `${dash(3)}- name: web`,
    `${dash(3)}  image: ${quoted(image, d.quote)}${d.comment ?? ''}`,
    ...blank(3),
    `${dash(3)}  ports: [{containerPort: 8080}]`
  ]
  const other = (n: number) => [`# document ${n}`, 'apiVersion: v1', 'kind: ConfigMap', `data: {n: "${n}"}`]
  const docs: string[][] = []
  for (let i = 0; i < d.docsBefore; i++) docs.push(other(i))
  docs.push(lines)
  for (let i = 0; i < d.docsAfter; i++) docs.push(other(10 + i))
  const text = docs.map(doc => doc.join(d.eol)).join(`${d.eol}---${d.eol}`)
  return `${d.bom ? '\uFEFF' : ''}${text}${d.finalNewline ? d.eol : ''}`
}

describe('decorations never change anything but the image bytes', () => {
  it('workload image', () => {
    fc.assert(
      fc.property(
        decoration,
        fc.constantFrom(`${APP}:v1`, `${APP}@${OTHER_DIGEST}`, `${APP}:v1@${OTHER_DIGEST}`, APP),
        fc.constantFrom(undefined, 'v2', '1.20', '2024.06.1-rc.1'),
        (d, old, tag) => {
          const before = renderDeployment(d, old)
          const result = pinText(before, 'deploy.yaml', { image: APP, digest: DIGEST, tag })
          const pinned = `${APP}${tag ? `:${tag}` : ''}@${DIGEST}`
          expect(result.errors).toEqual([])
          expect(result.text).toBe(renderDeployment(d, pinned))
          expect(result.changes).toHaveLength(1)
        }
      ),
      { numRuns: 300 }
    )
  })

  it('Helm tag', () => {
    fc.assert(
      fc.property(decoration, fc.constantFrom('v1', '1.10', `v1@${OTHER_DIGEST}`), (d, oldTag) => {
        const render = (tag: string) => {
          const pad = ' '.repeat(d.indent)
          const lines = [
            '# values for the web chart',
            'image:',
            ...(d.blankLines[0] ? [''] : []),
            `${pad}repository: ${quoted(APP, d.quote)}${d.comment ?? ''}`,
            `${pad}tag: ${quoted(tag, d.quote)}${d.comment ?? ''}`,
            `${pad}pullPolicy: IfNotPresent`,
            'replicaCount: 2'
          ]
          return `${d.bom ? '\uFEFF' : ''}${lines.join(d.eol)}${d.finalNewline ? d.eol : ''}`
        }
        const result = pinText(render(oldTag), 'values-prod.yaml', {
          image: APP,
          digest: DIGEST,
          tag: '1.20'
        })
        // Plain `1.20@sha256:…` is a string, so plain stays plain.
        expect(result.text).toBe(render(`1.20@${DIGEST}`))
      }),
      { numRuns: 200 }
    )
  })
})

describe('any layout the yaml package writes', () => {
  // Random values around a container, written in random styles: the pin either reads back exactly or is
  // refused, never half-applied, and a second pin changes nothing.
  const value = fc.letrec(tie => ({
    node: fc.oneof(
      { depthSize: 'small' },
      fc.string({ maxLength: 12 }),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.constant(`${APP}:v0`),
      fc.array(tie('node'), { maxLength: 4 }),
      fc.dictionary(
        fc.string({ minLength: 1, maxLength: 6 }).filter(key => key !== '<<'),
        tie('node'),
        { maxKeys: 4 }
      )
    )
  })).node

  it('is exact and idempotent', () => {
    fc.assert(
      fc.property(
        value,
        fc.record({
          indent: fc.integer({ min: 1, max: 6 }),
          flow: fc.boolean(),
          quote: fc.boolean(),
          indentSeq: fc.boolean()
        }),
        (extra, style) => {
          const object = {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            metadata: { name: 'web', annotations: { extra: JSON.stringify(extra) } },
            spec: { template: { spec: { containers: [{ name: 'web', image: `${APP}:v1`, extra }] } } }
          }
          const text = stringify(object, {
            indent: style.indent,
            indentSeq: style.indentSeq,
            singleQuote: style.quote,
            collectionStyle: style.flow ? 'flow' : 'block'
          })
          // The writer has corner cases its own parser refuses (an empty block list on its own line).
          fc.pre(parseDocument(text).errors.length === 0)
          const first = pinText(text, 'deploy.yaml', { image: APP, digest: DIGEST })
          expect(first.errors).toEqual([])
          expect(first.changes.filter(c => c.kind === 'workload')).toHaveLength(1)
          const second = pinText(first.text, 'deploy.yaml', { image: APP, digest: DIGEST })
          expect(second.text).toBe(first.text)
          expect(second.changes).toEqual([])
        }
      ),
      { numRuns: 200 }
    )
  })
})
