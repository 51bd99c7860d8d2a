import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFile } from 'node:child_process'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { runAction, shownText, type ActionResult } from '../support/action-runner.js'
import { BUILDAH_ENV, pushBusyboxBase, trustForContainers } from '../support/builders.js'
import { standInHelper } from '../support/credential-helper.js'
import { startRegistry, type TestRegistry } from '../support/registry.js'

const run = promisify(execFile)
const PASSWORD = 'e2e-Registry-Pass-4471'
const COMMIT_TIME = '2026-03-04T05:06:07.000Z'

let registry: TestRegistry
let untrust: () => Promise<void>
let workspace: string
let sha: string
const results: ActionResult[] = []

beforeAll(async () => {
  registry = await startRegistry({ auth: { username: 'bot', password: PASSWORD } })
  untrust = await trustForContainers(registry)
  // A checkout with one commit at a known time: the created label must be that time, not the wall clock.
  workspace = await fs.mkdtemp(path.join(os.tmpdir(), 'e2e-ws-'))
  await fs.mkdir(path.join(workspace, 'app'))
  await fs.writeFile(path.join(workspace, 'app', 'hello.txt'), 'end to end\n')
  await fs.writeFile(path.join(workspace, 'app', 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\n')
  const git = (...args: string[]) =>
    run('git', args, {
      cwd: workspace,
      env: { ...process.env, GIT_COMMITTER_DATE: COMMIT_TIME, GIT_AUTHOR_DATE: COMMIT_TIME }
    })
  await git('init', '-q')
  await git('add', '.')
  await git('-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', 'app')
  sha = (await git('rev-parse', 'HEAD')).stdout.trim()
}, 60_000)

afterAll(async () => {
  for (const result of results) await result.cleanup()
  await untrust?.()
  await registry?.stop()
  await fs.rm(workspace, { recursive: true, force: true })
})

async function action(inputs: Record<string, string>): Promise<ActionResult> {
  const result = await runAction({
    actionDir: 'actions/build-and-digest',
    inputs,
    workspace,
    env: { NODE_EXTRA_CA_CERTS: registry.caFile, ...BUILDAH_ENV },
    context: { repository: 'octo/app', sha },
    timeoutMs: 120_000
  })
  results.push(result)
  return result
}

describe('build-and-digest bundle and a plain-HTTP registry on loopback (a registry:2 service container)', () => {
  let plain: TestRegistry
  let plainAuth: TestRegistry
  beforeAll(async () => {
    ;[plain, plainAuth] = await Promise.all([
      startRegistry({ plainHttp: true }),
      startRegistry({ plainHttp: true, auth: { username: 'svc', password: PASSWORD } })
    ])
  })
  afterAll(async () => Promise.all([plain?.stop(), plainAuth?.stop()]))

  it.each([
    ['without auth', () => plain, {}],
    ['with htpasswd', () => plainAuth, { 'registry-username': 'svc', 'registry-password': PASSWORD }]
  ])('pushes %s and outputs the digest skopeo sees', async (_, target, credentials) => {
    const image = `${target().host}/octo/app`
    const result = await action({ image, context: 'app', builder: 'buildah', ...credentials })
    expect(result.annotations.filter(a => a.level === 'error')).toEqual([])
    expect(result.exitCode).toBe(0)
    const creds = target().username ? ['--creds', `svc:${PASSWORD}`] : []
    const { stdout } = await run('skopeo', [
      'inspect',
      '--tls-verify=false',
      ...creds,
      '--format',
      '{{.Digest}}',
      `docker://${image}:sha-${sha.slice(0, 12)}`
    ])
    expect(result.outputs.digest).toBe(stdout.trim())
    for (const text of shownText(result)) expect(text).not.toContain(PASSWORD)
  })
})

/** Every file under `dir` (symlinks not followed) whose bytes contain one of `needles`. */
async function filesContaining(dir: string, needles: string[]): Promise<string[]> {
  const found: string[] = []
  for (const entry of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue
    const file = path.join(entry.parentPath, entry.name)
    const bytes = await fs.readFile(file)
    if (needles.some(needle => bytes.includes(needle))) found.push(file)
  }
  return found
}

describe('hostile inputs and repositories, through the committed bundle', () => {
  const SECRET = 'outside-Secret-Value-5521'
  let outside: string
  beforeAll(async () => {
    outside = await fs.mkdtemp(path.join(os.tmpdir(), 'e2e-outside-'))
    await fs.writeFile(path.join(outside, 'Dockerfile'), `FROM scratch\n# ${SECRET}\n`)
    await fs.writeFile(path.join(outside, 'credentials'), `password=${SECRET}\n`)
    const hostile = path.join(workspace, 'hostile')
    for (const dir of ['link-default', 'fifo-default', 'dir-default/Dockerfile', 'ok'])
      await fs.mkdir(path.join(hostile, dir), { recursive: true })
    await fs.symlink(outside, path.join(hostile, 'context-out'))
    await fs.symlink(path.join(outside, 'credentials'), path.join(hostile, 'file-out'))
    await fs.symlink(path.join(outside, 'Dockerfile'), path.join(hostile, 'link-default', 'Dockerfile'))
    await fs.symlink('/dev/zero', path.join(hostile, 'zero'))
    await run('mkfifo', [path.join(hostile, 'fifo'), path.join(hostile, 'fifo-default', 'Dockerfile')])
  })
  afterAll(async () => fs.rm(outside, { recursive: true, force: true }))

  it.each([
    [
      'a context symlinked out of the workspace',
      { context: 'hostile/context-out' },
      'resolves outside the workspace'
    ],
    ['a context above the workspace', { context: '../..' }, "input 'context': '../..' resolves outside"],
    ['an absolute context elsewhere', { context: '/etc' }, "input 'context': '/etc' resolves outside"],
    [
      'a file symlinked to a credentials file',
      { file: 'hostile/file-out' },
      "input 'file': 'hostile/file-out' resolves outside"
    ],
    ['/proc/self/environ as the file', { file: '/proc/self/environ' }, 'resolves outside the workspace'],
    ['a symlink to /dev/zero as the file', { file: 'hostile/zero' }, 'resolves outside the workspace'],
    ['a FIFO as the file', { file: 'hostile/fifo' }, 'is not a regular file'],
    ['a directory as the file', { file: 'hostile/ok' }, 'is not a regular file'],
    [
      'a context whose Dockerfile links out',
      { context: 'hostile/link-default' },
      'resolves outside the workspace'
    ],
    ['a context whose Dockerfile is a FIFO', { context: 'hostile/fifo-default' }, 'is not a regular file'],
    [
      'a context whose Dockerfile is a directory',
      { context: 'hostile/dir-default' },
      'is not a regular file'
    ],
    ['a build-timeout of zero', { 'build-timeout': '0' }, "input 'build-timeout' must be a whole number"],
    [
      'a build-timeout that is not a number',
      { 'build-timeout': '1h' },
      "input 'build-timeout' must be a whole number"
    ],
    ['a platform smuggling a flag', { platforms: 'linux/amd64 --push' }, 'is not a platform'],
    ['a tag smuggling a flag', { tags: '--tls-verify=false' }, "input 'tags'"],
    [
      'a local cache symlinked out',
      { 'cache-to': 'type=local,dest=hostile/context-out/x' },
      'resolves outside'
    ],
    ['a local cache read from elsewhere', { 'cache-from': 'type=local,src=/etc' }, 'resolves outside'],
    ['a cache token on the command line', { 'cache-to': 'type=gha,token=ghs_x' }, 'would put a secret'],
    [
      'a cache that takes an image tag',
      { 'cache-to': `type=registry,ref=${'$'}{IMAGE}:v9.1.0`, tags: 'v9.1.0' },
      'one of the tags'
    ],
    [
      'a cache type buildah cannot use',
      { 'cache-to': 'type=inline' },
      'builder buildah cannot use a inline cache'
    ]
  ])('refuses %s at once, showing nothing it points at', async (_, inputs, message) => {
    const started = Date.now()
    const image = `${registry.host}/octo/hostile`
    const given = Object.fromEntries(
      Object.entries(inputs).map(([key, value]) => [key, value.replace('${IMAGE}', image)])
    )
    const result = await action({
      image,
      context: 'app',
      builder: 'buildah',
      'registry-username': 'bot',
      'registry-password': PASSWORD,
      ...given
    })
    expect(Date.now() - started).toBeLessThan(20_000)
    expect(result.exitCode).toBe(1)
    const errors = result.annotations.filter(a => a.level === 'error').map(a => a.message)
    expect(errors).toEqual([expect.stringContaining(message)])
    expect(result.outputs.digest).toBeUndefined()
    for (const text of [...shownText(result), JSON.stringify(result.annotations)]) {
      expect(text).not.toContain(SECRET)
      expect(text).not.toContain(PASSWORD)
    }
    expect(await filesContaining(result.dirs.root, [SECRET, PASSWORD])).toEqual([])
  })
})

describe('build-and-digest bundle, run as the runner runs it', () => {
  it('outputs the digest skopeo sees, with the OCI labels of the source commit', async () => {
    const image = `${registry.host}/octo/app`
    const result = await action({
      image,
      context: 'app',
      tags: 'v1.4.0',
      builder: 'buildah',
      'registry-username': 'bot',
      'registry-password': PASSWORD
    })
    expect(result.annotations.filter(a => a.level === 'error')).toEqual([])
    expect(result.exitCode).toBe(0)
    const creds = ['--creds', `bot:${PASSWORD}`]
    const inspected = JSON.parse(
      (await run('skopeo', ['inspect', ...creds, `docker://${image}:v1.4.0`])).stdout
    )
    expect(result.outputs.digest).toBe(inspected.Digest)
    expect(result.outputs['image-ref']).toBe(`${image}@${inspected.Digest}`)
    expect(result.outputs.pushed).toBe('true')
    expect(inspected.Labels).toMatchObject({
      'org.opencontainers.image.source': 'https://github.com/octo/app',
      'org.opencontainers.image.revision': sha,
      'org.opencontainers.image.created': COMMIT_TIME,
      'org.opencontainers.image.version': 'v1.4.0'
    })
    const byTag = (
      await run('skopeo', [
        'inspect',
        ...creds,
        '--format',
        '{{.Digest}}',
        `docker://${image}:sha-${sha.slice(0, 12)}`
      ])
    ).stdout
    expect(byTag.trim()).toBe(inspected.Digest)
    expect(result.summary).toContain(inspected.Digest)
    // The password was masked, and never printed in clear anywhere: not in the log, the outputs, the summary or
    // an annotation, nor left in any file of the runner's directories or the workspace (the auth file is gone).
    expect(result.secrets).toContain(PASSWORD)
    for (const text of [...shownText(result), JSON.stringify(result.annotations)]) {
      expect(text).not.toContain(PASSWORD)
    }
    const encoded = Buffer.from(`bot:${PASSWORD}`).toString('base64')
    expect(await filesContaining(result.dirs.root, [PASSWORD, encoded])).toEqual([])
    expect(await filesContaining(workspace, [PASSWORD, encoded])).toEqual([])
  })

  it('rebuilding the same commit gives the same labels', async () => {
    const image = `${registry.host}/octo/app`
    const result = await action({
      image,
      context: 'app',
      tags: 'v1.4.0',
      builder: 'buildah',
      'registry-username': 'bot',
      'registry-password': PASSWORD
    })
    expect(result.exitCode).toBe(0)
    expect(JSON.parse(result.outputs.metadata as string).labels['org.opencontainers.image.created']).toBe(
      COMMIT_TIME
    )
  })

  it('pushes with the credentials a Docker credential helper gives, and masks them', async () => {
    const helper = await standInHelper(
      { credsStore: 'standin' },
      {
        [registry.host]: { Username: 'bot', Secret: PASSWORD }
      }
    )
    try {
      const result = await runAction({
        actionDir: 'actions/build-and-digest',
        inputs: { image: `${registry.host}/octo/from-helper`, context: 'app', builder: 'buildah' },
        workspace,
        env: { NODE_EXTRA_CA_CERTS: registry.caFile, ...BUILDAH_ENV, ...helper.env },
        context: { repository: 'octo/app', sha },
        timeoutMs: 120_000
      })
      results.push(result)
      expect(result.annotations.filter(a => a.level === 'error')).toEqual([])
      expect(result.exitCode).toBe(0)
      expect(result.outputs.digest).toMatch(/^sha256:/)
      expect(await helper.asked()).toEqual([registry.host])
      expect(result.secrets).toContain(PASSWORD)
      for (const text of [...shownText(result), JSON.stringify(result.annotations)]) {
        expect(text).not.toContain(PASSWORD)
      }
    } finally {
      await helper.cleanup()
    }
  })

  it('never takes a line the Dockerfile prints for a workflow command', async () => {
    const base = await pushBusyboxBase(registry)
    await fs.mkdir(path.join(workspace, 'noisy'), { recursive: true })
    await fs.writeFile(
      path.join(workspace, 'noisy', 'Dockerfile'),
      `FROM ${base}\nRUN echo '::error::injected by the Dockerfile' && echo '::add-mask::build' && printf '::warning::no newline'\n`
    )
    const result = await action({
      image: `${registry.host}/octo/noisy`,
      context: 'noisy',
      builder: 'buildah',
      'registry-username': 'bot',
      'registry-password': PASSWORD
    })
    expect(result.exitCode).toBe(0)
    expect(result.annotations).toEqual([])
    expect(result.secrets).not.toContain('build')
    // The lines reached the log as plain output.
    expect(result.log).toContain('::error::injected by the Dockerfile')
    expect(result.outputs.digest).toMatch(/^sha256:/)
  })

  it('fails with an error annotation and a hint for an image with a tag', async () => {
    const result = await action({
      image: `${registry.host}/octo/app:latest`,
      context: 'app',
      builder: 'buildah'
    })
    expect(result.exitCode).toBe(1)
    const errors = result.annotations.filter(a => a.level === 'error').map(a => a.message)
    expect(errors).toEqual([
      expect.stringContaining(`use image: ${registry.host}/octo/app and put extra tags`)
    ])
    expect(result.outputs.digest).toBeUndefined()
  })

  it('fails on wrong credentials without showing them', async () => {
    const result = await action({
      image: `${registry.host}/octo/app`,
      context: 'app',
      builder: 'buildah',
      'registry-username': 'bot',
      'registry-password': 'not-the-Password-88'
    })
    expect(result.exitCode).toBe(1)
    const [error] = result.annotations.filter(a => a.level === 'error')
    expect(error?.message).toContain(`registry ${registry.host}`)
    expect(error?.message).toContain('401')
    expect(result.secrets).toContain('not-the-Password-88')
    for (const text of [...shownText(result), JSON.stringify(result.annotations)]) {
      expect(text).not.toContain('not-the-Password-88')
    }
    expect(await filesContaining(result.dirs.root, ['not-the-Password-88'])).toEqual([])
  })
})
