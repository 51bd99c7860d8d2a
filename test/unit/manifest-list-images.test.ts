import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { listImages } from '../../src/lib/manifest/index.js'
import { DIGEST, FIXTURES, OTHER_DIGEST } from '../support/manifest-fixtures/helpers.js'

let root: string

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'gitops-'))
})
afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true })
})

async function write(files: Record<string, string>): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(root, name)
    await fs.mkdir(path.dirname(file), { recursive: true })
    await fs.writeFile(file, content)
  }
}

/** Every file's bytes, to show the listing wrote nothing. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {}
  for (const entry of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const file = path.join(entry.parentPath, entry.name)
    files[path.relative(dir, file)] = await fs.readFile(file, 'utf8')
  }
  return files
}

const names = (listing: Awaited<ReturnType<typeof listImages>>) => listing.images.map(image => image.name)
const pinned = (listing: Awaited<ReturnType<typeof listImages>>) =>
  listing.images.filter(image => image.references.some(ref => ref.digest)).map(image => image.name)

const DEPLOYMENT = [
  'apiVersion: apps/v1',
  'kind: Deployment',
  'metadata:',
  '  name: shop',
  'spec:',
  '  template:',
  '    spec:',
  '      initContainers:',
  '        - name: migrate',
  `          image: ghcr.io/acme/migrate:1.0@${OTHER_DIGEST}`,
  '      containers:',
  '        - name: shop',
  '          image: ghcr.io/acme/shop:2024.06.1',
  '        - name: cache',
  '          image: redis:7.2',
  ''
].join('\n')

describe('listImages', () => {
  it('lists what an overlay pins and what it inherits from its base, by name as written, writing nothing', async () => {
    await write({
      'base/kustomization.yaml': 'resources:\n  - deployment.yaml\n',
      'base/deployment.yaml': DEPLOYMENT,
      'overlays/dev/kustomization.yaml': [
        'resources:',
        '  - ../../base',
        'images:',
        '  - name: ghcr.io/acme/shop',
        '    newTag: 2024.06.2',
        `    digest: ${DIGEST}`,
        '  - name: redis',
        '    newName: mirror.gcr.io/library/redis',
        '    newTag: "7.4"',
        ''
      ].join('\n')
    })
    const before = await snapshot(root)
    const listing = await listImages({ root, paths: ['overlays/dev'] })
    expect(listing.errors).toEqual([])
    expect(listing.images).toEqual([
      // The overlay names shop and redis; migrate comes from the base, which the overlay does not override.
      {
        name: 'ghcr.io/acme/migrate',
        references: [
          {
            file: 'base/deployment.yaml',
            line: 10,
            reference: `ghcr.io/acme/migrate:1.0@${OTHER_DIGEST}`,
            tag: '1.0',
            digest: OTHER_DIGEST
          }
        ]
      },
      {
        name: 'ghcr.io/acme/shop',
        references: [
          {
            file: 'overlays/dev/kustomization.yaml',
            line: 4,
            reference: `ghcr.io/acme/shop:2024.06.2@${DIGEST}`,
            tag: '2024.06.2',
            digest: DIGEST
          }
        ]
      },
      {
        name: 'mirror.gcr.io/library/redis',
        references: [
          {
            file: 'overlays/dev/kustomization.yaml',
            line: 7,
            reference: 'mirror.gcr.io/library/redis:7.4',
            tag: '7.4'
          }
        ]
      }
    ])
    expect(pinned(listing)).toEqual(['ghcr.io/acme/migrate', 'ghcr.io/acme/shop'])
    expect(await snapshot(root)).toEqual(before)
  })

  it('finds images in Helm values, a Flux HelmRelease, Argo CD sources and JSON patches; one name per repository', async () => {
    await write({
      'helm/values-prod.yaml': [
        'image:',
        '  registry: docker.io',
        '  repository: bitnami/redis',
        '  tag: 7.2.4-debian-12-r9',
        `  digest: "${DIGEST}"`,
        'metrics:',
        '  image:',
        '    repository: bitnami/redis-exporter',
        `    tag: 1.58.0@${OTHER_DIGEST}`,
        'sidecar:',
        '  image:',
        '    repository: bitnami/os-shell',
        '    tag: 12-debian-12-r16',
        ''
      ].join('\n'),
      'flux/release.yaml': [
        'apiVersion: helm.toolkit.fluxcd.io/v2',
        'kind: HelmRelease',
        'metadata:',
        '  name: podinfo',
        'spec:',
        '  values:',
        '    image:',
        '      repository: ghcr.io/stefanprodan/podinfo',
        '      tag: 6.5.0',
        `      digest: ${OTHER_DIGEST}`,
        ''
      ].join('\n'),
      'argo/app.yaml': [
        'apiVersion: argoproj.io/v1alpha1',
        'kind: Application',
        'metadata:',
        '  name: guestbook',
        'spec:',
        '  sources:',
        '    - repoURL: https://github.com/argoproj/argocd-example-apps',
        '      kustomize:',
        '        images:',
        `          - ui=ghcr.io/acme/guestbook-ui:2.0@${DIGEST}`,
        '    - repoURL: https://github.com/argoproj/argocd-example-apps',
        '      helm:',
        '        parameters:',
        '          - name: api.image.name',
        '            value: ghcr.io/acme/guestbook-api',
        '          - name: api.image.tag',
        '            value: "3.1"',
        '          - name: api.image.digest',
        `            value: ${DIGEST}`,
        ''
      ].join('\n'),
      'patches/image.yaml': [
        '- op: replace',
        '  path: /spec/template/spec/containers/0/image',
        `  value: docker.io/bitnami/redis@${OTHER_DIGEST}`,
        ''
      ].join('\n')
    })
    const listing = await listImages({ root, paths: ['.'] })
    expect(listing.errors).toEqual([])
    expect(names(listing)).toEqual([
      'ghcr.io/acme/guestbook-ui',
      'ghcr.io/acme/guestbook-api',
      'ghcr.io/stefanprodan/podinfo',
      'docker.io/bitnami/redis',
      'bitnami/redis-exporter',
      'bitnami/os-shell'
    ])
    // A Helm block of repository and tag without a digest key holds its pin as `tag: 1.58.0@sha256:…` (what
    // bump-manifest writes there): listed with that digest; a plain tag is listed unpinned.
    expect(listing.images.find(image => image.name === 'bitnami/redis-exporter')?.references).toEqual([
      {
        file: 'helm/values-prod.yaml',
        line: 9,
        reference: `bitnami/redis-exporter:1.58.0@${OTHER_DIGEST}`,
        tag: '1.58.0',
        digest: OTHER_DIGEST
      }
    ])
    const redis = listing.images.find(image => image.name === 'docker.io/bitnami/redis')!
    // Written two ways (a Helm block in values, a whole reference in a patch): one repository.
    expect(redis.references.map(ref => [ref.file, ref.digest])).toEqual([
      ['helm/values-prod.yaml', DIGEST],
      ['patches/image.yaml', OTHER_DIGEST]
    ])
    expect(pinned(listing)).toEqual([
      'ghcr.io/acme/guestbook-ui',
      'ghcr.io/acme/guestbook-api',
      'ghcr.io/stefanprodan/podinfo',
      'docker.io/bitnami/redis',
      'bitnami/redis-exporter'
    ])
  })

  it('lists the real-world fixtures, pinned by tag only, and reports a file it cannot parse', async () => {
    const listing = await listImages({ root: path.join(FIXTURES, 'kustomize'), paths: ['overlays/staging'] })
    expect(names(listing)).toEqual(['redis', 'ghcr.io/acme/shop'])
    expect(pinned(listing)).toEqual([])
    await write({ 'bad/a.yaml': 'image: [unclosed\n', 'bad/b.yaml': DEPLOYMENT })
    const bad = await listImages({ root, paths: ['bad'] })
    expect(bad.errors.map(error => [error.file, error.kind])).toEqual([['bad/a.yaml', 'parse']])
    expect(names(bad)).toEqual(['ghcr.io/acme/migrate', 'ghcr.io/acme/shop', 'redis'])
  })
})
