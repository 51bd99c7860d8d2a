import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { execFile } from 'node:child_process'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { pinTree, type PinRequest } from '../../src/lib/manifest/index.js'
import { changedLines, DIGEST, FIXTURES } from '../support/manifest-fixtures/helpers.js'

const run = promisify(execFile)
const SHOP = 'ghcr.io/acme/shop'
const OVERLAYS = ['overlays/dev', 'overlays/preview', 'overlays/production', 'overlays/staging']
let root: string

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'kustomize-'))
  await fs.cp(path.join(FIXTURES, 'kustomize'), root, { recursive: true })
})

afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true })
})

/** The images the real Kustomize (as Argo CD and Flux run it) renders for a directory. */
async function rendered(dir: string): Promise<string[]> {
  const { stdout } = await run('kubectl', ['kustomize', path.join(root, dir)])
  return [...stdout.matchAll(/^\s*(?:- )?image: (\S+)$/gm)].map(m => m[1]!).sort()
}

async function baseBytes(): Promise<Record<string, string>> {
  const files: Record<string, string> = {}
  for (const name of await fs.readdir(path.join(root, 'base'))) {
    files[name] = await fs.readFile(path.join(root, 'base', name), 'utf8')
  }
  return files
}

const original = (file: string) => fs.readFile(path.join(FIXTURES, 'kustomize', file), 'utf8')
const current = (file: string) => fs.readFile(path.join(root, file), 'utf8')
const pin = (request: Partial<PinRequest>) =>
  pinTree({ root, paths: OVERLAYS, request: { image: SHOP, digest: DIGEST, ...request }, write: true })

describe('kubectl kustomize renders the pinned overlays; the base is untouched', () => {
  it('without a tag: name@digest in every overlay', async () => {
    const before = await baseBytes()
    expect(await rendered('overlays/staging')).toEqual([`${SHOP}:2024.06.2-rc.1`, 'redis:7.2'])

    const result = await pin({})
    for (const overlay of OVERLAYS) {
      expect(await rendered(overlay)).toContain(`${SHOP}@${DIGEST}`)
    }
    expect(await rendered('overlays/preview')).toEqual([`${SHOP}@${DIGEST}`, 'redis:7.4'])
    expect(await baseBytes()).toEqual(before)
    expect(await rendered('base')).toEqual([`${SHOP}:2024.06.1`, 'redis:7.2'])

    expect(result.changes.map(c => [c.file, c.line, c.old])).toEqual([
      ['overlays/dev/kustomization.yaml', 6, `${SHOP}:2024.06.1`],
      ['overlays/preview/kustomization.yaml', 9, `${SHOP}:2024.06.1`],
      ['overlays/production/deployment-patch.yaml', 11, `${SHOP}:2024.06.1`],
      ['overlays/staging/kustomization.yaml', 7, `${SHOP}:2024.06.2-rc.1`]
    ])
    // The diff of each overlay is the image and nothing else.
    expect(
      changedLines(
        await original('overlays/production/deployment-patch.yaml'),
        await current('overlays/production/deployment-patch.yaml')
      )
    ).toEqual({
      11: `        image: ${SHOP}@${DIGEST}\n`
    })
    expect(await current('overlays/staging/kustomization.yaml')).toBe(
      (await original('overlays/staging/kustomization.yaml')).replace(
        '    newTag: 2024.06.2-rc.1 # release candidate\n',
        `    digest: ${DIGEST}\n`
      )
    )
    expect(await current('overlays/dev/kustomization.yaml')).toBe(
      `${await original('overlays/dev/kustomization.yaml')}images:\n- name: ${SHOP}\n  digest: ${DIGEST}\n`
    )
    expect(await current('overlays/preview/kustomization.yaml')).toBe(
      `${await original('overlays/preview/kustomization.yaml')}  - name: ${SHOP}\r\n    digest: ${DIGEST}\r\n`
    )
  })

  it('with a tag: name:tag@digest', async () => {
    await pin({ tag: '2024.06.2' })
    for (const overlay of OVERLAYS) {
      expect(await rendered(overlay)).toContain(`${SHOP}:2024.06.2@${DIGEST}`)
    }
    expect(await rendered('base')).toEqual([`${SHOP}:2024.06.1`, 'redis:7.2'])
  })

  it('another image keeps the spelling of the base (redis)', async () => {
    await pinTree({
      root,
      paths: ['overlays/dev'],
      request: { image: 'docker.io/library/redis', digest: DIGEST, tag: '7.4.1' },
      write: true
    })
    expect(await rendered('overlays/dev')).toEqual([`${SHOP}:2024.06.1`, `redis:7.4.1@${DIGEST}`])
  })

  it('a second run changes nothing and renders the same', async () => {
    await pin({ tag: '2024.06.2' })
    const first = await Promise.all(OVERLAYS.map(rendered))
    const again = await pin({ tag: '2024.06.2' })
    expect(again.changes).toEqual([])
    expect(again.unchanged).toHaveLength(4)
    expect(await Promise.all(OVERLAYS.map(rendered))).toEqual(first)
  })
})

/**
 * What Argo CD does with a `kustomize.images` entry: `kustomize edit set image <entry>` on the app's kustomization,
 * then a build. Done here as Kustomize 5 parses the entry (`[alias=]name[:tag][@digest]`, split at the first `=`), in
 * a kustomization over the overlay, since kubectl has no `edit`.
 */
async function renderedByArgo(overlay: string, entry: string): Promise<string[]> {
  const [alias, image] = entry.includes('=')
    ? [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]
    : [undefined, entry]
  const slash = Math.max(image.indexOf('/'), 0)
  const at = image.indexOf('@', slash)
  const colon = image.indexOf(':', slash)
  const end = [colon, at].filter(i => i >= 0).sort((a, b) => a - b)[0] ?? image.length
  const name = image.slice(0, end)
  const tag =
    colon >= 0 && (at < 0 || colon < at) ? image.slice(colon + 1, at < 0 ? undefined : at) : undefined
  const digest = at >= 0 ? image.slice(at + 1) : undefined
  const fields = [
    `name: ${alias ?? name}`,
    ...(alias ? [`newName: ${name}`] : []),
    ...(tag ? [`newTag: ${tag}`] : []),
    ...(digest ? [`digest: ${digest}`] : [])
  ]
  const dir = path.join(root, 'argo-build')
  await fs.mkdir(dir, { recursive: true })
  await fs.writeFile(
    path.join(dir, 'kustomization.yaml'),
    `resources:\n- ../${overlay}\nimages:\n- ${fields.join('\n  ')}\n`
  )
  return rendered('argo-build')
}

describe("Argo CD Image Updater's override file beside an overlay", () => {
  const overrideFile = 'overlays/staging/.argocd-source-shop-staging.yaml'
  const override = `# written by argocd-image-updater\nkustomize:\n  images:\n  - ${SHOP}:2024.06.3\n`

  it('is pinned with the overlay, so what Argo CD renders is the digest', async () => {
    await fs.writeFile(path.join(root, overrideFile), override)
    const entry = (text: string) => /- (\S+)\n$/.exec(text)![1]!
    // The override wins over the kustomization (which says 2024.06.2-rc.1): it is what Argo CD deploys.
    expect(await renderedByArgo('overlays/staging', entry(override))).toEqual([
      `${SHOP}:2024.06.3`,
      'redis:7.2'
    ])

    const result = await pin({ tag: '2024.06.2' })
    const pinned = await current(overrideFile)
    expect(changedLines(override, pinned)).toEqual({ 4: `  - ${SHOP}:2024.06.2@${DIGEST}\n` })
    expect(result.changes.filter(c => c.file === overrideFile)).toEqual([
      expect.objectContaining({ line: 4, old: `${SHOP}:2024.06.3`, new: `${SHOP}:2024.06.2@${DIGEST}` })
    ])
    expect(await rendered('overlays/staging')).toContain(`${SHOP}:2024.06.2@${DIGEST}`)
    expect(await renderedByArgo('overlays/staging', entry(pinned))).toEqual([
      `${SHOP}:2024.06.2@${DIGEST}`,
      'redis:7.2'
    ])
  })
})
