import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pinFiles, readPins } from '../../src/actions/open-promotion-pr/pins.js'

const IMAGE = 'ghcr.io/octo/web'
const DIGEST = `sha256:${'d'.repeat(64)}`
const deployment = (image: string) =>
  'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n' +
  `      containers:\n        - name: web\n          image: ${image}\n`
let root: string

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'promotion-pins-'))
  const files: Record<string, string> = {
    'apps/dev/kustomization.yaml': 'resources:\n  - ../../shared/dev-base\n',
    'shared/dev-base/kustomization.yaml': 'resources:\n  - deploy.yaml\n',
    'shared/dev-base/deploy.yaml': deployment(`${IMAGE}:1.2.0@${DIGEST}`),
    'apps/own/deploy.yaml': deployment(`${IMAGE}:1.2.0@${DIGEST}`)
  }
  for (const [file, text] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(root, file)), { recursive: true })
    await fs.writeFile(path.join(root, file), text)
  }
})
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true })
})

describe('the files a pin is read from', () => {
  const read = (paths: string[]) =>
    readPins({ root, paths, image: IMAGE, aliases: [], helmPaths: [], input: 'from-paths' })

  it('names the base an overlay inherits the pin from, outside the paths read', async () => {
    const { pins } = await read(['apps/dev'])
    expect(pins.map(pin => pin.digest)).toEqual([DIGEST])
    expect(pinFiles(pins[0]!)).toEqual(['apps/dev/kustomization.yaml', 'shared/dev-base/deploy.yaml'])
  })

  it('names only the file that writes the pin when it is under the paths read', async () => {
    const { pins } = await read(['apps/own'])
    expect(pins[0]!.bases).toBeUndefined()
    expect(pinFiles(pins[0]!)).toEqual(['apps/own/deploy.yaml'])
  })
})
