import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { ConfigurationError } from '../../src/lib/errors.js'
import { pinTree, type PinRequest, type PinTreeOptions } from '../../src/lib/manifest/index.js'
import { changedLines, DIGEST, FIXTURES } from '../support/manifest-fixtures/helpers.js'

const APP = 'ghcr.io/org/app'
let root: string
let outside: string

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'gitops-'))
  outside = await fs.mkdtemp(path.join(os.tmpdir(), 'outside-'))
})

afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true })
  await fs.rm(outside, { recursive: true, force: true })
})

async function write(files: Record<string, string | Buffer>, base = root): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(base, name)
    await fs.mkdir(path.dirname(file), { recursive: true })
    await fs.writeFile(file, content)
  }
}

const read = (name: string) => fs.readFile(path.join(root, name), 'utf8')

function run(paths: string[], request: Partial<PinRequest> = {}, options: Partial<PinTreeOptions> = {}) {
  return pinTree({ root, paths, request: { image: APP, digest: DIGEST, ...request }, ...options })
}

const pod = (image: string) =>
  `apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: a\n    image: ${image}\n`

describe('discovery', () => {
  it('searches files, directories and globs, parses only files naming the image, skips .git', async () => {
    await write({
      'apps/web/prod/pod.yaml': pod(`${APP}:v1`),
      'apps/web/prod/other.yaml': pod('ghcr.io/org/other:v1'),
      'apps/api/prod/pod.yml': pod(`${APP}:v1`),
      'apps/api/staging/pod.yaml': pod(`${APP}:v1`),
      'apps/web/prod/notes.txt': `${APP}:v1`,
      'single.yaml': pod(`${APP}:v1`),
      '.git/config.yaml': pod(`${APP}:v1`),
      'apps/web/prod/.git/x.yaml': pod(`${APP}:v1`)
    })
    const result = await run(['apps/*/prod', 'single.yaml'])
    expect(result.changes.map(c => c.file)).toEqual([
      'apps/api/prod/pod.yml',
      'apps/web/prod/pod.yaml',
      'single.yaml'
    ])
    expect(result.searched).toBe(4)
    expect(result.parsed).toBe(3)
    expect(result.written).toBe(false)
  })

  it.each([
    ['**/pod.yaml', ['apps/api/staging/pod.yaml', 'apps/web/prod/pod.yaml']],
    ['apps/{web,api}/prod/*.{yaml,yml}', ['apps/api/prod/pod.yml', 'apps/web/prod/pod.yaml']],
    ['apps/[!w]*/**', ['apps/api/prod/pod.yml', 'apps/api/staging/pod.yaml']],
    ['./apps/web/', ['apps/web/prod/pod.yaml']]
  ])('%s', async (pattern, files) => {
    await write({
      'apps/web/prod/pod.yaml': pod(`${APP}:v1`),
      'apps/api/prod/pod.yml': pod(`${APP}:v1`),
      'apps/api/staging/pod.yaml': pod(`${APP}:v1`)
    })
    expect((await run([pattern])).changes.map(c => c.file)).toEqual(files)
  })

  it('follows a symlink inside the repository once, and edits the real file', async () => {
    await write({ 'real/pod.yaml': pod(`${APP}:v1`) })
    await fs.symlink(path.join(root, 'real'), path.join(root, 'linked'))
    await fs.symlink('../real/pod.yaml', path.join(root, 'real-link.yaml'))
    await fs.symlink(path.join(root, 'missing.yaml'), path.join(root, 'dangling.yaml'))
    const result = await run(['.'], {}, { write: true })
    expect(result.changes.map(c => c.file)).toEqual(['real/pod.yaml'])
    expect((await fs.lstat(path.join(root, 'real-link.yaml'))).isSymbolicLink()).toBe(true)
    expect(await read('real/pod.yaml')).toBe(pod(`${APP}@${DIGEST}`))
  })
})

describe('paths that leave the repository are configuration errors naming them', () => {
  it.each([
    ['../elsewhere', /'..\/elsewhere' leads outside the repository/],
    ['/etc', /'\/etc' leads outside the repository/],
    ['missing/dir', /'missing\/dir' does not exist in the repository/],
    ['nothing/*.yaml', /'nothing\/\*\.yaml' matches nothing/]
  ])('%s', async (entry, message) => {
    await expect(run([entry])).rejects.toThrow(ConfigurationError)
    await expect(run([entry])).rejects.toThrow(message)
  })

  it('an empty paths list', async () => {
    await expect(run([' ', ''])).rejects.toThrow(/paths is empty/)
  })

  it('a named symlink to a file outside', async () => {
    await write({ 'secret.yaml': pod(`${APP}:v1`) }, outside)
    await fs.symlink(path.join(outside, 'secret.yaml'), path.join(root, 'link.yaml'))
    await expect(run(['link.yaml'])).rejects.toThrow(
      /'link.yaml' is a symlink that leads outside the repository/
    )
  })

  it('a symlink to a directory outside, met while walking', async () => {
    await write({ 'apps/pod.yaml': pod(`${APP}:v1`), 'x.yaml': pod(`${APP}:v1`) }, outside)
    await write({ 'apps/prod/pod.yaml': pod(`${APP}:v1`) })
    await fs.symlink(path.join(outside, 'apps'), path.join(root, 'apps/prod/shared'))
    await expect(run(['apps'])).rejects.toThrow(/'apps\/prod\/shared' is a symlink that leads outside/)
    // Nothing was written before the error.
    expect(await read('apps/prod/pod.yaml')).toBe(pod(`${APP}:v1`))
  })

  it('a symlink to a YAML file outside, met while walking', async () => {
    await write({ 'x.yaml': pod(`${APP}:v1`) }, outside)
    await write({ 'apps/pod.yaml': pod(`${APP}:v1`) })
    await fs.symlink(path.join(outside, 'x.yaml'), path.join(root, 'apps/x.yaml'))
    await expect(run(['apps'], {}, { write: true })).rejects.toThrow(/'apps\/x.yaml' is a symlink/)
    expect(await fs.readFile(path.join(outside, 'x.yaml'), 'utf8')).toBe(pod(`${APP}:v1`))
  })
})

describe("git's own directory is never edited", () => {
  beforeEach(async () => {
    await write({ '.git/config': `[core]\n# ${APP}:v1\n`, '.git/pod.yaml': pod(`${APP}:v1`) })
  })

  it.each([
    ['.git/pod.yaml'],
    ['.git'],
    ['./.git/pod.yaml'],
    ['apps/../.git/pod.yaml'],
    ['.GIT/pod.yaml'],
    ['.git/*.yaml']
  ])('refuses the paths entry %s', async entry => {
    await expect(run([entry], {}, { write: true })).rejects.toThrow(
      /names git's own directory \(\.git\), which is never edited/
    )
    expect(await read('.git/pod.yaml')).toBe(pod(`${APP}:v1`))
  })

  it('refuses a named symlink into it', async () => {
    await fs.symlink('.git/pod.yaml', path.join(root, 'pod.yaml'))
    await expect(run(['pod.yaml'], {}, { write: true })).rejects.toThrow(
      /paths entry 'pod.yaml' leads into git's own directory/
    )
    expect(await read('.git/pod.yaml')).toBe(pod(`${APP}:v1`))
  })

  it('refuses a symlink into it met while walking, and one a glob matches', async () => {
    await write({ 'apps/pod.yaml': pod(`${APP}:v1`) })
    await fs.symlink('../.git', path.join(root, 'apps/meta'))
    await expect(run(['apps'], {}, { write: true })).rejects.toThrow(
      /'apps\/meta' is a symlink into git's own directory/
    )
    await expect(run(['apps/*'], {}, { write: true })).rejects.toThrow(
      /'apps\/meta' leads into git's own directory/
    )
    expect(await read('.git/pod.yaml')).toBe(pod(`${APP}:v1`))
    expect(await read('apps/pod.yaml')).toBe(pod(`${APP}:v1`))
  })
})

describe('Kustomize images entries Kustomize itself refuses are errors, and nothing is written', () => {
  const kustomization = (images: string) => `resources:\n  - pod.yaml\nimages:\n${images}`
  it.each([
    ['a numeric newTag', `  - name: ${APP}\n    newTag: 1.5\n`, /field newTag is a number \(1.5\)/],
    ['a boolean newTag', `  - name: ${APP}\n    newTag: true\n`, /field newTag is a boolean/],
    ['a list as digest', `  - name: ${APP}\n    digest: [a]\n`, /field digest is a list/],
    ['a numeric newName', `  - name: ${APP}\n    newName: 5\n`, /field newName is a number/],
    ['an entry that is a string', `  - ${APP}:v2\n`, /an images entry is a string/],
    ['images as a map', `  name: ${APP}\n`, /images: Kustomize reads a list of maps/],
    [
      'a bad entry beside a good one',
      `  - name: ${APP}\n    newTag: v2\n  - name: other\n    newTag: 7\n`,
      /kustomization.yaml:7 images entry field newTag is a number/
    ]
  ])('%s', async (_, images, message) => {
    const text = kustomization(images)
    await write({ 'kustomization.yaml': text, 'pod.yaml': pod(`${APP}:v1`) })
    const result = await run(['kustomization.yaml'], {}, { write: true })
    expect(result.errors).toEqual([
      expect.objectContaining({
        file: 'kustomization.yaml',
        kind: 'invalid',
        message: expect.stringMatching(message)
      })
    ])
    expect(result.changes).toEqual([])
    expect(await read('kustomization.yaml')).toBe(text)
  })

  it('accepts quoted values and empty fields', async () => {
    await write({ 'kustomization.yaml': kustomization(`  - name: ${APP}\n    newTag: "1.5"\n    digest:\n`) })
    const result = await run(['kustomization.yaml'])
    expect([result.errors, result.changes.length]).toEqual([[], 1])
  })
})

describe('files the engine does not read or edit', () => {
  it('reports a file over the size limit (default 5 MiB) and pins the rest', async () => {
    const line = `# ${APP}:v1 ${'x'.repeat(100)}\n`
    await write({
      'huge.yaml': line.repeat(Math.ceil((5 * 1024 * 1024 + 1) / line.length)),
      'pod.yaml': pod(`${APP}:v1`)
    })
    const result = await run(['.'])
    expect(result.errors).toEqual([expect.objectContaining({ file: 'huge.yaml', kind: 'too-large' })])
    expect(result.errors[0]!.message).toMatch(
      /^huge\.yaml mentions the image but is 52\d{5} bytes, over the limit of 5242880 bytes per file/
    )
    expect(result.changes.map(c => c.file)).toEqual(['pod.yaml'])
  })

  it('skips an oversized file that cannot mention the image, finding a mention at any chunk boundary', async () => {
    const filler = `# ${'x'.repeat(99)}\n`.repeat(60_000)
    await write({ 'crds.yaml': filler, 'pod.yaml': pod(`${APP}:v1`) })
    expect(await run(['.'])).toMatchObject({ errors: [], searched: 2 })
    // 'org/app', the needle, starts 8 characters in: these straddle the ends of the first two 1 MiB chunks.
    for (const at of [1024 * 1024 - 11, 2 * 1024 * 1024 - 1024 - 11]) {
      await write({ 'crds.yaml': `${filler.slice(0, at)}${APP}${filler.slice(at)}` })
      expect((await run(['.'])).errors).toEqual([
        expect.objectContaining({ file: 'crds.yaml', kind: 'too-large' })
      ])
    }
  })

  it('honours a lower limit', async () => {
    await write({ 'pod.yaml': pod(`${APP}:v1`) })
    const result = await run(['pod.yaml'], {}, { maxFileBytes: 10 })
    expect(result.errors.map(e => e.kind)).toEqual(['too-large'])
    expect(result.changes).toEqual([])
  })

  it('reports a file that is not UTF-8 and leaves it byte for byte', async () => {
    const latin1 = Buffer.concat([Buffer.from(pod(`${APP}:v1`)), Buffer.from([0x23, 0x20, 0xe9, 0x0a])])
    await write({ 'latin1.yaml': latin1 })
    const result = await run(['.'], {}, { write: true })
    expect(result.errors).toEqual([expect.objectContaining({ file: 'latin1.yaml', kind: 'encoding' })])
    expect(await fs.readFile(path.join(root, 'latin1.yaml'))).toEqual(latin1)
  })

  it('reports broken YAML, leaves it, and pins the other files', async () => {
    const broken = await fs.readFile(path.join(FIXTURES, 'broken/broken.yaml'), 'utf8')
    await write({ 'broken.yaml': broken, 'pod.yaml': pod(`${APP}:v1`) })
    const result = await run(['.'], {}, { write: true })
    expect(result.errors).toEqual([expect.objectContaining({ file: 'broken.yaml', kind: 'parse', line: 10 })])
    expect(await read('broken.yaml')).toBe(broken)
    expect(await read('pod.yaml')).toBe(pod(`${APP}@${DIGEST}`))
  })
})

describe('writing', () => {
  it('writes nothing unless asked, and returns the new text', async () => {
    await write({ 'pod.yaml': pod(`${APP}:v1`) })
    const result = await run(['.'])
    expect(result.edited).toEqual([{ file: 'pod.yaml', text: pod(`${APP}@${DIGEST}`) }])
    expect(await read('pod.yaml')).toBe(pod(`${APP}:v1`))
  })

  it('writes nothing when the check it is given throws', async () => {
    await write({ 'a.yaml': pod(`${APP}:v1`), 'b.yaml': pod(`${APP}:v2`) })
    const seen: string[][] = []
    const check = (result: { edited: Array<{ file: string }> }) => {
      seen.push(result.edited.map(file => file.file))
      throw new ConfigurationError('refused')
    }
    await expect(run(['.'], {}, { write: true, check })).rejects.toThrow('refused')
    expect(seen).toEqual([['a.yaml', 'b.yaml']])
    expect([await read('a.yaml'), await read('b.yaml')]).toEqual([pod(`${APP}:v1`), pod(`${APP}:v2`)])
  })

  it('replaces files atomically, keeps their mode, leaves no temporary file, and is idempotent', async () => {
    await write({ 'a/pod.yaml': pod(`${APP}:v1`) })
    const file = path.join(root, 'a/pod.yaml')
    await fs.chmod(file, 0o640)
    const inode = (await fs.stat(file)).ino
    const result = await run(['a'], { tag: 'v2' }, { write: true })
    expect(result.written).toBe(true)
    expect(await read('a/pod.yaml')).toBe(pod(`${APP}:v2@${DIGEST}`))
    const stats = await fs.stat(file)
    expect(stats.mode & 0o777).toBe(0o640)
    expect(stats.ino).not.toBe(inode) // renamed over, not rewritten in place
    expect(await fs.readdir(path.join(root, 'a'))).toEqual(['pod.yaml'])

    const again = await run(['a'], { tag: 'v2' }, { write: true })
    expect(again).toMatchObject({ changes: [], written: false, edited: [] })
    expect(again.unchanged).toEqual([
      { file: 'a/pod.yaml', line: 6, value: `${APP}:v2@${DIGEST}`, kind: 'workload' }
    ])
  })
})

describe('Kustomize overlays named in paths', () => {
  const base = {
    'base/kustomization.yaml': 'resources:\n- deployment.yaml\n',
    'base/deployment.yaml': [
      'apiVersion: apps/v1',
      'kind: Deployment',
      'metadata: {name: web}',
      'spec:',
      '  template:',
      '    spec:',
      '      containers:',
      `      - {name: web, image: "${APP}:v1"}`,
      '      - {name: cache, image: redis:7.2}',
      ''
    ].join('\n')
  }

  it('adds an images entry to an overlay with no reference, never editing the base', async () => {
    await write({ ...base, 'overlays/dev/kustomization.yaml': 'resources:\n- ../../base\n' })
    const result = await run(['overlays/dev'], {}, { write: true })
    expect(await read('overlays/dev/kustomization.yaml')).toBe(
      `resources:\n- ../../base\nimages:\n- name: ${APP}\n  digest: ${DIGEST}\n`
    )
    expect(await read('base/deployment.yaml')).toBe(base['base/deployment.yaml'])
    expect(result.changes).toEqual([
      {
        file: 'overlays/dev/kustomization.yaml',
        line: 4,
        old: `${APP}:v1`,
        new: `${APP}@${DIGEST}`,
        kind: 'kustomize-images'
      }
    ])
    expect(result.previous).toEqual([{ file: 'base/deployment.yaml', line: 8, old: `${APP}:v1` }])
  })

  it('names the entry as the base spells the image (redis, not docker.io/library/redis)', async () => {
    await write({ ...base, 'overlays/dev/kustomization.yaml': 'resources:\n- ../../base\n' })
    await run(['overlays/dev'], { image: 'docker.io/library/redis', tag: '7.4' }, { write: true })
    expect(await read('overlays/dev/kustomization.yaml')).toBe(
      `resources:\n- ../../base\nimages:\n- name: redis\n  newTag: "7.4"\n  digest: ${DIGEST}\n`
    )
  })

  it('edits a patch in the overlay instead of adding an entry', async () => {
    const patch = `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: ${APP}:v1\n`
    await write({
      ...base,
      'overlays/prod/kustomization.yaml': 'resources:\n- ../../base\npatches:\n- path: patch.yaml\n',
      'overlays/prod/patch.yaml': patch
    })
    const result = await run(['overlays/prod'], {}, { write: true })
    expect(changedLines(patch, await read('overlays/prod/patch.yaml'))).toEqual({
      9: `        image: ${APP}@${DIGEST}\n`
    })
    expect(await read('overlays/prod/kustomization.yaml')).toBe(
      'resources:\n- ../../base\npatches:\n- path: patch.yaml\n'
    )
    expect(result.changes).toHaveLength(1)
  })

  it('uses the requested spelling when a base cannot be read', async () => {
    await write({
      'overlays/dev/kustomization.yaml': 'resources:\n- https://github.com/org/repo//base?ref=v1\n'
    })
    await run(['overlays/dev'], {}, { write: true })
    expect(await read('overlays/dev/kustomization.yaml')).toContain(`- name: ${APP}\n  digest: ${DIGEST}\n`)
  })

  it('adds nothing when no base uses the image', async () => {
    await write({ ...base, 'overlays/dev/kustomization.yaml': 'resources:\n- ../../base\n' })
    const result = await run(['overlays/dev'], { image: 'ghcr.io/org/unused' }, { write: true })
    expect(result.changes).toEqual([])
    expect(await read('overlays/dev/kustomization.yaml')).toBe('resources:\n- ../../base\n')
  })

  it('reports an overlay kustomization over the size limit, though it need not mention the image', async () => {
    const comment = `# ${'x'.repeat(300)}\n`
    await write({ ...base, 'overlays/dev/kustomization.yaml': `${comment}resources:\n- ../../base\n` })
    const result = await run(['overlays/dev'], {}, { write: true, maxFileBytes: 300 })
    expect(result.errors).toEqual([
      expect.objectContaining({ file: 'overlays/dev/kustomization.yaml', kind: 'too-large' })
    ])
    expect(await read('overlays/dev/kustomization.yaml')).toBe(`${comment}resources:\n- ../../base\n`)
  })

  it('adds nothing for a kustomization named as a file rather than its directory', async () => {
    await write({ ...base, 'overlays/dev/kustomization.yaml': 'resources:\n- ../../base\n' })
    const result = await run(['overlays/dev/kustomization.yaml'])
    expect(result.changes).toEqual([])
  })
})
