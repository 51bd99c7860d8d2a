import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { INPUTS, readInputs } from '../../src/actions/build-and-digest/inputs.js'
import { buildLabels, sourceUrl } from '../../src/actions/build-and-digest/labels.js'
import { defaultTag, movingTagReason, validateTags } from '../../src/actions/build-and-digest/tags.js'
import { ConfigurationError } from '../../src/lib/errors.js'
import { mapInputs, type InputSource } from '../../src/lib/inputs.js'

const SHA = '0123456789abcdef0123456789abcdef01234567'
let workspace: string

beforeAll(async () => {
  workspace = await fs.mkdtemp(path.join(os.tmpdir(), 'inputs-'))
  await fs.mkdir(path.join(workspace, 'app'))
  await fs.writeFile(path.join(workspace, 'app', 'Dockerfile'), 'FROM scratch\n')
  await fs.mkdir(path.join(workspace, 'podman'))
  await fs.writeFile(path.join(workspace, 'podman', 'Containerfile'), 'FROM scratch\n')
})
afterAll(async () => fs.rm(workspace, { recursive: true, force: true }))

const read = (values: Record<string, string>, env: NodeJS.ProcessEnv = { GITHUB_SHA: SHA }) =>
  readInputs(mapInputs({ context: 'app', ...values }), workspace, env)

describe('build-and-digest inputs', () => {
  it('reads a full set of inputs into a typed object', async () => {
    const inputs = await read({
      image: 'ghcr.io/org/app',
      'build-args': 'A=1\nB=x=y',
      labels: 'team=core',
      tags: 'v1.2.3, build-7\nv1.2.3',
      platforms: 'linux/amd64,linux/arm/v7',
      push: 'false',
      builder: 'buildah',
      'registry-username': 'bot',
      'registry-password': 'pw'
    })
    expect(inputs).toMatchObject({
      image: 'ghcr.io/org/app',
      imageRef: { registry: 'ghcr.io', repository: 'org/app' },
      context: path.join(workspace, 'app'),
      file: path.join(workspace, 'app', 'Dockerfile'),
      tags: ['sha-0123456789ab', 'v1.2.3', 'build-7'],
      versionTag: 'v1.2.3',
      platforms: ['linux/amd64', 'linux/arm/v7'],
      push: false,
      builder: 'buildah',
      credentials: { username: 'bot', password: 'pw' },
      sourceRevision: SHA
    })
    expect([...inputs.buildArgs]).toEqual([
      ['A', '1'],
      ['B', 'x=y']
    ])
  })

  it('defaults: push, auto builder, the sha tag only, Containerfile found', async () => {
    const inputs = await read({ image: 'app', context: 'podman' })
    expect(inputs).toMatchObject({
      push: true,
      builder: 'auto',
      tags: ['sha-0123456789ab'],
      versionTag: 'sha-0123456789ab'
    })
    expect(inputs.file).toBe(path.join(workspace, 'podman', 'Containerfile'))
    expect(inputs.credentials).toBeUndefined()
  })

  it.each([
    [{ image: 'ghcr.io/org/app:v1' }, "use image: ghcr.io/org/app and put extra tags in the 'tags' input"],
    [{ image: `ghcr.io/org/app@sha256:${'a'.repeat(64)}` }, 'use image: ghcr.io/org/app'],
    [{ image: 'localhost:5000/app:1' }, 'use image: localhost:5000/app '],
    [{ image: '' }, "input 'image' is required"],
    [{ image: 'Org/App' }, 'must be lowercase'],
    [{ image: 'app', context: 'missing' }, "input 'context': 'missing' does not exist"],
    [{ image: 'app', file: 'nope/Dockerfile' }, "input 'file': 'nope/Dockerfile' does not exist"],
    [{ image: 'app', context: '.' }, 'has no Dockerfile or Containerfile'],
    [{ image: 'app', platforms: 'linux' }, "'linux' is not a platform"],
    [{ image: 'app', platforms: 'linux/amd64/v99x' }, 'is not a platform'],
    [{ image: 'app', platforms: 'linx/amd64' }, 'is not a platform'],
    [{ image: 'app', tags: 'latest' }, "'latest' conventionally follows a branch"],
    [{ image: 'app', tags: 'v1' }, 'release line'],
    [{ image: 'app', tags: 'app:1.0.0' }, 'write tags without the image name'],
    [{ image: 'app', push: 'yes' }, "input 'push' must be 'true' or 'false'"],
    [{ image: 'app', builder: 'kaniko' }, "input 'builder' must be one of auto, buildx, docker, buildah"],
    [{ image: 'app', 'registry-username': 'u' }, 'go together'],
    [{ image: 'app', 'build-args': 'NOEQUALS' }, "line 'NOEQUALS' must look like KEY=VALUE"],
    [{ image: 'app', 'source-revision': 'main' }, 'must be a full commit SHA']
  ])('rejects %j', async (values, message) => {
    const attempt = read(values)
    await expect(attempt).rejects.toThrow(ConfigurationError)
    await expect(read(values)).rejects.toThrow(message)
  })

  describe('context and file stay inside the workspace and are what they claim', () => {
    let outside: string
    beforeAll(async () => {
      outside = await fs.mkdtemp(path.join(os.tmpdir(), 'inputs-outside-'))
      await fs.writeFile(path.join(outside, 'Dockerfile'), 'FROM scratch\n')
      const hostile = path.join(workspace, 'hostile')
      await fs.mkdir(path.join(hostile, 'fifo-default'), { recursive: true })
      await fs.mkdir(path.join(hostile, 'link-default'))
      await fs.mkdir(path.join(hostile, 'dir-default', 'Dockerfile'), { recursive: true })
      await fs.symlink(outside, path.join(hostile, 'context-out'))
      await fs.symlink(path.join(outside, 'Dockerfile'), path.join(hostile, 'file-out'))
      await fs.symlink(path.join(outside, 'Dockerfile'), path.join(hostile, 'link-default', 'Dockerfile'))
      await fs.symlink('/dev/zero', path.join(hostile, 'zero'))
      await fs.symlink('../app/Dockerfile', path.join(hostile, 'file-in'))
      execFileSync('mkfifo', [path.join(hostile, 'fifo'), path.join(hostile, 'fifo-default', 'Dockerfile')])
    })
    afterAll(async () => fs.rm(outside, { recursive: true, force: true }))

    it.each([
      [
        { context: 'hostile/context-out' },
        "input 'context': 'hostile/context-out' resolves outside the workspace"
      ],
      [{ context: '..' }, "input 'context': '..' resolves outside the workspace"],
      [{ context: '/etc' }, "input 'context': '/etc' resolves outside the workspace"],
      [{ context: 'app/Dockerfile' }, "input 'context': 'app/Dockerfile' is not a directory"],
      [{ file: 'hostile/file-out' }, "input 'file': 'hostile/file-out' resolves outside the workspace"],
      [{ file: '/etc/passwd' }, "input 'file': '/etc/passwd' resolves outside the workspace"],
      [{ file: '/proc/self/environ' }, "input 'file': '/proc/self/environ' resolves outside the workspace"],
      [{ file: 'hostile/zero' }, "input 'file': 'hostile/zero' resolves outside the workspace"],
      [{ file: 'hostile/fifo' }, 'is not a regular file'],
      [{ file: 'app' }, 'is not a regular file'],
      [{ context: 'hostile/link-default' }, 'Dockerfile in the context): '],
      [{ context: 'hostile/link-default' }, 'resolves outside the workspace'],
      [{ context: 'hostile/fifo-default' }, 'is not a regular file'],
      [{ context: 'hostile/dir-default' }, 'is not a regular file']
    ])('refuses %j: %s', async (values, message) => {
      // A FIFO must be refused, not opened for a read that never ends: this would time out instead.
      const error = (await read({ image: 'app', ...values }).catch(e => e)) as Error
      expect(error).toBeInstanceOf(ConfigurationError)
      expect(error.message).toContain(message)
    })

    it('follows a symlink that stays inside, and hands the builder the resolved path', async () => {
      const inputs = await read({ image: 'app', file: 'hostile/file-in' })
      expect(inputs.file).toBe(path.join(await fs.realpath(workspace), 'app', 'Dockerfile'))
    })
  })

  it('needs a source revision outside a workflow', async () => {
    await expect(read({ image: 'app' }, {})).rejects.toThrow('GITHUB_SHA is not set')
  })

  it('allows moving tags only when asked', async () => {
    const inputs = await read({ image: 'app', tags: 'latest,v1', 'allow-mutable-tags': 'true' })
    expect(inputs.tags).toEqual(['sha-0123456789ab', 'latest', 'v1'])
  })

  it('reads every declared input, and only those', async () => {
    const asked = new Set<string>()
    const source: InputSource = {
      get: name => {
        asked.add(name)
        return name === 'image' ? 'app' : name === 'context' ? 'app' : ''
      }
    }
    await readInputs(source, workspace, { GITHUB_SHA: SHA })
    expect([...asked].sort()).toEqual([...INPUTS].sort())
  })
})

describe('tags', () => {
  it('names a build by its commit', () => expect(defaultTag(SHA)).toBe('sha-0123456789ab'))
  it.each(['latest', 'LATEST', 'main', 'stable', 'v2', '2', '2.1', 'v2.1'])('%s moves', tag =>
    expect(movingTagReason(tag)).toBeDefined()
  )
  it.each(['1.2.3', 'v1.2.3', 'sha-0123456789ab', 'build-42', 'release-2026-11-22', '2.1.0-rc.1'])(
    '%s stays',
    tag => expect(movingTagReason(tag)).toBeUndefined()
  )
  it('rejects bad tag syntax even when moving tags are allowed', () =>
    expect(() => validateTags(['.hidden'], true)).toThrow('not a valid tag'))
})

describe('labels', () => {
  const source = {
    sourceUrl: 'https://github.com/o/r',
    revision: SHA,
    created: '2026-01-02T03:04:05.000Z',
    version: 'v1.2.3'
  }
  it('adds the OCI labels from the source commit', () => {
    expect(Object.fromEntries(buildLabels(source, new Map()))).toEqual({
      'org.opencontainers.image.source': 'https://github.com/o/r',
      'org.opencontainers.image.revision': SHA,
      'org.opencontainers.image.created': '2026-01-02T03:04:05.000Z',
      'org.opencontainers.image.version': 'v1.2.3'
    })
  })
  it('lets user labels win, and leaves out what is unknown', () => {
    const labels = buildLabels(
      { ...source, sourceUrl: undefined, created: undefined },
      new Map([['org.opencontainers.image.version', 'custom']])
    )
    expect(Object.fromEntries(labels)).toEqual({
      'org.opencontainers.image.revision': SHA,
      'org.opencontainers.image.version': 'custom'
    })
  })
  it('builds the source URL from the server and repository', () => {
    expect(sourceUrl({ GITHUB_SERVER_URL: 'https://ghe.example.com/', GITHUB_REPOSITORY: 'o/r' })).toBe(
      'https://ghe.example.com/o/r'
    )
    expect(sourceUrl({})).toBeUndefined()
  })
})
