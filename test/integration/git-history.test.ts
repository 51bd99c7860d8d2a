import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFile } from 'node:child_process'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { createCommandRunner } from '../../src/lib/exec.js'
import { createGit } from '../../src/lib/git/index.js'
import { startGitHub, type LocalGitHub } from '../../tools/local-github/index.js'

const run = promisify(execFile)
let gh: LocalGitHub
let root: string

beforeAll(async () => {
  gh = await startGitHub()
  root = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'git-history-')))
})
afterAll(async () => {
  await gh?.stop()
  await fs.rm(root, { recursive: true, force: true })
})

describe('reading earlier commits of a shallow clone', () => {
  it('deepens as asked, writes the files of a commit under some paths elsewhere, and leaves the clone as it was', async () => {
    const odd = 'apps/dev/we*ird [name].yaml'
    await gh.createRepo('octo/history', { defaultBranch: 'main', files: { 'README.md': 'readme\n' } })
    const first = await gh.commit('octo/history', {
      files: {
        'apps/dev/kustomization.yaml': 'one\n',
        [odd]: 'odd\n',
        'apps/prod/kustomization.yaml': 'prod\n'
      }
    })
    const second = await gh.commit('octo/history', { files: { 'apps/dev/kustomization.yaml': 'two\n' } })
    const third = await gh.commit('octo/history', { files: { 'README.md': 'docs\n' } })
    const token = gh.createToken({ repos: { 'octo/history': { contents: 'read' } } })
    const cwd = path.join(root, 'clone')
    await fs.mkdir(cwd)
    const git = createGit({ runner: createCommandRunner(), cwd, token, serverUrl: gh.serverUrl })
    await git.clone(`${gh.serverUrl}/octo/history.git`, 'main')

    expect(await git.tryResolveCommit('HEAD')).toBe(third)
    expect(await git.tryResolveCommit(`${third}^`)).toBeUndefined()
    expect(await git.tryDeepen('main', 2)).toBe(true)
    expect(await git.tryResolveCommit(`${second}^`)).toBe(first)

    const into = path.join(root, 'before-second')
    await fs.mkdir(into)
    expect(await git.tryExportTree(`${second}^`, ['apps/dev', 'apps/missing'], into)).toBe(true)
    const written = (await fs.readdir(into, { recursive: true })).map(String).sort()
    expect(written).toEqual(['apps', 'apps/dev', 'apps/dev/kustomization.yaml', odd])
    expect(await fs.readFile(path.join(into, 'apps/dev/kustomization.yaml'), 'utf8')).toBe('one\n')
    expect(await fs.readFile(path.join(into, odd), 'utf8')).toBe('odd\n')

    // The clone is untouched: HEAD, index and working tree as the clone left them.
    expect(await git.tryResolveCommit('HEAD')).toBe(third)
    expect((await run('git', ['status', '--porcelain'], { cwd })).stdout).toBe('')
    expect(await fs.readFile(path.join(cwd, 'apps/dev/kustomization.yaml'), 'utf8')).toBe('two\n')
    // Beyond what the clone holds: refused, nothing written.
    const beyond = path.join(root, 'beyond')
    await fs.mkdir(beyond)
    expect(await git.tryExportTree(`${first}~5`, ['apps/dev'], beyond)).toBe(false)
    expect(await fs.readdir(beyond)).toEqual([])
  })

  it('deepens with base moved on the server, leaving origin/<base> at the commit cloned', async () => {
    await gh.createRepo('octo/moving', { defaultBranch: 'main', files: { 'README.md': 'readme\n' } })
    const first = await gh.commit('octo/moving', { files: { 'a.yaml': 'one\n' } })
    const cloned = await gh.commit('octo/moving', { files: { 'a.yaml': 'two\n' } })
    const token = gh.createToken({ repos: { 'octo/moving': { contents: 'read' } } })
    const cwd = path.join(root, 'moving')
    await fs.mkdir(cwd)
    const git = createGit({ runner: createCommandRunner(), cwd, token, serverUrl: gh.serverUrl })
    await git.clone(`${gh.serverUrl}/octo/moving.git`, 'main')
    const later = await gh.commit('octo/moving', { files: { 'a.yaml': 'three\n' } })

    expect(await git.tryDeepen('main', 2)).toBe(true)
    expect(await git.tryResolveCommit(`${cloned}^`)).toBe(first)
    // What a rebuild from base resets to is what the run read, not the commit that landed meanwhile.
    expect(await git.tryResolveCommit('refs/remotes/origin/main')).toBe(cloned)
    expect(await git.tryResolveCommit('HEAD')).toBe(cloned)
    expect(await git.tryResolveCommit('refs/heads/main')).toBe(cloned)
    expect(later).not.toBe(cloned)
  })

  it('finds the newest commit adding a needle under paths, past later changes that keep it; none past the shallow boundary', async () => {
    const pin = `sha256:${'c'.repeat(64)}`
    await gh.createRepo('octo/additions', { defaultBranch: 'main', files: { 'README.md': 'readme\n' } })
    await gh.commit('octo/additions', { files: { 'apps/dev/k.yaml': `digest: ${pin}\n` } })
    await gh.commit('octo/additions', { files: { 'apps/dev/k.yaml': 'digest: none\n' } })
    const added = await gh.commit('octo/additions', {
      files: { 'apps/dev/k.yaml': `digest: ${pin}\n` },
      message: 'Pin dev again\n'
    })
    await gh.commit('octo/additions', { files: { 'apps/dev/k.yaml': `# dev\ndigest: ${pin}\n` } })
    await gh.commit('octo/additions', {
      files: { 'apps/dev/other.yaml': `also: ${pin}\n`, 'x.yaml': `${pin}\n` }
    })
    const token = gh.createToken({ repos: { 'octo/additions': { contents: 'read' } } })
    const cwd = path.join(root, 'additions')
    await fs.mkdir(cwd)
    const git = createGit({ runner: createCommandRunner(), cwd, token, serverUrl: gh.serverUrl })
    await git.clone(`${gh.serverUrl}/octo/additions.git`, 'main')

    // Shallow: the only commit is the boundary, whose change is unknown.
    expect(await git.tryFindAddition('refs/remotes/origin/main', pin, ['apps/dev/k.yaml'])).toBeUndefined()
    expect(await git.tryDeepen('main', 10)).toBe(true)
    expect(await git.tryFindAddition('refs/remotes/origin/main', pin, ['apps/dev/k.yaml'])).toEqual({
      sha: added,
      subject: 'Pin dev again'
    })
    expect(
      await git.tryFindAddition('refs/remotes/origin/main', `sha256:${'d'.repeat(64)}`, ['apps'])
    ).toBeUndefined()
  })
})
