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
