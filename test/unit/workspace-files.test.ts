import { describe, expect, it, beforeAll, afterAll } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { readRegularFile, resolveInside, resolveOutputInside } from '../../src/lib/workspace-files.js'

let root: string
let workspace: string
let outside: string

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'workspace-files-'))
  workspace = path.join(root, 'ws')
  outside = path.join(root, 'outside')
  fs.mkdirSync(path.join(workspace, 'sub'), { recursive: true })
  fs.mkdirSync(outside)
  fs.writeFileSync(path.join(outside, 'secret'), 'password=hunter2\n')
  fs.writeFileSync(path.join(workspace, 'sub', 'ok.txt'), 'fine\n')
  fs.writeFileSync(path.join(workspace, '..dots'), 'a name starting with two dots\n')
  fs.symlinkSync(path.join(outside, 'secret'), path.join(workspace, 'link-out'))
  fs.symlinkSync('sub/ok.txt', path.join(workspace, 'link-in'))
  fs.symlinkSync(outside, path.join(workspace, 'dir-out'))
  execFileSync('mkfifo', [path.join(workspace, 'fifo')])
})
afterAll(() => fs.rmSync(root, { recursive: true, force: true }))

describe('resolveInside', () => {
  it('resolves files and symlinks that stay inside', () => {
    expect(resolveInside(workspace, 'sub/ok.txt', 'input')).toBe(
      path.join(fs.realpathSync(workspace), 'sub/ok.txt')
    )
    expect(resolveInside(workspace, 'link-in', 'input')).toBe(
      path.join(fs.realpathSync(workspace), 'sub/ok.txt')
    )
    expect(resolveInside(workspace, '..dots', 'input')).toBe(path.join(fs.realpathSync(workspace), '..dots'))
  })

  it.each([['link-out'], ['dir-out/secret'], ['../outside/secret'], ['<outside>/secret'], ['/etc/passwd']])(
    'refuses %s, which resolves outside',
    named => {
      const file = named.replace('<outside>', outside)
      expect(() => resolveInside(workspace, file, "input 'policy'")).toThrow(
        /input 'policy'.*outside the workspace/
      )
    }
  )

  it('accepts a second root', () => {
    expect(resolveInside(workspace, path.join(outside, 'secret'), 'input', [outside])).toContain('secret')
  })

  it('names a missing file', () => {
    expect(() => resolveInside(workspace, 'nope', 'input')).toThrow(/'nope' does not exist/)
  })
})

describe('readRegularFile', () => {
  it('reads a regular file', async () => {
    expect((await readRegularFile(path.join(workspace, 'sub/ok.txt'), 'x', 100)).toString()).toBe('fine\n')
  })

  it('refuses a FIFO at once instead of hanging', async () => {
    await expect(readRegularFile(path.join(workspace, 'fifo'), 'input', 100)).rejects.toThrow(
      /not a regular file/
    )
  })

  it('refuses a symlink as the last component', async () => {
    await expect(readRegularFile(path.join(workspace, 'link-in'), 'input', 100)).rejects.toThrow(
      /cannot be read/
    )
  })

  it('refuses a file over the limit', async () => {
    await expect(readRegularFile(path.join(workspace, 'sub/ok.txt'), 'input', 3)).rejects.toThrow(
      /larger than 3 bytes/
    )
  })
})

describe('resolveOutputInside', () => {
  it('allows a new file inside', async () => {
    expect(await resolveOutputInside(workspace, 'sub/new.sarif', 'sarif')).toBe(
      path.join(fs.realpathSync(workspace), 'sub/new.sarif')
    )
  })

  it('refuses a symlink, even one that points inside', async () => {
    await expect(resolveOutputInside(workspace, 'link-out', 'sarif')).rejects.toThrow(/is a symlink/)
    await expect(resolveOutputInside(workspace, 'link-in', 'sarif')).rejects.toThrow(/is a symlink/)
  })

  it('refuses a directory outside and a FIFO', async () => {
    await expect(resolveOutputInside(workspace, 'dir-out/x.sarif', 'sarif')).rejects.toThrow(
      /outside the workspace/
    )
    await expect(resolveOutputInside(workspace, 'fifo', 'sarif')).rejects.toThrow(/not a regular file/)
  })
})
