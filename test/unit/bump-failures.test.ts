import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { runAction } from '../../src/lib/action.js'
import { ExternalError } from '../../src/lib/errors.js'
import { createCommandRunner } from '../../src/lib/exec.js'
import { NODE24_BIN, REPO_ROOT } from '../support/action-runner.js'

// `path: /etc/passwd` once ended in a bare `spawn ENOTDIR` stack trace: @actions/exec spawns inside an async Promise
// executor, so the spawn's throw rejected a promise no one held, and the awaited one never settled.

// Jest reports an unhandled rejection as the test's own failure, so the handler is run where the runner runs it: in a
// Node 24 process of its own, importing the TypeScript source (types stripped; `./x.js` imports resolved to `x.ts`).
const TS_IMPORT_HOOK = path.join(REPO_ROOT, 'scripts', 'lib', 'ts-import-hook.mjs')

async function runActionInNode(
  work: string
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const script = `const { runAction } = await import(${JSON.stringify(path.join(REPO_ROOT, 'src/lib/action.ts'))})
const exec = await import('@actions/exec')
const nextTurn = () => new Promise(resolve => setImmediate(resolve))
await runAction(async () => { ${work} })`
  const child = spawn(
    NODE24_BIN,
    ['--no-warnings', '--import', TS_IMPORT_HOOK, '--input-type=module', '-e', script],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] }
  )
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', chunk => (stdout += chunk))
  child.stderr.on('data', chunk => (stderr += chunk))
  const [code] = (await once(child, 'close')) as [number | null]
  return { code, stdout, stderr }
}

describe('every failure reaches the one top-level handler (a Node process, as on the runner)', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'not-a-dir-'))
    await writeFile(path.join(dir, 'passwd'), 'root:x:0:0\n')
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  it.each([
    [
      '@actions/exec with a cwd that is a file (the spawn error it loses)',
      `await exec.getExecOutput('git', ['status'], { cwd: ${JSON.stringify('DIR/passwd')}, silent: true })`,
      /^::error::spawn ENOTDIR$/m
    ],
    [
      'a rejection no one awaits',
      `void Promise.reject(new Error('lost by a library')); await nextTurn(); await nextTurn()`,
      /^::error::lost by a library$/m
    ],
    [
      'an error thrown from a callback',
      `setImmediate(() => { throw new Error('thrown in a callback') }); await nextTurn(); await nextTurn()`,
      /^::error::thrown in a callback$/m
    ],
    ['an error thrown and awaited', `throw new Error('plain failure')`, /^::error::plain failure$/m],
    [
      'a lost rejection while the work never settles (the run ends, nothing after it runs)',
      `void Promise.reject(new Error('lost, work stuck')); await new Promise(() => setInterval(() => console.log('::error::still running'), 50))`,
      /^::error::lost, work stuck$/m
    ]
  ])('%s', async (_, work, message) => {
    const result = await runActionInNode(work.replace('DIR', dir))
    expect(result.stdout).toMatch(message)
    expect(result.stdout.match(/^::error::/gm)).toHaveLength(1)
    expect(result.code).toBe(1)
    // No stack trace: what a reader sees is the annotation.
    expect(result.stderr).not.toMatch(/^\s+at /m)
  })

  it('stops listening once the work is done', async () => {
    const before = [process.listenerCount('unhandledRejection'), process.listenerCount('uncaughtException')]
    await runAction(async () => undefined)
    expect([process.listenerCount('unhandledRejection'), process.listenerCount('uncaughtException')]).toEqual(
      before
    )
  })
})

describe('a command whose working directory is not a directory', () => {
  let dir: string
  afterEach(() => rm(dir, { recursive: true, force: true }))

  it('fails with an ExternalError instead of hanging', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'not-a-dir-'))
    const file = path.join(dir, 'passwd')
    await writeFile(file, 'root:x:0:0\n')
    const running = createCommandRunner().run('git', ['status'], { cwd: file, silent: true })
    await expect(running).rejects.toThrow(ExternalError)
    await expect(running).rejects.toThrow(`its working directory ${file} is not a directory`)
  })
})
