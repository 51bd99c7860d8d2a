import { describe, expect, it } from '@jest/globals'
import { ConfigurationError } from '../../src/lib/errors.js'
import { pinText, type PinRequest } from '../../src/lib/manifest/index.js'
import {
  parseYamlFile,
  verifyEdit,
  type Expectation,
  type YamlFile
} from '../../src/lib/manifest/yaml-tree.js'
import {
  changedLines,
  DIGEST,
  fixture,
  OTHER_DIGEST,
  withLines
} from '../support/manifest-fixtures/helpers.js'

const APP = 'ghcr.io/org/app'
const pin = (text: string, file: string, request: Partial<PinRequest> = {}) =>
  pinText(text, file, { image: APP, digest: DIGEST, ...request })

/** A Deployment-shaped document whose container image line is `image: <value>`, at line 9. */
const deployment = (value: string, eol = '\n') =>
  [
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata: {name: web}',
    'spec:',
    '  template:',
    '    spec:',
    '      containers:',
    '        - name: web',
    `          image: ${value}`,
    ''
  ].join(eol)

describe('workloads: every Pod template kind and container list', () => {
  const podSpecs: Array<[string, string, string[]]> = [
    ['Deployment', 'apps/v1', ['spec', 'template', 'spec']],
    ['StatefulSet', 'apps/v1', ['spec', 'template', 'spec']],
    ['DaemonSet', 'apps/v1', ['spec', 'template', 'spec']],
    ['ReplicaSet', 'apps/v1', ['spec', 'template', 'spec']],
    ['Job', 'batch/v1', ['spec', 'template', 'spec']],
    ['CronJob', 'batch/v1', ['spec', 'jobTemplate', 'spec', 'template', 'spec']],
    ['Pod', 'v1', ['spec']],
    ['Rollout', 'argoproj.io/v1alpha1', ['spec', 'template', 'spec']]
  ]
  const lists = ['containers', 'initContainers', 'ephemeralContainers']
  const cases = podSpecs.flatMap(([kind, apiVersion, path]) =>
    lists.map(list => [kind, apiVersion, path, list] as const)
  )

  it.each(cases)('%s %s', (kind, apiVersion, path, list) => {
    const indent = (depth: number) => '  '.repeat(depth)
    const lines = [`apiVersion: ${apiVersion}`, `kind: ${kind}`, 'metadata:', '  name: web']
    path.forEach((key, depth) => lines.push(`${indent(depth)}${key}:`))
    const d = path.length
    lines.push(`${indent(d)}${list}:`, `${indent(d)}- name: main`, `${indent(d)}  image: ${APP}:v1 # keep me`)
    lines.push(`${indent(d)}- name: other`, `${indent(d)}  image: ghcr.io/org/other:v1`, '')
    const text = lines.join('\n')
    const result = pin(text, 'app.yaml')
    const line = lines.findIndex(l => l.includes(`${APP}:v1`)) + 1
    expect(changedLines(text, result.text)).toEqual({
      [line]: `${indent(d)}  image: ${APP}@${DIGEST} # keep me\n`
    })
    expect(result.changes).toEqual([
      { file: 'app.yaml', line, old: `${APP}:v1`, new: `${APP}@${DIGEST}`, kind: 'workload' }
    ])
    expect(result.previous).toEqual([{ file: 'app.yaml', line, old: `${APP}:v1` }])
  })

  it('leaves a Rollout of another API group alone, and a kind without Pod template', () => {
    const other = deployment(`${APP}:v1`)
      .replace('apps/v1', 'example.com/v1')
      .replace('Deployment', 'Rollout')
    expect(pin(other, 'r.yaml').changes).toEqual([])
    const service = deployment(`${APP}:v1`).replace('Deployment', 'Service')
    expect(pin(service, 's.yaml').text).toBe(service)
  })

  it('pins every workload of a List and of a multi-document file', () => {
    const list = [
      'apiVersion: v1',
      'kind: List',
      'items:',
      '- apiVersion: v1',
      '  kind: Pod',
      '  spec:',
      '    containers:',
      `    - image: ${APP}:v1`,
      ''
    ].join('\n')
    const text = `${list}---\n${deployment(`${APP}:v2`)}`
    const result = pin(text, 'all.yaml')
    expect(changedLines(text, result.text)).toEqual({
      8: `    - image: ${APP}@${DIGEST}\n`,
      18: `          image: ${APP}@${DIGEST}\n`
    })
  })
})

describe('the tag rules and the spelling of names', () => {
  it.each([
    ['tag dropped without a tag input', `${APP}:v1`, undefined, `${APP}@${DIGEST}`],
    ['tag written with a tag input', `${APP}:v1`, '1.4.0', `${APP}:1.4.0@${DIGEST}`],
    ['old digest replaced', `${APP}@${OTHER_DIGEST}`, undefined, `${APP}@${DIGEST}`],
    ['tag@digest replaced', `${APP}:v1@${OTHER_DIGEST}`, 'v2', `${APP}:v2@${DIGEST}`],
    ['bare name pinned', APP, undefined, `${APP}@${DIGEST}`]
  ])('%s', (_name, old, tag, expected) => {
    const text = deployment(old)
    const result = pin(text, 'd.yaml', { tag })
    expect(changedLines(text, result.text)).toEqual({ 9: `          image: ${expected}\n` })
  })

  it.each([
    ['redis', 'docker.io/library/redis', 'redis:7.2', 'redis'],
    ['docker.io/library/redis', 'redis', 'docker.io/library/redis:7.2', 'docker.io/library/redis'],
    [
      'index.docker.io/library/redis',
      'redis',
      'index.docker.io/library/redis:7.2',
      'index.docker.io/library/redis'
    ],
    [
      'an alias spelling',
      'ghcr.io/org/app',
      'registry.example.com/mirror/app:v1',
      'registry.example.com/mirror/app'
    ]
  ])('%s keeps its spelling', (_name, image, old, kept) => {
    const text = deployment(old)
    const result = pin(text, 'd.yaml', { image, aliases: ['registry.example.com/mirror/app'] })
    expect(changedLines(text, result.text)).toEqual({ 9: `          image: ${kept}@${DIGEST}\n` })
  })

  it('does not take a longer name for the image', () => {
    for (const other of [
      `${APP}-worker:v1`,
      'ghcr.io/org/app/sub:v1',
      'ghcr.io/other/app:v1',
      'docker.io/org/app:v1'
    ]) {
      const text = deployment(other)
      expect(pin(text, 'd.yaml').text).toBe(text)
    }
  })

  it('is idempotent: a second pin finds the reference and changes nothing', () => {
    const first = pin(deployment(`${APP}:v1`), 'd.yaml', { tag: 'v2' })
    const second = pin(first.text, 'd.yaml', { tag: 'v2' })
    expect(second.text).toBe(first.text)
    expect(second.changes).toEqual([])
    expect(second.unchanged).toEqual([
      { file: 'd.yaml', line: 9, value: `${APP}:v2@${DIGEST}`, kind: 'workload' }
    ])
  })
})

describe('only the image bytes change', () => {
  it.each([
    ['single quotes', `'${APP}:v1'`, `'${APP}@${DIGEST}'`],
    ['double quotes', `"${APP}:v1"`, `"${APP}@${DIGEST}"`],
    [
      'a comment at the end of the line',
      `${APP}:v1   # was v0, see #123`,
      `${APP}@${DIGEST}   # was v0, see #123`
    ],
    ['an anchor', `&img ${APP}:v1`, `&img ${APP}@${DIGEST}`],
    ['an explicit tag', `!!str ${APP}:v1`, `!!str ${APP}@${DIGEST}`]
  ])('%s', (_name, old, expected) => {
    const text = deployment(old)
    expect(changedLines(text, pin(text, 'd.yaml').text)).toEqual({ 9: `          image: ${expected}\n` })
  })

  it('keeps CRLF line endings, a BOM and a missing final newline', () => {
    const text = `\uFEFF${deployment(`${APP}:v1`, '\r\n').replace(/\r\n$/, '')}`
    const result = pin(text, 'd.yaml')
    expect(result.text).toBe(text.replace(`${APP}:v1`, `${APP}@${DIGEST}`))
    expect(result.text.startsWith('\uFEFF')).toBe(true)
    expect(result.text.match(/\r\n/g)).toHaveLength(8)
    expect(result.changes[0]!.line).toBe(9)
  })

  it('keeps a flow mapping and quotes nothing that reads back the same plain', () => {
    const text = `apiVersion: v1\nkind: Pod\nspec: {containers: [{name: a, image: ${APP}:v1}, {name: b, image: 'x'}]}\n`
    const result = pin(text, 'p.yaml', { tag: '1.0' })
    expect(result.text).toBe(text.replace(`${APP}:v1`, `${APP}:1.0@${DIGEST}`))
  })

  it('keeps non-ASCII comments and strings (the Japanese fixture)', () => {
    const text = fixture('i18n/deployment-ja.yaml')
    const result = pin(text, 'i18n/deployment-ja.yaml')
    expect(changedLines(text, result.text)).toEqual({
      14: `          image: '${APP}@${DIGEST}' # 前のバージョン: v0 ✓\n`
    })
  })

  it('pins the Argo CD guestbook Deployment', () => {
    const text = fixture('argocd-guestbook/guestbook-ui-deployment.yaml')
    const result = pin(text, 'guestbook-ui-deployment.yaml', {
      image: 'gcr.io/heptio-images/ks-guestbook-demo',
      tag: '0.3'
    })
    expect(changedLines(text, result.text)).toEqual({
      17: `      - image: gcr.io/heptio-images/ks-guestbook-demo:0.3@${DIGEST}\n`
    })
  })
})

describe('the 35-document release file', () => {
  const text = fixture('release/release.yaml')
  const result = pinText(text, 'release/release.yaml', {
    image: 'ghcr.io/acme/shop',
    digest: DIGEST,
    tag: '2024.06.2'
  })
  const pinned = `ghcr.io/acme/shop:2024.06.2@${DIGEST}`

  it('has 35 documents', () => {
    expect(text.match(/^---$/gm)).toHaveLength(35)
  })

  it('changes exactly the image values, in the style each was written', () => {
    expect(changedLines(text, result.text)).toEqual({
      45: `          image: ${pinned}\n`,
      95: `          image: ${pinned}\n`,
      145: `          image: '${pinned}'\n`,
      195: `          image: "${pinned}"\n`,
      245: `          image: ${pinned}\n`,
      295: `          image: ${pinned} # pinned by CI\n`,
      395: `          image: ${pinned}\n`,
      428: `          image: ${pinned}\n`,
      444: `              image: ${pinned}\n`,
      463: `          image: ${pinned}\n`,
      496: `          image: ${pinned}\n`
    })
    expect(result.changes.map(c => c.line)).toEqual([45, 95, 145, 195, 245, 295, 395, 428, 444, 463, 496])
    expect(result.previous.map(p => p.old)).toContain(`ghcr.io/acme/shop:2024.06.1@sha256:${'1'.repeat(64)}`)
  })

  it('reports the env value and the runbook text as not managed, with their lines', () => {
    expect(result.notManaged.map(({ line, reason, text: mention }) => ({ line, reason, mention }))).toEqual([
      { line: 467, reason: 'unrecognised-location', mention: 'ghcr.io/acme/shop:2024.06.1' },
      { line: 505, reason: 'inside-string', mention: 'ghcr.io/acme/shop:2024.05.3' }
    ])
    expect(result.notManaged[0]!.message).toContain('# digest-delivery: ghcr.io/acme/shop')
  })
})

describe('Kustomize images entries', () => {
  const kustomization = (entry: string) => `resources:\n  - ../base\nimages:\n${entry}namePrefix: x-\n`

  it.each([
    [
      'sets digest and removes the stale newTag',
      undefined,
      `  - name: ${APP}\n    newTag: v1 # old\n`,
      `  - name: ${APP}\n    digest: ${DIGEST}\n`
    ],
    [
      'sets newTag and adds digest, in kustomize order',
      '1.2.3',
      `  - name: ${APP}\n    newTag: v1\n`,
      `  - name: ${APP}\n    newTag: 1.2.3\n    digest: ${DIGEST}\n`
    ],
    [
      'adds newTag before an existing digest',
      'v2',
      `  - name: ${APP}\n    digest: ${OTHER_DIGEST}\n`,
      `  - name: ${APP}\n    newTag: v2\n    digest: ${DIGEST}\n`
    ],
    [
      'keeps newName and matches on it',
      undefined,
      `  - name: app\n    newName: ${APP}\n    newTag: v1\n    digest: ${OTHER_DIGEST}\n`,
      `  - name: app\n    newName: ${APP}\n    digest: ${DIGEST}\n`
    ],
    [
      'quotes a numeric-looking tag as the file does',
      '1.20',
      `  - name: ${APP}\n    newTag: '1.10'\n`,
      `  - name: ${APP}\n    newTag: '1.20'\n    digest: ${DIGEST}\n`
    ],
    [
      'quotes a new numeric-looking tag',
      '1.20',
      `  - name: ${APP}\n`,
      `  - name: ${APP}\n    newTag: "1.20"\n    digest: ${DIGEST}\n`
    ],
    [
      'removes newTag written first on the dash line',
      undefined,
      `  - newTag: v1\n    name: ${APP}\n`,
      `  - name: ${APP}\n    digest: ${DIGEST}\n`
    ],
    [
      'edits a flow entry',
      undefined,
      `  - {name: ${APP}, newTag: v1}\n`,
      `  - {name: ${APP}, digest: ${DIGEST}}\n`
    ],
    [
      'leaves an entry that renames the image to another',
      undefined,
      `  - name: ${APP}\n    newName: ghcr.io/org/fork\n`,
      `  - name: ${APP}\n    newName: ghcr.io/org/fork\n`
    ],
    [
      'leaves entries of other images',
      undefined,
      `  - name: redis\n    newTag: "7.4"\n  - name: ${APP}\n`,
      `  - name: redis\n    newTag: "7.4"\n  - name: ${APP}\n    digest: ${DIGEST}\n`
    ]
  ])('%s', (_name, tag, entry, expected) => {
    const result = pin(kustomization(entry), 'overlays/prod/kustomization.yaml', { tag })
    expect(result.text).toBe(kustomization(expected))
    expect(result.errors).toEqual([])
  })

  it('reports one change per entry, as Kustomize renders it', () => {
    const result = pin(kustomization(`  - name: ${APP}\n    newTag: v1\n`), 'kustomization.yaml', {
      tag: 'v2'
    })
    expect(result.changes).toEqual([
      {
        file: 'kustomization.yaml',
        line: 4,
        old: `${APP}:v1`,
        new: `${APP}:v2@${DIGEST}`,
        kind: 'kustomize-images'
      }
    ])
  })

  it.each(['kustomization.yml', 'Kustomization', 'any-name.yaml'])('reads %s as a kustomization', file => {
    const text = `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nimages:\n- name: ${APP}\n`
    expect(pin(text, file).text).toBe(`${text}  digest: ${DIGEST}\n`)
  })

  it('keeps CRLF in inserted and removed lines', () => {
    const text = kustomization(`  - name: ${APP}\n    newTag: v1\n`).replace(/\n/g, '\r\n')
    const result = pin(text, 'kustomization.yaml', { tag: 'v2' })
    expect(result.text).toBe(
      kustomization(`  - name: ${APP}\n    newTag: v2\n    digest: ${DIGEST}\n`).replace(/\n/g, '\r\n')
    )
  })

  it('pins a Flux Kustomization spec.images entry', () => {
    const text = [
      'apiVersion: kustomize.toolkit.fluxcd.io/v1',
      'kind: Kustomization',
      'metadata: {name: apps, namespace: flux-system}',
      'spec:',
      '  path: ./apps/production',
      '  images:',
      `    - name: ${APP}`,
      '      newTag: v1',
      ''
    ].join('\n')
    expect(pin(text, 'clusters/prod/apps.yaml', { tag: 'v2' }).text).toBe(
      text.replace('newTag: v1\n', `newTag: v2\n      digest: ${DIGEST}\n`)
    )
  })

  it('pins Helm values inlined in helmCharts', () => {
    const text = [
      'helmCharts:',
      '- name: app',
      '  repo: https://charts.example.com',
      '  valuesInline:',
      '    image:',
      `      repository: ${APP}`,
      '      tag: v1',
      ''
    ].join('\n')
    expect(changedLines(text, pin(text, 'kustomization.yaml', { tag: 'v2' }).text)).toEqual({
      7: `      tag: v2@${DIGEST}\n`
    })
  })
})

describe('adding an images entry to an overlay', () => {
  const add = (text: string, file = 'kustomization.yaml', request: Partial<PinRequest> = {}, name = APP) =>
    pinText(text, file, { image: APP, digest: DIGEST, ...request }, { addImagesEntries: [{ name }] })

  it('appends an images list in the layout `kustomize edit set image` writes', () => {
    const text = '# dev\nresources:\n- ../../base\nnamePrefix: dev-\n'
    const result = add(text)
    expect(result.text).toBe(`${text}images:\n- name: ${APP}\n  digest: ${DIGEST}\n`)
    expect(result.changes).toEqual([
      { file: 'kustomization.yaml', line: 6, old: '', new: `${APP}@${DIGEST}`, kind: 'kustomize-images' }
    ])
  })

  it('indents the list as the file indents its others, with CRLF and no final newline', () => {
    const text = 'resources:\r\n  - ../../base\r\nnamePrefix: dev-'
    expect(add(text, 'kustomization.yaml', { tag: 'v2' }).text).toBe(
      `${text}\r\nimages:\r\n  - name: ${APP}\r\n    newTag: v2\r\n    digest: ${DIGEST}`
    )
  })

  it('appends to an existing images list of other images', () => {
    const text = 'resources:\n- ../base\nimages:\n-   name: redis\n    newTag: "7"\n# trailing comment\n'
    const result = add(text)
    expect(result.text).toBe(text.replace('"7"\n', `"7"\n-   name: ${APP}\n    digest: ${DIGEST}\n`))
  })

  it('appends to a flow list', () => {
    const text = 'resources: [../base]\nimages: [{name: redis, newTag: "7"}]\n'
    expect(add(text).text).toBe(
      `resources: [../base]\nimages: [{name: redis, newTag: "7"}, {name: ${APP}, digest: ${DIGEST}}]\n`
    )
  })

  it('adds no second entry of a name that is renamed to another image', () => {
    const text = `images:\n- name: ${APP}\n  newName: ghcr.io/org/fork\n`
    expect(add(text)).toMatchObject({ text, changes: [] })
  })

  it('edits the existing entry instead of adding one', () => {
    const text = `images:\n- name: ${APP}\n`
    expect(add(text).text).toBe(`${text}  digest: ${DIGEST}\n`)
  })
})

describe('Helm values', () => {
  it('pins {repository, tag} as tag@digest with a tag input (helm-guestbook: nginx stays nginx)', () => {
    const text = fixture('helm-guestbook/values.yaml')
    const result = pin(text, 'helm-guestbook/values.yaml', {
      image: 'docker.io/library/nginx',
      tag: '1.27.0'
    })
    expect(changedLines(text, result.text)).toEqual({ 9: `  tag: 1.27.0@${DIGEST}\n` })
    expect(result.changes).toEqual([
      {
        file: 'helm-guestbook/values.yaml',
        line: 9,
        old: 'nginx:1.21.0',
        new: `nginx:1.27.0@${DIGEST}`,
        kind: 'helm-values'
      }
    ])
  })

  it('reports {repository, tag} without a tag input as needing one, and leaves it', () => {
    const text = fixture('helm-guestbook/values.yaml')
    const result = pin(text, 'values.yaml', { image: 'nginx' })
    expect(result.text).toBe(text)
    expect(result.notManaged).toEqual([
      expect.objectContaining({ line: 8, reason: 'needs-tag', text: 'nginx:1.21.0' })
    ])
  })

  it('sets the Bitnami digest and leaves the other images of the chart', () => {
    const text = fixture('bitnami/values-redis.yaml')
    const result = pin(text, 'bitnami/values-redis.yaml', { image: 'docker.io/bitnami/redis' })
    expect(changedLines(text, result.text)).toEqual({ 27: `  digest: "${DIGEST}"\n` })
    expect(result.changes[0]).toMatchObject({
      old: 'docker.io/bitnami/redis:7.2.4-debian-12-r9',
      new: `docker.io/bitnami/redis:7.2.4-debian-12-r9@${DIGEST}`
    })
  })

  it('sets the Bitnami tag too when a tag is given', () => {
    const text = fixture('bitnami/values-redis.yaml')
    const result = pin(text, 'values-redis.yaml', { image: 'bitnami/redis', tag: '7.4.1-debian-12-r0' })
    expect(changedLines(text, result.text)).toEqual({
      26: '  tag: 7.4.1-debian-12-r0\n',
      27: `  digest: "${DIGEST}"\n`
    })
  })

  it.each([
    ['a combined tag@digest', `  tag: 1.0.0@${OTHER_DIGEST}`, `  tag: 1.1.0@${DIGEST}`],
    ['a numeric tag', '  tag: 1.10', `  tag: 1.1.0@${DIGEST}`],
    ['an empty digest key, null', `  tag: v1\n  digest:`, `  tag: 1.1.0\n  digest: ${DIGEST}`],
    [
      'a null digest with a comment',
      `  tag: v1\n  digest: # set by CI`,
      `  tag: 1.1.0\n  digest: ${DIGEST} # set by CI`
    ]
  ])('%s', (_name, fields, expected) => {
    const text = `image:\n  repository: ${APP}\n${fields}\n  pullPolicy: IfNotPresent\n`
    expect(pin(text, 'values-prod.yaml', { tag: '1.1.0' }).text).toBe(
      `image:\n  repository: ${APP}\n${expected}\n  pullPolicy: IfNotPresent\n`
    )
  })

  it('finds blocks not under an image key, with registry split off, and whole references', () => {
    const text = [
      'worker:',
      '  registry: ghcr.io',
      '  repository: org/app',
      '  tag: v1',
      'jobs:',
      '  - name: migrate',
      `    image: ${APP}:v1`,
      `sidecarImage: ${APP}`,
      `unrelated: ${APP}-docs`,
      ''
    ].join('\n')
    const result = pin(text, 'values.yaml', { tag: 'v2' })
    expect(changedLines(text, result.text)).toEqual({
      4: `  tag: v2@${DIGEST}\n`,
      7: `    image: ${APP}:v2@${DIGEST}\n`,
      8: `sidecarImage: ${APP}:v2@${DIGEST}\n`
    })
  })

  it('pins a Flux HelmRelease spec.values', () => {
    const text = fixture('flux/podinfo-helmrelease.yaml')
    const result = pin(text, 'podinfo.yaml', { image: 'ghcr.io/stefanprodan/podinfo', tag: '6.7.0' })
    expect(changedLines(text, result.text)).toEqual({
      25: `      tag: 6.7.0@${DIGEST} # {"$imagepolicy": "flux-system:podinfo:tag"}\n`
    })
  })

  it('pins an Argo CD Application helm.valuesObject', () => {
    const text = [
      'apiVersion: argoproj.io/v1alpha1',
      'kind: Application',
      'spec:',
      '  sources:',
      '    - repoURL: https://charts.example.com',
      '      helm:',
      '        valuesObject:',
      '          image:',
      `            repository: ${APP}`,
      '            tag: v1',
      ''
    ].join('\n')
    expect(changedLines(text, pin(text, 'app.yaml', { tag: 'v2' }).text)).toEqual({
      10: `            tag: v2@${DIGEST}\n`
    })
  })

  it('leaves a values block of another file type alone', () => {
    const text = `image:\n  repository: ${APP}\n  tag: v1\n`
    const result = pin(text, 'config.yaml', { tag: 'v2' })
    expect(result.text).toBe(text)
    expect(result.notManaged).toEqual([expect.objectContaining({ reason: 'unrecognised-location', line: 2 })])
  })

  describe('helm-paths', () => {
    it.each([
      ['a tag-only override file', 'image', 'image:\n  tag: v1\n', `image:\n  tag: v2@${DIGEST}\n`],
      [
        'a path to the tag',
        'app.image.tag',
        'app:\n  image:\n    tag: v1\n',
        `app:\n  image:\n    tag: v2@${DIGEST}\n`
      ],
      [
        'a path to a whole reference in a list',
        'app.sidecars[1].img',
        `app:\n  sidecars:\n  - img: x\n  - img: ${APP}:v1\n`,
        `app:\n  sidecars:\n  - img: x\n  - img: ${APP}:v2@${DIGEST}\n`
      ],
      [
        'a block keyed image/version is found by its repository key',
        'deploy.image',
        `deploy:\n  image:\n    repository: ${APP}\n    digest: ""\n`,
        `deploy:\n  image:\n    repository: ${APP}\n    digest: "${DIGEST}"\n`
      ]
    ])('%s', (_name, helmPath, text, expected) => {
      expect(pin(text, 'values-prod.yaml', { tag: 'v2', helmPaths: [helmPath] }).text).toBe(expected)
    })

    it('reports a path naming another image instead of pinning it', () => {
      const text = 'image:\n  repository: ghcr.io/org/other\n  tag: v1\n'
      const result = pin(text, 'values.yaml', { tag: 'v2', helmPaths: ['image'] })
      expect(result.text).toBe(text)
      expect(result.notManaged).toEqual([expect.objectContaining({ reason: 'other-image', line: 2 })])
    })
  })
})

describe('markers', () => {
  it('pins any value carrying our marker (a CRD field)', () => {
    const text = [
      'apiVersion: example.com/v1',
      'kind: Backup',
      'spec:',
      `  runner: ${APP}:v1 # digest-delivery: ${APP}`,
      `  other: ${APP}:v1`,
      ''
    ].join('\n')
    const result = pin(text, 'backup.yaml')
    expect(changedLines(text, result.text)).toEqual({
      4: `  runner: ${APP}@${DIGEST} # digest-delivery: ${APP}\n`
    })
    expect(result.changes[0]!.kind).toBe('marker')
    expect(result.notManaged).toEqual([expect.objectContaining({ line: 5, reason: 'unrecognised-location' })])
  })

  it('takes a marked mirror spelling as the image, and a marked block', () => {
    const text = [
      `mirror: registry.local/app:v1 # digest-delivery: ${APP}`,
      `job: # digest-delivery: ${APP}`,
      '  name: registry.local/app',
      '  tag: v1',
      ''
    ].join('\n')
    expect(pin(text, 'settings.yaml', { tag: 'v2' }).text).toBe(
      [
        `mirror: registry.local/app:v2@${DIGEST} # digest-delivery: ${APP}`,
        `job: # digest-delivery: ${APP}`,
        '  name: registry.local/app',
        `  tag: v2@${DIGEST}`,
        ''
      ].join('\n')
    )
  })

  it('ignores a marker for another image', () => {
    const text = `x: ${APP}:v1 # digest-delivery: ghcr.io/org/other\n`
    expect(pin(text, 'x.yaml').text).toBe(text)
  })

  it.each([
    ['flux-system:podinfo', true],
    ['podinfo', true],
    ['other-ns:podinfo', false],
    [undefined, false]
  ])('Flux markers with image-policy %s', (policy, honoured) => {
    const text = [
      'apiVersion: example.com/v1',
      'kind: Thing',
      'spec:',
      '  image: ghcr.io/stefanprodan/podinfo:6.5.0 # {"$imagepolicy": "flux-system:podinfo"}',
      '  chart:',
      '    name: ghcr.io/stefanprodan/podinfo # {"$imagepolicy": "flux-system:podinfo:name"}',
      '    version: 6.5.0 # {"$imagepolicy": "flux-system:podinfo:tag"}',
      '    sha: "" # {"$imagepolicy": "flux-system:podinfo:digest"}',
      ''
    ].join('\n')
    const result = pinText(text, 'thing.yaml', {
      image: 'ghcr.io/stefanprodan/podinfo',
      digest: DIGEST,
      tag: '6.7.0',
      imagePolicy: policy
    })
    if (!honoured) {
      expect(result.text).toBe(text)
      return
    }
    expect(changedLines(text, result.text)).toEqual({
      4: `  image: ghcr.io/stefanprodan/podinfo:6.7.0@${DIGEST} # {"$imagepolicy": "flux-system:podinfo"}\n`,
      7: '    version: 6.7.0 # {"$imagepolicy": "flux-system:podinfo:tag"}\n',
      8: `    sha: "${DIGEST}" # {"$imagepolicy": "flux-system:podinfo:digest"}\n`
    })
    expect(result.changes.map(c => c.kind)).toEqual(['image-policy-marker', 'image-policy-marker'])
  })

  it('pins a Flux :tag marker without a digest beside it as tag@digest', () => {
    const text = 'image:\n  tag: 6.5.0 # {"$imagepolicy": "flux-system:podinfo:tag"}\n'
    const result = pinText(text, 'a.yaml', {
      image: 'ghcr.io/stefanprodan/podinfo',
      digest: DIGEST,
      tag: '6.7.0',
      imagePolicy: 'flux-system:podinfo'
    })
    expect(result.text).toBe(`image:\n  tag: 6.7.0@${DIGEST} # {"$imagepolicy": "flux-system:podinfo:tag"}\n`)
  })
})

describe('anchors and aliases', () => {
  it('edits an anchored image once and lists the aliases that share it', () => {
    const text = fixture('anchors/shared-image.yaml')
    const result = pin(text, 'shared-image.yaml', { image: 'ghcr.io/org/api', tag: '1.5.0' })
    expect(changedLines(text, result.text)).toEqual({
      11: `          image: &api-image ghcr.io/org/api:1.5.0@${DIGEST} # the release\n`
    })
    expect(result.changes).toEqual([
      expect.objectContaining({ line: 11, old: 'ghcr.io/org/api:1.4.2', aliasLines: [16, 19] })
    ])
  })

  it('walks a billion-laughs document without expanding it', () => {
    const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]']
    for (let i = 1; i < 30; i++)
      lines.push(
        `a${i}: &a${i} [${Array(10)
          .fill(`*a${i - 1}`)
          .join(', ')}]`
      )
    const text = `${lines.join('\n')}\n${deployment(`${APP}:v1`).replace('apiVersion: apps/v1\nkind: Deployment\n', 'kind: Deployment\n')}`
    const started = Date.now()
    const result = pin(text, 'bomb.yaml')
    expect(Date.now() - started).toBeLessThan(2000)
    expect(result.changes).toHaveLength(1)
  })
})

describe('what is not edited', () => {
  it('reports an image inside a patch block scalar, with its line, and leaves it', () => {
    const text = [
      'resources:',
      '- ../../base',
      'patches:',
      '- target: {kind: Deployment, name: web}',
      '  patch: |-',
      '    - op: replace',
      '      path: /spec/template/spec/containers/0/image',
      `      value: ${APP}:v1`,
      ''
    ].join('\n')
    const result = pin(text, 'kustomization.yaml')
    expect(result.text).toBe(text)
    expect(result.notManaged).toEqual([
      expect.objectContaining({
        file: 'kustomization.yaml',
        line: 8,
        reason: 'inside-string',
        text: `${APP}:v1`
      })
    ])
  })

  it('pins a JSON 6902 patch file', () => {
    const text = `- op: replace\n  path: /spec/template/spec/containers/0/image\n  value: ${APP}:v1\n`
    expect(pin(text, 'image-patch.yaml').text).toBe(text.replace(`${APP}:v1`, `${APP}@${DIGEST}`))
  })

  it('reports a block scalar image and does not rewrite it', () => {
    const text = deployment(`|\n            ${APP}:v1`)
    const result = pin(text, 'd.yaml')
    expect(result.text).toBe(text)
    expect(result.notManaged).toEqual([expect.objectContaining({ reason: 'unsupported-shape' })])
  })

  it('neither edits nor reports the repository a Flux ImageRepository scans', () => {
    const text = `apiVersion: image.toolkit.fluxcd.io/v1beta2\nkind: ImageRepository\nspec:\n  image: ${APP}\n`
    expect(pin(text, 'image-repository.yaml')).toMatchObject({ text, changes: [], notManaged: [] })
  })

  it('does not report a bare short name such as a container called redis', () => {
    const text = deployment('redis:7').replace('name: web', 'name: redis')
    const result = pin(text, 'd.yaml', { image: 'redis' })
    expect(result.notManaged).toEqual([])
    expect(result.changes).toHaveLength(1)
  })
})

describe('files that do not parse', () => {
  it('reports broken YAML with its line and leaves it untouched', () => {
    const text = fixture('broken/broken.yaml')
    const result = pin(text, 'broken/broken.yaml')
    expect(result.text).toBe(text)
    expect(result.changes).toEqual([])
    expect(result.errors).toEqual([
      expect.objectContaining({ file: 'broken/broken.yaml', kind: 'parse', line: 10 })
    ])
    expect(result.errors[0]!.message).toMatch(/^broken\/broken\.yaml:10 is not valid YAML/)
  })

  it('reports nesting deeper than the parser takes instead of throwing', () => {
    const text = `a: ${'['.repeat(5000)}${']'.repeat(5000)}\n${APP}:v1\n`
    expect(pin(text, 'deep.yaml').errors).toEqual([expect.objectContaining({ kind: 'parse' })])
  })

  it('reports duplicate keys', () => {
    const text = `${deployment(`${APP}:v1`)}kind: Pod\n`
    expect(pin(text, 'd.yaml').errors).toEqual([expect.objectContaining({ kind: 'parse', line: 10 })])
  })
})

describe('verification before anything is returned', () => {
  const before = parseYamlFile('a: 1\nb: [x, y]\n') as YamlFile

  const set: Expectation[] = [{ doc: 0, path: ['string:b', 1], op: 'set', value: 'z' }]
  // The splice that replaces `y`, as the editors record it (with the value it must read as), and the same
  // splice without that value, which only the full re-parse can check.
  const scalarSplice = [{ start: 12, end: 13, text: 'z', value: 'z' }]
  const opaqueSplice = [{ start: 12, end: 13, text: 'z' }]

  it('accepts an edit that reads back as intended', () => {
    expect(verifyEdit(before, 'a: 1\nb: [x, z]\n', scalarSplice, set)).toBe(undefined)
    expect(verifyEdit(before, 'a: 1\nb: [x, z]\n', opaqueSplice, set)).toBe(undefined)
  })

  it.each([
    ['a value the edit did not announce', 'a: 2\nb: [x, z]\n', /does not read back/],
    ['a type change', 'a: 1\nb: [x, 1.0]\n', /does not read back/],
    ['a lost document', '', /0 documents instead of 1/],
    ['text that does not parse', 'a: [\n', /does not parse/]
  ])('refuses %s', (_name, after, message) => {
    expect(verifyEdit(before, after, scalarSplice, set)).toMatch(message)
    expect(verifyEdit(before, after, opaqueSplice, set)).toMatch(message)
  })
})

describe('request validation', () => {
  it.each([
    [{ image: `${APP}:v1` }, 'without tag or digest'],
    [{ image: '' }, 'image is empty'],
    [{ digest: 'sha256:123' }, 'exactly 64'],
    [{ tag: 'bad tag' }, "tag 'bad tag' is invalid"],
    [{ tag: `v1@${DIGEST}` }, 'is invalid'],
    [{ helmPaths: ['a..b'] }, "helm path 'a..b' is invalid"],
    [{ imagePolicy: 'ns:name:tag' }, "image-policy 'ns:name:tag' is invalid"]
  ])('%j', (override, message) => {
    const request = { image: APP, digest: DIGEST, ...override }
    expect(() => pinText('a: 1\n', 'a.yaml', request)).toThrow(ConfigurationError)
    expect(() => pinText('a: 1\n', 'a.yaml', request)).toThrow(message)
  })
})

describe('with the test helpers', () => {
  it('withLines keeps each line ending', () => {
    expect(withLines('a\r\nb\n', { 1: 'x' })).toBe('x\r\nb\n')
  })
})
