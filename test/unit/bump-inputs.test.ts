import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { commitMessage, sourceContext } from '../../src/actions/bump-manifest/commit-message.js'
import { INPUTS, parseAuthor, readInputs } from '../../src/actions/bump-manifest/inputs.js'
import { ConfigurationError } from '../../src/lib/errors.js'
import { mapInputs, type InputSource } from '../../src/lib/inputs.js'

const D = `sha256:${'ab'.repeat(32)}`
const env = { GITHUB_REPOSITORY: 'octo/gitops', GITHUB_WORKSPACE: '/ws' }
const read = (values: Record<string, string>) =>
  readInputs(mapInputs({ token: 't0k', paths: 'apps/', ...values }), env)

describe('bump-manifest inputs', () => {
  it('reads image, digest and tag, with defaults', () => {
    expect(read({ image: 'ghcr.io/octo/app', digest: D, tag: 'v1.2.3' })).toMatchObject({
      image: 'ghcr.io/octo/app',
      digest: D,
      tag: 'v1.2.3',
      push: 'direct',
      commitVia: 'git',
      maxAttempts: undefined,
      maxWaitMs: 5 * 60_000,
      allowNoMatch: false,
      paths: ['apps/'],
      author: { name: 'github-actions[bot]' }
    })
  })

  it('takes image, tag and digest from image-ref', () => {
    expect(read({ 'image-ref': `ghcr.io/octo/app:v2@${D}` })).toMatchObject({
      image: 'ghcr.io/octo/app',
      tag: 'v2',
      digest: D
    })
    expect(read({ image: 'ghcr.io/octo/app', 'image-ref': `ghcr.io/octo/app@${D}` })).toMatchObject({
      digest: D
    })
  })

  describe('path: a directory inside the workspace', () => {
    let workspace: string
    beforeAll(async () => {
      workspace = await realpath(await mkdtemp(path.join(os.tmpdir(), 'ws-')))
      await mkdir(path.join(workspace, 'gitops'))
      await writeFile(path.join(workspace, 'file.yaml'), 'x: 1\n')
      await symlink('/etc', path.join(workspace, 'etc-link'))
    })
    afterAll(() => rm(workspace, { recursive: true, force: true }))
    const inWorkspace = (checkout: string) =>
      readInputs(mapInputs({ image: 'app', digest: D, paths: 'a', path: checkout }), {
        GITHUB_WORKSPACE: workspace
      })

    it('resolves it against the workspace', () => {
      expect(inWorkspace('gitops').checkout).toBe(path.join(workspace, 'gitops'))
    })

    it.each([
      ['/etc/passwd', /input 'path': '\/etc\/passwd' resolves outside the workspace/],
      ['../..', /resolves outside the workspace/],
      ['etc-link', /input 'path': 'etc-link' resolves outside the workspace \(\/etc\)/],
      ['file.yaml', /input 'path': 'file.yaml' is not a directory/],
      ['missing', /input 'path': 'missing' does not exist/]
    ])('refuses %s', (checkout, message) => {
      expect(() => inWorkspace(checkout)).toThrow(ConfigurationError)
      expect(() => inWorkspace(checkout)).toThrow(message)
    })
  })

  it('reads paths one per line: a comma belongs to the glob or the file name', () => {
    expect(
      read({ image: 'app', digest: D, paths: 'apps/{web,api}/*.yaml\n a,b.yaml \n# note\n' }).paths
    ).toEqual(['apps/{web,api}/*.yaml', 'a,b.yaml'])
  })

  it.each([
    ['90', 90_000],
    ['90s', 90_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['0', 0]
  ])('reads max-wait %j', (wait, ms) => {
    expect(read({ image: 'app', digest: D, 'max-wait': wait }).maxWaitMs).toBe(ms)
  })

  it.each([['main'], ['promote/prod'], ['release-1.2'], ['feature/x_y+z'], ['déploiement']])(
    'accepts the branch %s',
    branch => {
      expect(
        read({ image: 'app', digest: D, branch, push: 'branch', 'head-branch': `promote/${branch}` })
      ).toMatchObject({
        branch,
        headBranch: `promote/${branch}`
      })
    }
  )

  it('reads max-attempts as an upper bound only when given', () => {
    expect(read({ image: 'app', digest: D, 'max-attempts': '12' }).maxAttempts).toBe(12)
  })

  it.each([
    ['', 1024 * 1024],
    ['1048576', 1048576],
    ['512KiB', 512 * 1024],
    ['5MiB', 5 * 1024 * 1024],
    ['20 MB', 20 * 1024 * 1024]
  ])('reads max-file-size %j', (size, bytes) => {
    expect(read({ image: 'app', digest: D, 'max-file-size': size }).maxFileBytes).toBe(bytes)
  })

  it.each([
    [{ digest: D }, "input 'image' is required"],
    [{ image: 'app' }, "input 'digest' is required"],
    [{ image: 'app:v1', digest: D }, 'without tag or digest'],
    [{ image: 'app', digest: 'sha256:abc' }, '64 lowercase hex'],
    [{ 'image-ref': 'ghcr.io/octo/app:v1' }, 'must carry a digest'],
    [{ image: 'ghcr.io/octo/other', 'image-ref': `ghcr.io/octo/app@${D}` }, 'name different repositories'],
    [{ 'image-ref': `app:v1@${D}`, tag: 'v2' }, "differs from the tag in 'image-ref'"],
    [{ 'image-ref': `app@${D}`, digest: D }, 'both set'],
    [{ 'image-ref': `app@${D}`, tag: '1.0 # x' }, "input 'tag': '1.0 # x' is not a valid tag"],
    [{ image: 'app', digest: D, tag: '-x' }, "input 'tag': '-x' is not a valid tag"],
    [{ image: 'app', digest: D, aliases: 'app:1' }, "input 'aliases'"],
    [{ image: 'app', digest: D, repository: 'nope' }, 'must be owner/name'],
    [{ image: 'app', digest: D, repository: 'a/b/c' }, 'must be owner/name'],
    [{ image: 'app', digest: D, push: 'force' }, "input 'push' must be one of direct, branch, none"],
    [{ image: 'app', digest: D, push: 'branch' }, "'head-branch' is required with push: branch"],
    [{ image: 'app', digest: D, token: '' }, "input 'token' is empty"],
    [{ image: 'app', digest: D, paths: '' }, "input 'paths' is required"],
    [{ image: 'app', digest: D, 'max-attempts': '0' }, 'from 1 to 10000'],
    [{ image: 'app', digest: D, 'max-wait': '5 minutes' }, "input 'max-wait' must be a duration"],
    [{ image: 'app', digest: D, 'max-wait': '7h' }, 'from 0s to 6h'],
    [{ image: 'app', digest: D, 'max-wait': '-1' }, "input 'max-wait' must be a duration"],
    [{ image: 'app', digest: D, author: 'just a name' }, "must look like 'Name <email>'"],
    [{ image: 'app', digest: D, 'commit-via': 'ssh' }, 'one of git, api'],
    [{ image: 'app', digest: D, author: 'Bot <bot@example.com>\nCo-authored-by: x' }, 'one line'],
    [{ image: 'app', digest: D, author: 'Bot\r <bot@example.com>' }, 'without control characters'],
    [{ image: 'app', digest: D, author: 'B\u0000ot <bot@example.com>' }, 'without control characters'],
    [
      { image: 'app', digest: D, branch: 'main:refs/heads/other' },
      'input \'branch\': "main:refs/heads/other" is not a valid'
    ],
    [{ image: 'app', digest: D, branch: '--upload-pack=x' }, 'not a valid branch name'],
    [{ image: 'app', digest: D, branch: 'refs/heads/main' }, "without 'refs/heads/'"],
    [{ image: 'app', digest: D, branch: '../../tags/v1' }, 'not a valid branch name'],
    [{ image: 'app', digest: D, branch: 'a b' }, 'not a valid branch name'],
    [{ image: 'app', digest: D, branch: 'main.lock' }, 'not a valid branch name'],
    [{ image: 'app', digest: D, branch: '.hidden' }, 'not a valid branch name'],
    [{ image: 'app', digest: D, push: 'branch', 'head-branch': 'promote/@{-1}' }, "input 'head-branch'"],
    [{ image: 'app', digest: D, push: 'branch', 'head-branch': 'promote/.x' }, "input 'head-branch'"],
    [{ image: 'app', digest: D, 'max-file-size': '0' }, "input 'max-file-size' must be a size"],
    [{ image: 'app', digest: D, 'max-file-size': '1GiB' }, "input 'max-file-size' must be a size"],
    [{ image: 'app', digest: D, 'max-file-size': '65MiB' }, 'to 64MiB'],
    [{ image: 'app', digest: D, 'max-file-size': 'lots' }, "got 'lots'"]
  ])('rejects %j', (values, message) => {
    expect(() => read(values)).toThrow(ConfigurationError)
    expect(() => read(values)).toThrow(message)
  })

  it('reads every declared input, and only those', () => {
    const asked = new Set<string>()
    const source: InputSource = {
      get: name => {
        asked.add(name)
        return ({ image: 'app', digest: D, token: 't', paths: 'a' } as Record<string, string>)[name] ?? ''
      }
    }
    readInputs(source, env)
    expect([...asked].sort()).toEqual([...INPUTS].sort())
  })

  it('parses an author', () => {
    expect(parseAuthor('Release Bot <bot@example.com>')).toEqual({
      name: 'Release Bot',
      email: 'bot@example.com'
    })
  })
})

describe('commit message', () => {
  const context = {
    image: 'ghcr.io/octo/app',
    digest: D,
    tag: 'v1.2.3',
    paths: ['apps/prod', 'apps/staging'],
    ...sourceContext({
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_REPOSITORY: 'octo/app',
      GITHUB_SHA: 'f'.repeat(40),
      GITHUB_RUN_ID: '42',
      GITHUB_RUN_ATTEMPT: '2'
    })
  }
  it('fills the template and adds the trailers', () => {
    expect(commitMessage('Pin {image} to {reference} in {paths}', context)).toBe(
      [
        `Pin ghcr.io/octo/app to v1.2.3@${'ab'.repeat(6)} in apps/prod, apps/staging`,
        '',
        `Image: ghcr.io/octo/app@${D}`,
        `Source-Commit: ${'f'.repeat(40)}`,
        'Source-Repository: https://github.com/octo/app',
        'Workflow-Run: https://github.com/octo/app/actions/runs/42/attempts/2',
        ''
      ].join('\n')
    )
  })
  it('leaves out trailers it does not know', () => {
    const message = commitMessage('{short-digest}', { image: 'app', digest: D, paths: [] })
    expect(message).toBe(`${'ab'.repeat(6)}\n\nImage: app@${D}\n`)
  })
  it('names an unknown placeholder', () => {
    expect(() => commitMessage('Pin {imgae}', context)).toThrow('unknown placeholder {imgae}')
  })
})
