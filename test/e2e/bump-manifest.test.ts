import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { getOctokit } from '@actions/github'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { runAction, type ActionResult } from '../support/action-runner.js'
import { startGitHub, type LocalGitHub } from '../../tools/local-github/index.js'

const RUNS = 20
const digest = (i: number) => `sha256:${i.toString(16).padStart(64, '0')}`
const pod = (i: number) =>
  `apiVersion: v1\nkind: Pod\nmetadata:\n  name: svc-${i} # service ${i}\nspec:\n  containers:\n    - name: app\n      image: ghcr.io/octo/svc-${i}:1.0.0\n`

let gh: LocalGitHub
let token: string
const results: ActionResult[] = []

beforeAll(async () => {
  gh = await startGitHub()
  const files: Record<string, string> = {}
  for (let i = 0; i < RUNS; i++) files[`apps/svc-${i}.yaml`] = pod(i)
  await gh.createRepo('octo/gitops', { defaultBranch: 'main', files })
  token = gh.createToken({ repos: { 'octo/gitops': { contents: 'write' } }, kind: 'app' })
})
afterAll(async () => {
  for (const result of results) await result.cleanup()
  await gh?.stop()
})
afterEach(() => gh.assertNoViolations())

function bump(i: number, extra: Record<string, string> = {}): Promise<ActionResult> {
  return runAction({
    actionDir: 'actions/bump-manifest',
    inputs: {
      image: `ghcr.io/octo/svc-${i}`,
      digest: digest(i + 1),
      repository: 'octo/gitops',
      paths: 'apps',
      token,
      // Default max-wait and max-attempts: every concurrent run must land with them.
      ...extra
    },
    context: { repository: 'octo/app', serverUrl: gh.serverUrl, apiUrl: gh.apiUrl, runId: String(1000 + i) },
    timeoutMs: 240_000
  }).then(result => {
    results.push(result)
    return result
  })
}

describe('bump-manifest bundle, run as the runner runs it', () => {
  it(`lands all ${RUNS} concurrent runs on one branch: none lost, history linear`, async () => {
    const runs = await Promise.all(Array.from({ length: RUNS }, (_, i) => bump(i)))
    for (const [i, result] of runs.entries()) {
      expect([i, result.exitCode, result.annotations.filter(a => a.level === 'error')]).toEqual([i, 0, []])
      expect(result.outputs.changed).toBe('true')
    }
    const log = await gh.log('octo/gitops', 'main')
    expect(log).toHaveLength(RUNS + 1)
    expect(log.every(entry => entry.parents.length <= 1)).toBe(true)
    for (let i = 0; i < RUNS; i++) {
      expect(await gh.readFile('octo/gitops', 'main', `apps/svc-${i}.yaml`)).toBe(
        pod(i).replace(`ghcr.io/octo/svc-${i}:1.0.0`, `ghcr.io/octo/svc-${i}@${digest(i + 1)}`)
      )
    }
    // Every commit names the run that made it.
    const runIds = log.slice(0, RUNS).map(entry => /actions\/runs\/(\d+)/.exec(entry.body)?.[1])
    expect(new Set(runIds).size).toBe(RUNS)
    // The token was masked, and appears nowhere in what a reader of the log sees.
    for (const result of runs) {
      expect(result.secrets).toContain(token)
      expect(result.log).not.toContain(token)
      expect(result.stderr).not.toContain(token)
    }
    const retried = runs.filter(result => /moved while committing/.test(result.log)).length
    process.stderr.write(`concurrency: ${retried} of ${RUNS} runs retried at least once\n`)
  })

  it('lands concurrent runs through createCommitOnBranch too (commit-via: api), each commit verified', async () => {
    const files: Record<string, string> = {}
    for (let i = 0; i < 6; i++) files[`apps/svc-${i}.yaml`] = pod(i)
    await gh.createRepo('octo/gitops-api', { defaultBranch: 'main', files })
    const apiToken = gh.createToken({ repos: { 'octo/gitops-api': { contents: 'write' } }, kind: 'app' })
    const runs = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        bump(i, { repository: 'octo/gitops-api', token: apiToken, 'commit-via': 'api' })
      )
    )
    expect(runs.map(result => result.exitCode)).toEqual([0, 0, 0, 0, 0, 0])
    const log = await gh.log('octo/gitops-api', 'main')
    expect(log).toHaveLength(7)
    for (let i = 0; i < 6; i++) {
      expect(await gh.readFile('octo/gitops-api', 'main', `apps/svc-${i}.yaml`)).toContain(
        `@${digest(i + 1)}`
      )
    }
    expect(log.every(entry => entry.parents.length <= 1)).toBe(true)
    const octokit = getOctokit(apiToken, { baseUrl: gh.apiUrl })
    for (const entry of log.slice(0, 6)) {
      const { data } = await octokit.rest.repos.getCommit({
        owner: 'octo',
        repo: 'gitops-api',
        ref: entry.sha
      })
      expect([entry.sha, data.commit.verification?.verified]).toEqual([entry.sha, true])
    }
  })

  it('says nothing changed when the branch already holds the digest', async () => {
    const result = await bump(3)
    expect(result.exitCode).toBe(0)
    expect(result.outputs).toMatchObject({ changed: 'false', 'commit-sha': '' })
    expect(result.summary).toContain('Already pinned')
  })

  it('walks a large checkout on a worker thread while the main thread parses', async () => {
    const checkout = await mkdtemp(path.join(os.tmpdir(), 'large-checkout-'))
    try {
      for (let i = 0; i < 5000; i++) {
        const dir = path.join(checkout, 'apps', `team-${i % 40}`, `svc-${i}`)
        await mkdir(dir, { recursive: true })
        await writeFile(path.join(dir, 'pod.yaml'), pod(i % 100 === 0 ? 7 : 1000 + i))
      }
      const result = await runAction({
        actionDir: 'actions/bump-manifest',
        inputs: {
          image: 'ghcr.io/octo/svc-7',
          digest: digest(7),
          path: '.',
          paths: 'apps',
          push: 'none'
        },
        // The checkout is the workspace, as actions/checkout leaves it without `path`.
        workspace: checkout,
        context: { repository: 'octo/app' },
        timeoutMs: 120_000
      })
      results.push(result)
      expect(result.exitCode).toBe(0)
      expect(JSON.parse(result.outputs.changes!)).toHaveLength(50)
      const threads = os.availableParallelism() > 1 ? 2 : 1
      expect(result.stdout).toContain(
        `Searched 5000 file(s) under apps: 50 mentioned the image (${threads} thread(s))`
      )
      const pinned = await readFile(path.join(checkout, 'apps', 'team-0', 'svc-0', 'pod.yaml'), 'utf8')
      expect(pinned).toBe(pod(7).replace('ghcr.io/octo/svc-7:1.0.0', `ghcr.io/octo/svc-7@${digest(7)}`))
    } finally {
      await rm(checkout, { recursive: true, force: true })
    }
  })

  it('fails with an annotation for a bad path', async () => {
    const result = await bump(1, { paths: '../outside' })
    expect(result.exitCode).toBe(1)
    expect(result.annotations.find(a => a.level === 'error')?.message).toMatch(/outside/)
  })
})
