// Argo CD's own image layouts: kustomize.images and helm.parameters of Applications and ApplicationSets, and the
// parameter override files Argo CD Image Updater writes back (.argocd-source-<app>.yaml).
import { describe, expect, it } from '@jest/globals'
import { pinText, type PinRequest } from '../../src/lib/manifest/index.js'
import { changedLines, DIGEST, fixture, OTHER_DIGEST } from '../support/manifest-fixtures/helpers.js'

const APP = 'ghcr.io/org/app'
const pin = (text: string, file: string, request: Partial<PinRequest> = {}) =>
  pinText(text, file, { image: APP, digest: DIGEST, ...request })

/** An Application whose single source has `kustomize.images` holding `entries` (from line 9). */
const application = (...entries: string[]) =>
  [
    'apiVersion: argoproj.io/v1alpha1',
    'kind: Application',
    'metadata: {name: web, namespace: argocd}',
    'spec:',
    '  source:',
    '    repoURL: https://github.com/org/gitops',
    '    path: apps/web',
    '    kustomize:',
    '      images:',
    ...entries.map(entry => `        - ${entry}`),
    ''
  ].join('\n')

describe('Application kustomize.images', () => {
  it.each([
    ['name:tag', `${APP}:1.0.0`, `${APP}:v2@${DIGEST}`, `${APP}@${DIGEST}`],
    ['name@digest', `${APP}@${OTHER_DIGEST}`, `${APP}:v2@${DIGEST}`, `${APP}@${DIGEST}`],
    ['name:tag@digest', `${APP}:1.0.0@${OTHER_DIGEST}`, `${APP}:v2@${DIGEST}`, `${APP}@${DIGEST}`],
    ['alias=name:tag', `app=${APP}:1.0.0`, `app=${APP}:v2@${DIGEST}`, `app=${APP}@${DIGEST}`],
    ['alias=name', `nginx=${APP}`, `nginx=${APP}:v2@${DIGEST}`, `nginx=${APP}@${DIGEST}`],
    ['a registry port', `localhost:5000/org/app:1`, `localhost:5000/org/app:v2@${DIGEST}`, null],
    ['single quotes', `'${APP}:1.0.0'`, `'${APP}:v2@${DIGEST}'`, `'${APP}@${DIGEST}'`],
    ['double quotes', `"app=${APP}:1.0.0"`, `"app=${APP}:v2@${DIGEST}"`, `"app=${APP}@${DIGEST}"`],
    ['a comment after it', `${APP}:1.0.0 # promoted`, `${APP}:v2@${DIGEST} # promoted`, null]
  ])('%s', (_name, entry, withTag, withoutTag) => {
    const text = application('redis:7.2', entry)
    const aliases = entry.includes('localhost:5000') ? ['localhost:5000/org/app'] : []
    const tagged = pin(text, 'apps/web.yaml', { tag: 'v2', aliases })
    expect(changedLines(text, tagged.text)).toEqual({ 11: `        - ${withTag}\n` })
    expect(tagged.changes).toEqual([expect.objectContaining({ line: 11, kind: 'kustomize-images' })])
    expect(tagged.notManaged).toEqual([])
    if (withoutTag !== null) {
      expect(changedLines(text, pin(text, 'apps/web.yaml').text)).toEqual({ 11: `        - ${withoutTag}\n` })
    }
  })

  it('reports what the consumer renders: the image after the alias', () => {
    const result = pin(application(`app=${APP}:1.0.0`), 'app.yaml', { tag: 'v2' })
    expect(result.changes.map(c => [c.old, c.new])).toEqual([[`${APP}:1.0.0`, `${APP}:v2@${DIGEST}`]])
    expect(result.previous).toEqual([{ file: 'app.yaml', line: 10, old: `${APP}:1.0.0` }])
  })

  it('finds an entry already pinned, and changes nothing', () => {
    const text = application(`app=${APP}:v2@${DIGEST}`)
    const result = pin(text, 'app.yaml', { tag: 'v2' })
    expect(result.text).toBe(text)
    expect(result.changes).toEqual([])
    expect(result.unchanged).toEqual([expect.objectContaining({ line: 10, value: `${APP}:v2@${DIGEST}` })])
  })

  it('leaves other images alone, and an alias of ours renamed to another image, without a warning', () => {
    const text = application(`${APP}-worker:1.0.0`, `${APP}=ghcr.io/org/other:1.0.0`, 'ghcr.io/org/other:2')
    const result = pin(text, 'app.yaml', { tag: 'v2' })
    expect(result.text).toBe(text)
    expect(result.notManaged).toEqual([])
  })

  it('pins a flow list in place, keeping its layout', () => {
    const text = `apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  source:\n    kustomize: {images: [redis:7, ${APP}:1.0.0]}\n`
    expect(changedLines(text, pin(text, 'app.yaml', { tag: 'v2' }).text)).toEqual({
      5: `    kustomize: {images: [redis:7, ${APP}:v2@${DIGEST}]}\n`
    })
  })

  it('pins every one of several sources, CRLF and comments untouched', () => {
    const text = [
      'apiVersion: argoproj.io/v1alpha1',
      'kind: Application',
      'spec:',
      '  sources:',
      '    # the chart',
      '    - repoURL: https://charts.example.com',
      '      chart: web',
      '    - repoURL: https://github.com/org/gitops',
      '      kustomize:',
      '        images:',
      `          - ${APP}:1.0.0   # web`,
      '    - kustomize:',
      `        images: ["api=${APP}:1.0.0"]`,
      ''
    ].join('\r\n')
    const result = pin(text, 'app.yaml', { tag: 'v2' })
    expect(changedLines(text, result.text)).toEqual({
      11: `          - ${APP}:v2@${DIGEST}   # web\r\n`,
      13: `        images: ["api=${APP}:v2@${DIGEST}"]\r\n`
    })
  })
})

describe('ApplicationSet template sources', () => {
  it('pins spec.template.spec.source and sources[*], and leaves a templated entry to a person', () => {
    const text = [
      'apiVersion: argoproj.io/v1alpha1',
      'kind: ApplicationSet',
      'metadata: {name: web}',
      'spec:',
      '  generators: [{list: {elements: [{env: dev}]}}]',
      '  template:',
      "    metadata: {name: 'web-{{env}}'}",
      '    spec:',
      '      source:',
      '        kustomize:',
      `          images: [${APP}:1.0.0]`,
      '      sources:',
      '        - kustomize:',
      '            images:',
      `              - ${APP}:{{env}}`,
      `              - app=${APP}:1.0.0`,
      ''
    ].join('\n')
    const result = pin(text, 'appset.yaml', { tag: 'v2' })
    expect(changedLines(text, result.text)).toEqual({
      11: `          images: [${APP}:v2@${DIGEST}]\n`,
      16: `              - app=${APP}:v2@${DIGEST}\n`
    })
    expect(result.notManaged).toEqual([
      expect.objectContaining({ line: 15, reason: 'unsupported-shape', text: `${APP}:{{env}}` })
    ])
    expect(result.notManaged[0]!.message).toContain('is not an image override Argo CD reads')
  })
  it('pins Helm values in the template sources (valuesObject), as in an Application', () => {
    const text = [
      'apiVersion: argoproj.io/v1alpha1',
      'kind: ApplicationSet',
      'spec:',
      '  template:',
      '    spec:',
      '      sources:',
      '        - chart: web',
      '          helm:',
      '            valuesObject:',
      '              image:',
      `                repository: ${APP}`,
      '                tag: 1.0.0 # chart default',
      ''
    ].join('\n')
    expect(changedLines(text, pin(text, 'appset.yaml', { tag: 'v2' }).text)).toEqual({
      12: `                tag: v2@${DIGEST} # chart default\n`
    })
  })
})

describe('Argo CD Image Updater write-back files', () => {
  const kustomizeFile = fixture('argocd-image-updater/.argocd-source-guestbook.yaml')
  const helmFile = fixture('argocd-image-updater/.argocd-source-helm-guestbook.yaml')

  it('pins kustomize.images in .argocd-source-<app>.yaml, by the file name alone', () => {
    const result = pinText(kustomizeFile, 'apps/guestbook/.argocd-source-guestbook.yaml', {
      image: 'ghcr.io/acme/guestbook',
      digest: DIGEST,
      tag: '0.4.0'
    })
    expect(changedLines(kustomizeFile, result.text)).toEqual({
      3: `  - guestbook=ghcr.io/acme/guestbook:0.4.0@${DIGEST}\n`
    })
    // The same document in any other file is not an override Argo CD reads.
    const elsewhere = pinText(kustomizeFile, 'apps/guestbook/argocd-source.yaml', {
      image: 'ghcr.io/acme/guestbook',
      digest: DIGEST
    })
    expect(elsewhere.text).toBe(kustomizeFile)
    expect(elsewhere.notManaged.map(n => n.reason)).toEqual(['inside-string'])
  })

  it('pins helm.parameters image.name / image.tag as a repository / tag pair: tag@digest in image.tag', () => {
    const file = 'apps/helm-guestbook/.argocd-source-helm-guestbook.yaml'
    const request = { image: 'ghcr.io/acme/guestbook', digest: DIGEST, tag: '0.4.0' }
    const result = pinText(helmFile, file, request)
    expect(changedLines(helmFile, result.text)).toEqual({ 8: `    value: 0.4.0@${DIGEST}\n` })
    expect(result.changes).toEqual([
      expect.objectContaining({
        line: 8,
        old: 'ghcr.io/acme/guestbook:0.3.1',
        new: `ghcr.io/acme/guestbook:0.4.0@${DIGEST}`,
        kind: 'helm-values'
      })
    ])
    // Without a tag the chart's repository:tag cannot be pinned: said so, nothing changed.
    const untagged = pinText(helmFile, file, { ...request, tag: undefined })
    expect(untagged.text).toBe(helmFile)
    expect(untagged.notManaged).toEqual([expect.objectContaining({ line: 5, reason: 'needs-tag' })])
  })

  it("replaces the digest strategy's tag@digest in image.tag, forceString kept", () => {
    const text = [
      'helm:',
      '  parameters:',
      '  - name: image.name',
      `    value: ${APP}`,
      '    forcestring: true',
      '  - name: image.tag',
      `    value: latest@${OTHER_DIGEST}`,
      '    forcestring: true',
      ''
    ].join('\n')
    const result = pin(text, 'apps/web/.argocd-source-web.yaml', { tag: 'v2' })
    expect(changedLines(text, result.text)).toEqual({ 7: `    value: v2@${DIGEST}\n` })
    expect(result.changes.map(c => c.old)).toEqual([`${APP}:latest@${OTHER_DIGEST}`])
  })

  it('sets image.digest when the chart takes one, and pins a whole reference in any other parameter', () => {
    const text = [
      'helm:',
      '  parameters:',
      '  - name: web.image.repository',
      `    value: ${APP}`,
      '  - name: web.image.tag',
      '    value: "1.0"',
      '    forcestring: true',
      '  - name: web.image.digest',
      '    value: ""',
      '  - name: sidecar.image',
      `    value: ${APP}:1.0.0`,
      '    forcestring: true',
      '  - name: replicaCount',
      '    value: "3"',
      ''
    ].join('\n')
    const result = pin(text, '.argocd-source.yaml', { tag: 'v2' })
    expect(changedLines(text, result.text)).toEqual({
      6: '    value: "v2"\n',
      9: `    value: "${DIGEST}"\n`,
      11: `    value: ${APP}:v2@${DIGEST}\n`
    })
  })

  it('pins helm.parameters of an Application too', () => {
    const text = [
      'apiVersion: argoproj.io/v1alpha1',
      'kind: Application',
      'spec:',
      '  source:',
      '    chart: web',
      '    helm:',
      '      parameters:',
      '        - {name: image.name, value: ghcr.io/org/app}',
      "        - {name: image.tag, value: '1.0.0', forceString: true}",
      ''
    ].join('\n')
    expect(changedLines(text, pin(text, 'app.yaml', { tag: 'v2' }).text)).toEqual({
      9: `        - {name: image.tag, value: 'v2@${DIGEST}', forceString: true}\n`
    })
  })
})

describe('hostile and odd entries: nothing edited, a warning that says what is wrong', () => {
  const source = (body: string[]) =>
    ['apiVersion: argoproj.io/v1alpha1', 'kind: Application', 'spec:', '  source:', ...body, ''].join('\n')

  it.each([
    ['images is a string', ['    kustomize:', `      images: ${APP}:1.0.0`], 6, 'must be a list of strings'],
    [
      'images is a map',
      ['    kustomize:', '      images:', `        web: ${APP}:1.0.0`],
      7,
      'must be a list'
    ],
    [
      'an entry is a Kustomize-style map',
      ['    kustomize:', '      images:', `        - name: ${APP}`, '          newTag: 1.0.0'],
      7,
      'not a map'
    ],
    ['an entry is a list', ['    kustomize:', '      images:', `        - [${APP}, 1.0.0]`], 7, 'not a list'],
    [
      'an entry with a variable',
      ['    kustomize:', '      images:', `        - ${APP}:\${ARGOCD_APP_REVISION}`],
      7,
      'no variables'
    ],
    [
      'an entry with no tag, digest or alias',
      ['    kustomize:', '      images:', `        - ${APP}`],
      7,
      'Kustomize refuses it'
    ],
    [
      'parameters is a map',
      ['    helm:', '      parameters:', `        image.name: ${APP}`],
      7,
      'must be a list'
    ],
    [
      'a parameter without a name',
      ['    helm:', '      parameters:', `        - value: ${APP}:1.0.0`],
      7,
      'needs a string name'
    ],
    [
      'a parameter whose value is a list',
      ['    helm:', '      parameters:', '        - name: image', `          value: [${APP}:1.0.0]`],
      7,
      'single value'
    ],
    [
      'a parameter set twice',
      [
        '    helm:',
        '      parameters:',
        `        - {name: image.name, value: ${APP}}`,
        '        - {name: image.tag, value: "1"}',
        '        - {name: image.tag, value: "2"}'
      ],
      7,
      'image.tag is set twice'
    ]
  ])('%s', (_name, body, line, message) => {
    const text = source(body)
    const result = pin(text, 'app.yaml', { tag: 'v2' })
    expect(result.text).toBe(text)
    expect(result.errors).toEqual([])
    expect(result.notManaged).toEqual([expect.objectContaining({ line, reason: 'unsupported-shape' })])
    expect(result.notManaged[0]!.message).toContain(message)
  })

  it('ignores odd entries that do not mention the image', () => {
    const text = source([
      '    kustomize:',
      '      images: [1, {name: redis}, null, redis]',
      '    helm: {parameters: 3}'
    ])
    const result = pin(text, 'app.yaml', { tag: 'v2' })
    expect(result.text).toBe(text)
    expect(result.notManaged).toEqual([])
  })

  it('reads kustomize.images only in Argo CD objects', () => {
    const text = `apiVersion: example.com/v1\nkind: Application\nspec:\n  source:\n    kustomize:\n      images: [${APP}:1.0.0]\n`
    const result = pin(text, 'app.yaml', { tag: 'v2' })
    expect(result.text).toBe(text)
    expect(result.notManaged).toEqual([expect.objectContaining({ reason: 'unrecognised-location' })])
  })
})
