// src/lib/workflow-commands.ts against @actions/core, the runner's reference client: the same calls must write the
// same bytes to stdout and to the file commands (the random heredoc delimiter aside), and throw the same errors.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import * as core from '@actions/core'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import * as ours from '../../src/lib/workflow-commands.js'

type Client = typeof core | typeof ours

interface Written {
  stdout: string
  output: string
  summary: string
  exitCode: typeof process.exitCode
  error?: string
}

let dir: string
const savedEnv = { ...process.env }

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'workflow-commands-'))
})

afterEach(() => {
  process.env = { ...savedEnv }
  process.exitCode = undefined
  rmSync(dir, { recursive: true, force: true })
})

/** Runs `calls` with one client, capturing everything it writes. */
async function capture(
  client: Client,
  calls: (client: Client) => unknown,
  env: Record<string, string | undefined> = {}
): Promise<Written> {
  const output = path.join(dir, `output-${Math.random()}`)
  const summary = path.join(dir, `summary-${Math.random()}`)
  writeFileSync(output, '')
  writeFileSync(summary, '')
  process.env.GITHUB_OUTPUT = output
  process.env.GITHUB_STEP_SUMMARY = summary
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete process.env[key]
    else process.env[key] = value
  }
  const written: string[] = []
  const write = process.stdout.write
  process.stdout.write = ((chunk: string) => {
    written.push(String(chunk))
    return true
  }) as typeof process.stdout.write
  let error: string | undefined
  try {
    await calls(client)
  } catch (thrown) {
    error = (thrown as Error).message
  } finally {
    process.stdout.write = write
  }
  const exitCode = process.exitCode
  process.exitCode = undefined
  const read = (file: string) => {
    try {
      return readFileSync(file, 'utf8').replace(/ghadelimiter_[0-9a-f-]{36}/g, 'ghadelimiter_X')
    } catch {
      return '(no file)'
    }
  }
  return {
    stdout: written.join(''),
    output: read(output),
    summary: read(summary),
    exitCode,
    ...(error ? { error } : {})
  }
}

async function expectSame(calls: (client: Client) => unknown, env?: Record<string, string | undefined>) {
  const reference = await capture(core, calls, env)
  const actual = await capture(ours, calls, env)
  expect(actual).toEqual(reference)
  return actual
}

const awkward = 'a: b, c\r\n100% done\nnext line'

describe('workflow commands as @actions/core writes them', () => {
  it.each([
    ['info', (c: Client) => c.info(awkward)],
    ['debug', (c: Client) => c.debug(awkward)],
    ['setSecret', (c: Client) => c.setSecret('p%ss\nword')],
    ['notice', (c: Client) => c.notice(awkward)],
    ['warning without properties', (c: Client) => c.warning(awkward)],
    ['warning with an empty properties object', (c: Client) => c.warning('w', {})],
    [
      'warning with every property',
      (c: Client) =>
        c.warning(awkward, {
          title: 'a, b: c',
          file: 'dir/a,b:c%.yaml',
          startLine: 12,
          endLine: 14,
          startColumn: 3,
          endColumn: 9
        })
    ],
    ['error with a file and line', (c: Client) => c.error(awkward, { file: 'x.yaml', startLine: 7 })],
    ['error with line 0 (left out)', (c: Client) => c.error('e', { file: 'x.yaml', startLine: 0 })],
    ['notice whose properties are all unset', (c: Client) => c.notice('n', { file: undefined })],
    ['setFailed', (c: Client) => c.setFailed(awkward)]
  ])('%s', async (_name, calls) => {
    const written = await expectSame(calls)
    expect(written.stdout).not.toBe('')
  })

  it('reads inputs: spaces to underscores, upper case, trimmed, empty when unset', async () => {
    const env = { INPUT_MY_INPUT: '  value \n', INPUT_EMPTY: '' }
    await expectSame(c => {
      process.stdout.write(`${c.getInput('my input')}|${c.getInput('My_Input')}|${c.getInput('empty')}|`)
      process.stdout.write(c.getInput('unset'))
    }, env)
  })

  it('sets outputs through GITHUB_OUTPUT, multi-line values included', async () => {
    const written = await expectSame(c => {
      c.setOutput('changed', 'true')
      c.setOutput('changes', '[{"file": "a.yaml"}]\nsecond line\r\n')
      c.setOutput('empty', '')
    })
    expect(written.output).toContain('changes<<ghadelimiter_X')
  })

  it('sets outputs with the old command when GITHUB_OUTPUT is not set', async () => {
    await expectSame(c => c.setOutput('name', 'a\nb'), { GITHUB_OUTPUT: undefined })
  })

  it('refuses an output file that does not exist, as core does', async () => {
    const written = await expectSame(c => c.setOutput('name', 'value'), {
      GITHUB_OUTPUT: path.join(os.tmpdir(), 'no-such-dir-for-outputs', 'output')
    })
    expect(written.error).toMatch(/Missing file at path/)
  })

  // Before any summary is written: core.summary remembers the file it found.
  it('fails without a job summary file, as core does', async () => {
    const reference = await capture(core, () => core.summary.addRaw('x').write(), {
      GITHUB_STEP_SUMMARY: undefined
    })
    core.summary.emptyBuffer()
    const actual = await capture(ours, () => ours.appendSummary('x'), { GITHUB_STEP_SUMMARY: undefined })
    expect(actual.error).toBe(reference.error)
    expect(actual.error).toMatch(/GITHUB_STEP_SUMMARY/)
  })
  it('appends to the job summary as core.summary.addRaw(…).write() does', async () => {
    const markdown = '### Pinned `x`\n\n| a | b |\n'
    const reference = await capture(core, () => core.summary.addRaw(markdown).write())
    core.summary.emptyBuffer()
    const actual = await capture(ours, () => ours.appendSummary(markdown))
    expect(actual).toEqual(reference)
    expect(actual.summary).toBe(markdown)
  })
})
