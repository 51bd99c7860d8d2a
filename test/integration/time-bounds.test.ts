import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createCommandRunner } from '../../src/lib/exec.js'
import { createGit } from '../../src/lib/git/index.js'
import { createGitHubApi } from '../../src/lib/github/index.js'

// A server that accepts every request and never answers: git and the GitHub API must give up on their own, with an
// error that says so, instead of holding the job until the runner's six-hour limit.
let server: Server
let url: string
let dir: string
beforeAll(async () => {
  server = createServer(() => undefined)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  dir = await mkdtemp(join(tmpdir(), 'time-bounds-'))
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise(resolve => server.close(resolve))
  await rm(dir, { recursive: true, force: true })
})

describe('time bounds against a server that never answers', () => {
  it('stops a git command and says it was stopped', async () => {
    const git = createGit({
      runner: createCommandRunner(),
      cwd: dir,
      serverUrl: url,
      token: 't0ken',
      timeoutMs: 1_500
    })
    await expect(git.clone(`${url}/octo/gitops.git`, 'main')).rejects.toThrow(
      /git clone did not finish within 1\.5 s and was stopped/
    )
  })

  it('stops a GitHub API request', async () => {
    const api = createGitHubApi({ token: 't0ken', apiUrl: url, timeoutMs: 1_500 })
    const started = Date.now()
    await expect(api.createBranch({ owner: 'octo', repo: 'gitops' }, 'b', 'a'.repeat(40))).rejects.toThrow(
      /GitHub API: .*failed/
    )
    expect(Date.now() - started).toBeLessThan(60_000)
  })
})
