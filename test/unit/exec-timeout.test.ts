import { describe, expect, it } from '@jest/globals'
import { ExternalError } from '../../src/lib/errors.js'
import { createCommandRunner, runChecked } from '../../src/lib/exec.js'

describe('a command with a time bound', () => {
  const runner = createCommandRunner()

  it('is stopped when it runs past the bound, and says so', async () => {
    const started = Date.now()
    const result = await runner.run('sleep', ['60'], { silent: true, timeoutMs: 300 })
    expect(result.timedOut).toBe(true)
    expect(result.exitCode).not.toBe(0)
    expect(Date.now() - started).toBeLessThan(20_000)
  })

  it('does not wait for what the stopped command left running with its output open', async () => {
    const started = Date.now()
    const result = await runner.run('sh', ['-c', 'sleep 20 & sleep 20'], { silent: true, timeoutMs: 300 })
    expect(result.timedOut).toBe(true)
    expect(Date.now() - started).toBeLessThan(15_000)
  })

  it('is bounded when the command exits but what it started keeps the output open, and stops that too', async () => {
    const started = Date.now()
    const marker = `exec-timeout-${process.pid}-${Date.now()}`
    const result = await runner.run('bash', ['-c', `(exec -a ${marker} sleep 30) & exit 0`], {
      silent: true,
      timeoutMs: 500
    })
    expect(result.timedOut).toBe(true)
    expect(Date.now() - started).toBeLessThan(15_000)
    // The background sleep was in the command's process group: stopped with it.
    const { execFileSync } = await import('node:child_process')
    const left = (() => {
      try {
        return execFileSync('pgrep', ['-f', marker]).toString().trim()
      } catch {
        return ''
      }
    })()
    expect(left).toBe('')
  })

  it('fails runChecked with the bound in the message', async () => {
    const attempt = runChecked(runner, 'sleep', ['60'], 'buildah build', { silent: true, timeoutMs: 300 })
    await expect(attempt).rejects.toThrow(ExternalError)
    await expect(
      runChecked(runner, 'sleep', ['60'], 'buildah build', { silent: true, timeoutMs: 1000 })
    ).rejects.toThrow('buildah build did not finish within 1 s and was stopped')
  })

  it('runs as without a bound otherwise: output, exit code, input on stdin, environment', async () => {
    const result = await runner.run(
      'sh',
      ['-c', 'read line; echo "got $line $EXTRA"; echo err >&2; exit 3'],
      {
        silent: true,
        input: 'hello\n',
        env: { EXTRA: 'x1' },
        timeoutMs: 30_000
      }
    )
    expect(result).toEqual({ exitCode: 3, stdout: 'got hello x1\n', stderr: 'err\n' })
  })

  it('says a command that cannot be started cannot be run', async () => {
    await expect(
      runner.run('no-such-command-digest-delivery', [], { silent: true, timeoutMs: 1000 })
    ).rejects.toThrow("could not run 'no-such-command-digest-delivery'")
  })
})
