import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseDocument } from 'yaml'
import { REPO_ROOT, runAction, type ActionResult, type RunActionOptions } from '../support/action-runner.js'
import {
  filterWorkflowCommands,
  maskSecrets,
  parseCommandLine,
  parseKeyValueFile
} from '../support/workflow-commands.js'

const FIXTURE = 'test/support/fixtures/echo-action'
const TOKEN = 'ghs_fixturetoken0123456789'

const finished: ActionResult[] = []
const tempDirs: string[] = []

async function run(options: Partial<RunActionOptions> = {}): Promise<ActionResult> {
  const result = await runAction({ actionDir: FIXTURE, ...options })
  finished.push(result)
  return result
}

/** A copy of the fixture with action.yml edited, for manifest variants (node20, post-if, pre). */
async function fixtureVariant(edit: (runs: Map<string, string>) => void): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'echo-action-'))
  tempDirs.push(dir)
  await cp(join(REPO_ROOT, FIXTURE), dir, { recursive: true })
  const document = parseDocument(await readFile(join(dir, 'action.yml'), 'utf8'))
  const runs = new Map<string, string>()
  edit(runs)
  for (const [key, value] of runs) document.setIn(['runs', key], value)
  await writeFile(join(dir, 'action.yml'), document.toString())
  return dir
}

function envOf(result: ActionResult): Record<string, string> {
  return JSON.parse(result.outputs.env ?? '{}') as Record<string, string>
}

function stepOf(result: ActionResult, stage: 'pre' | 'main' | 'post') {
  return result.steps.find(step => step.stage === stage)
}

afterAll(async () => {
  await Promise.all(finished.map(result => result.cleanup()))
  await Promise.all(tempDirs.map(dir => rm(dir, { recursive: true, force: true })))
})

describe('runAction with the echo fixture', () => {
  let result: ActionResult
  const probe = 'ACTION_RUNNER_LEAK_PROBE'

  beforeAll(async () => {
    // Set only around the run: it must not reach the action.
    process.env[probe] = 'leaked'
    try {
      result = await run({
        inputs: { message: 'hi there', multiline: 'line one\nline two\n\nline four', 'no-default': '' },
        env: { EXTRA_VAR: 'from-caller' },
        context: { token: TOKEN, repository: 'acme/widgets', sha: 'a'.repeat(40) }
      })
    } finally {
      delete process.env[probe]
    }
  })

  it('runs main and post on Node 24, with the workspace as cwd', () => {
    expect(result.exitCode).toBe(0)
    expect(result.postExitCode).toBe(0)
    expect(result.outputs['node-version']).toMatch(/^v24\./)
    expect(result.outputs.cwd).toBe(result.dirs.workspace)
  })

  it('passes inputs and defaults as INPUT_ variables, names mangled as the runner does', () => {
    const env = envOf(result)
    expect(result.outputs.message).toBe('hi there')
    expect(env['INPUT_MY_INPUT-NAME']).toBe('mangled default')
    expect(result.outputs.mangled).toBe('mangled default')
    expect(result.outputs.token).toBe(TOKEN)
    expect(result.outputs.sha).toBe('a'.repeat(40))
    expect(result.outputs['repository-url']).toBe('https://github.com/acme/widgets')
    // Declared without a default: still set, to ''.
    expect(env['INPUT_NO-DEFAULT']).toBe('')
    expect(env).toHaveProperty('INPUT_SLEEP-MS', '0')
  })

  it('starts from a clean environment: runner variables, inputs and the caller env only', () => {
    const env = envOf(result)
    expect(env[probe]).toBeUndefined()
    expect(env.EXTRA_VAR).toBe('from-caller')
    expect(env.HOME).toBe(result.dirs.home)
    // npm's node_modules/.bin would put this project's Node 24 (and tools) on the action's PATH.
    expect(env.PATH).not.toMatch(/node_modules/)
    const unexpected = Object.keys(env).filter(
      key => !/^(GITHUB_|RUNNER_|INPUT_)/.test(key) && !['CI', 'HOME', 'PATH', 'EXTRA_VAR'].includes(key)
    )
    expect(unexpected).toEqual([])
    expect(env).toMatchObject({
      CI: 'true',
      GITHUB_ACTIONS: 'true',
      GITHUB_REPOSITORY: 'acme/widgets',
      GITHUB_REPOSITORY_OWNER: 'acme',
      GITHUB_REF: 'refs/heads/main',
      GITHUB_REF_NAME: 'main',
      GITHUB_EVENT_NAME: 'push',
      GITHUB_API_URL: 'https://api.github.com',
      GITHUB_GRAPHQL_URL: 'https://api.github.com/graphql',
      GITHUB_WORKSPACE: result.dirs.workspace,
      RUNNER_TEMP: result.dirs.runnerTemp,
      RUNNER_OS: 'Linux',
      RUNNER_ARCH: 'X64'
    })
    // The token only reaches the action through the input default, as on GitHub.
    expect(Object.entries(env).filter(([, value]) => value === TOKEN)).toEqual([['INPUT_TOKEN', TOKEN]])
  })

  it('writes an event payload the toolkit can read', async () => {
    const event = JSON.parse(await readFile(envOf(result).GITHUB_EVENT_PATH ?? '', 'utf8')) as Record<
      string,
      unknown
    >
    expect(event).toMatchObject({ after: 'a'.repeat(40), repository: { full_name: 'acme/widgets' } })
  })

  it('reads multi-line outputs written through a heredoc delimiter, and name=value lines', () => {
    expect(result.outputs.multiline).toBe('line one\nline two\n\nline four')
    expect(result.outputs.plain).toBe('a=b')
  })

  it('parses annotations with their properties unescaped, from stdout and stderr', () => {
    expect(result.annotations).toEqual([
      {
        level: 'warning',
        message: '50% done\nsecond line',
        properties: { file: 'src/a,b.ts', line: '3', title: 'Title: with, punctuation' },
        stage: 'main'
      },
      { level: 'notice', message: 'from stderr', properties: {}, stage: 'main' }
    ])
    expect(result.debug).toEqual(['a debug line'])
    expect(result.deprecatedCommands).toEqual([])
  })

  it('filters workflow commands out of the log', () => {
    expect(result.log).toContain('inside the group')
    expect(result.log).not.toMatch(/^::/m)
    expect(result.stdout).toMatch(/^::warning file=src\/a%2Cb\.ts,/m)
  })

  it('hands state to post as STATE_ variables, with exported env and path', () => {
    expect(result.state).toEqual({ message: 'hi there', multiline: 'first\nsecond' })
    const post = stepOf(result, 'post')
    expect(JSON.parse(post?.outputs.state ?? '{}')).toEqual({
      STATE_message: 'hi there',
      STATE_multiline: 'first\nsecond'
    })
    expect(post?.outputs['from-main']).toBe('exported')
    expect(post?.outputs['path-head']).toBe('/opt/echo-action/bin')
    expect(post?.outputs['message-input']).toBe('hi there')
    expect(result.env).toEqual({ FROM_MAIN: 'exported' })
    expect(result.path).toEqual(['/opt/echo-action/bin'])
  })

  it('gives each step its own output file and concatenates the step summaries', () => {
    expect(result.outputs.state).toBeUndefined()
    expect(result.summary).toBe('### main\n\nmessage: hi there\n### post\n\nstate message: hi there\n')
  })
})

describe('runAction failures and runner rules', () => {
  it('masks values registered with ::add-mask:: from then on, in every later step', async () => {
    const result = await run({ inputs: { secret: 'hunter2-secret' } })
    expect(result.secrets).toEqual(['hunter2-secret'])
    expect(result.log).toContain('before mask: hunter2-secret')
    expect(result.log).toContain('after mask: ***')
    expect(result.log).toContain('post sees: ***')
    expect(result.stdout).toContain('after mask: hunter2-secret')
  })

  it('reports the exit code of a failing action, and runs post because post-if defaults to always()', async () => {
    const result = await run({ inputs: { 'exit-code': '3' } })
    expect(result.exitCode).toBe(3)
    expect(result.annotations).toContainEqual({
      level: 'error',
      message: 'failing with exit code 3',
      properties: {},
      stage: 'main'
    })
    expect(result.postExitCode).toBe(0)
  })

  it('skips post after a failure when post-if is success(), and runs it after a success', async () => {
    const actionDir = await fixtureVariant(runs => runs.set('post-if', 'success()'))
    const failed = await run({ actionDir, inputs: { 'exit-code': '1' } })
    expect(failed.exitCode).toBe(1)
    expect(failed.postExitCode).toBeUndefined()
    expect(failed.steps.map(step => step.stage)).toEqual(['main'])

    const passed = await run({ actionDir })
    expect(passed.steps.map(step => step.stage)).toEqual(['main', 'post'])
  })

  it('reports a failing post step', async () => {
    const result = await run({ inputs: { 'post-exit-code': '4' } })
    expect(result.exitCode).toBe(0)
    expect(result.postExitCode).toBe(4)
  })

  it('runs pre first and skips main when pre fails', async () => {
    const actionDir = await fixtureVariant(runs => runs.set('pre', 'pre.mjs'))
    await writeFile(
      join(actionDir, 'pre.mjs'),
      "import { appendFileSync } from 'node:fs'\n" +
        "appendFileSync(process.env.GITHUB_STATE, 'from-pre=1\\n')\n" +
        "process.exitCode = process.env.INPUT_MESSAGE === 'fail-pre' ? 2 : 0\n"
    )
    const passed = await run({ actionDir })
    expect(passed.steps.map(step => step.stage)).toEqual(['pre', 'main', 'post'])
    expect(JSON.parse(stepOf(passed, 'post')?.outputs.state ?? '{}')).toMatchObject({ 'STATE_from-pre': '1' })

    const failed = await run({ actionDir, inputs: { message: 'fail-pre' } })
    expect(failed.steps.map(step => step.stage)).toEqual(['pre', 'post'])
    expect(failed.exitCode).toBe(2)
  })

  it('drops a step summary over 1 MiB with an error annotation, as the runner does', async () => {
    const actionDir = await fixtureVariant(runs => runs.set('main', 'big-summary.mjs'))
    await writeFile(
      join(actionDir, 'big-summary.mjs'),
      "import { appendFileSync } from 'node:fs'\n" +
        "appendFileSync(process.env.GITHUB_STEP_SUMMARY, 'x'.repeat(1024 * 1024 + 1))\n"
    )
    const result = await run({ actionDir })
    expect(stepOf(result, 'main')?.summary).toBe('')
    expect(result.annotations).toContainEqual(
      expect.objectContaining({
        level: 'error',
        message: expect.stringMatching(/^\$GITHUB_STEP_SUMMARY upload aborted/)
      })
    )
  })

  it('collects deprecated ::set-output and ::save-state commands without applying them', async () => {
    const result = await run({ inputs: { 'legacy-commands': 'true' } })
    expect(result.deprecatedCommands).toEqual([
      { name: 'set-output', properties: { name: 'legacy' }, data: 'value' },
      { name: 'save-state', properties: { name: 'legacy' }, data: 'value' }
    ])
    expect(result.outputs.legacy).toBeUndefined()
    expect(result.state.legacy).toBeUndefined()
  })

  it('rejects an input the action does not declare', async () => {
    await expect(run({ inputs: { mesage: 'typo' } })).rejects.toThrow(/Unexpected input\(s\) 'mesage'/)
  })

  it('refuses to override runner-set variables through env', async () => {
    await expect(run({ env: { GITHUB_SHA: 'x' } })).rejects.toThrow(/env\.GITHUB_SHA is set by the runner/)
    await expect(run({ env: { INPUT_MESSAGE: 'x' } })).rejects.toThrow(/env\.INPUT_MESSAGE/)
  })

  it('rejects an action that is not node24', async () => {
    const actionDir = await fixtureVariant(runs => runs.set('using', 'node20'))
    await expect(run({ actionDir })).rejects.toThrow(/runs\.using is 'node20'; only node24 is supported/)
  })

  it('evaluates defaults with the runner expression language, the event payload included', async () => {
    const actionDir = await fixtureVariant(() => undefined)
    const manifest = join(actionDir, 'action.yml')
    const text = await readFile(manifest, 'utf8')
    await writeFile(
      manifest,
      text.replace(
        'default: hello',
        "default: ${{ format('{0}-{1}', github.event.pull_request.number, github.event_name == 'pull_request') }}"
      )
    )
    const result = await run({
      actionDir,
      context: { eventName: 'pull_request', event: { pull_request: { number: 42 } } }
    })
    expect(result.outputs.message).toBe('42-true')
  })

  it('rejects a default with an expression the runner would refuse', async () => {
    const actionDir = await fixtureVariant(() => undefined)
    const manifest = join(actionDir, 'action.yml')
    const text = await readFile(manifest, 'utf8')
    await writeFile(manifest, text.replace('default: hello', 'default: ${{ matrix.version }}'))
    await expect(run({ actionDir })).rejects.toThrow(/cannot evaluate '\$\{\{ matrix\.version \}\}'/)
  })

  it('kills an action that outlives the timeout and fails clearly', async () => {
    const started = Date.now()
    await expect(run({ inputs: { 'sleep-ms': '30000' }, timeoutMs: 1000 })).rejects.toThrow(
      /main step .* did not finish before the timeout; killed/
    )
    expect(Date.now() - started).toBeLessThan(10_000)
  })
})

describe('workflow command parsing', () => {
  it.each([
    ['::error::plain', { name: 'error', properties: {}, data: 'plain' }],
    ['  ::WARNING  title=T::m', { name: 'warning', properties: { title: 'T' }, data: 'm' }],
    [
      '::notice file=a%3Ab%2Cc,line=1,bad,=x,y=::100%25%0D%0A',
      {
        name: 'notice',
        properties: { file: 'a:b,c', line: '1' },
        data: '100%\r\n'
      }
    ],
    ['::add-mask::%250A', { name: 'add-mask', properties: {}, data: '%0A' }],
    ['::unknown::x', undefined],
    ['no command', undefined],
    ['::error missing end', undefined]
  ])('parses %j', (line, expected) => {
    expect(parseCommandLine(line)).toEqual(expected)
  })

  it('filters commands but keeps lines inside stop-commands', () => {
    const text = [
      'a',
      '::debug::x',
      '::stop-commands::tok',
      '::error::shown',
      '::tok::',
      '::error::hidden',
      'b'
    ].join('\n')
    expect(filterWorkflowCommands(text)).toBe('a\n::error::shown\nb')
  })

  it('masks longer secrets first', () => {
    expect(maskSecrets('abc abcdef', ['abc', 'abcdef'])).toBe('*** ***')
  })
})

describe('file command parsing', () => {
  it.each([
    ['a=1\nb=x=y\n', { a: '1', b: 'x=y' }],
    ['a=1\r\n', { a: '1\r' }],
    ['m<<EOF\none\n\ntwo\nEOF\n', { m: 'one\n\ntwo' }],
    ['m<<EOF\nEOF\n', { m: '' }],
    ['a=b<<c\n', { a: 'b<<c' }],
    ['\n\nx=1', { x: '1' }],
    ['a=1\na=2\n', { a: '2' }]
  ])('parses %j', (content, expected) => {
    expect(parseKeyValueFile(content, 'test')).toEqual(expected)
  })

  it.each([
    ['m<<EOF\nvalue\n', /matching delimiter 'EOF' not found/],
    ['just text\n', /expected name=value or name<<DELIMITER/],
    ['=value\n', /name must not be empty/],
    ['<<EOF\nEOF\n', /must not be empty/]
  ])('rejects %j', (content, error) => {
    expect(() => parseKeyValueFile(content, 'test')).toThrow(error)
  })
})
