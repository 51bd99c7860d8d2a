/**
 * Runs a composite action the way the runner does: inputs defaulted, each step's `if:` and `with:` / `env:`
 * evaluated with the runner's expression language, `uses: $/path` resolved to this repository (the ref the
 * caller pinned: here, the checkout), JavaScript steps run through the runner-faithful `runAction`, `run:` steps
 * through their shell with a fresh GITHUB_OUTPUT, step outputs and outcomes fed to the steps after them, and the
 * action's outputs evaluated at the end. A failed step fails the action and skips the steps without a status
 * function in their condition.
 *
 * Actions from other repositories (`owner/repo@sha`) cannot be fetched here: such a step is evaluated (its `if:`
 * and `with:`) and recorded as `remote`, never run.
 */
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import {
  REPO_ROOT,
  expressionValues,
  nestContexts,
  runAction,
  runnerVariables,
  withContextDefaults,
  type ActionResult,
  type Annotation,
  type RunnerContext
} from './action-runner.js'
import { evaluateCondition, evaluateTemplate, type Contexts } from './expressions.js'
import { parseKeyValueFile, WorkflowCommandReader } from './workflow-commands.js'

export interface RunCompositeOptions {
  /** Folder holding the composite action.yml, relative to the repository root ('' or '.' for the root). */
  actionDir: string
  inputs?: Record<string, string>
  /** The step's `env:`; reaches every step of the composite, as on the runner. */
  env?: Record<string, string>
  /** Shared by every step; default a fresh temp dir. */
  workspace?: string
  context?: Partial<RunnerContext>
  /** Per JavaScript step. */
  timeoutMs?: number
}

export type StepOutcome = 'success' | 'failure' | 'skipped' | 'remote'

export interface CompositeStep {
  id: string
  uses?: string
  outcome: StepOutcome
  /** The evaluated `with:` (for `uses:` steps, remote ones included). */
  with: Record<string, string>
  outputs: Record<string, string>
  /** The JavaScript action's run, for `uses: $/…` steps that ran. */
  action?: ActionResult
  /** stdout + stderr of a `run:` step. */
  log?: string
}

export interface CompositeResult {
  exitCode: number
  outputs: Record<string, string>
  steps: CompositeStep[]
  annotations: Annotation[]
  summary: string
  /** Every step's raw output, unmasked, so a test can assert a secret never appears. */
  stdout: string
  stderr: string
  workspace: string
  cleanup(): Promise<void>
}

interface CompositeManifest {
  file: string
  inputs: Map<string, string>
  outputs: Map<string, string>
  steps: Array<Record<string, unknown>>
}

export async function runComposite(options: RunCompositeOptions): Promise<CompositeResult> {
  const actionDir = resolve(REPO_ROOT, options.actionDir)
  const manifest = await readCompositeManifest(actionDir)
  const context = withContextDefaults(options.context ?? {})
  const root = await mkdtemp(join(tmpdir(), 'composite-runner-'))
  const workspace = options.workspace ?? join(root, 'workspace')
  const runnerTemp = join(root, 'temp')
  await Promise.all([mkdir(workspace, { recursive: true }), mkdir(runnerTemp, { recursive: true })])
  const cleanup = async (): Promise<void> => {
    await Promise.all(ran.map(step => step.action?.cleanup()))
    await rm(root, { recursive: true, force: true })
  }

  const builtins = runnerVariables(context, {
    workspace,
    runnerTemp,
    toolCache: join(root, 'tool-cache'),
    actionDir,
    eventPath: join(runnerTemp, 'event.json')
  })
  const base = nestContexts(expressionValues(context, builtins))
  base.github = { ...(base.github as object), event: context.event ?? {} }
  const inputs = resolveCompositeInputs(manifest, options.inputs ?? {}, base)
  const stepContexts: Record<
    string,
    { outputs: Record<string, string>; outcome: string; conclusion: string }
  > = {}
  const ran: CompositeStep[] = []
  const annotations: Annotation[] = []
  let summary = ''
  let stdout = ''
  let stderr = ''
  let succeeded = true

  for (const [index, step] of manifest.steps.entries()) {
    const id = typeof step.id === 'string' ? step.id : `__step${index}`
    const where = `${manifest.file}: runs.steps[${index}]${typeof step.id === 'string' ? ` (${id})` : ''}`
    const contexts: Contexts = { ...base, inputs, steps: stepContexts, env: options.env ?? {} }
    const condition = typeof step.if === 'string' ? step.if : ''
    const record: CompositeStep = { id, outcome: 'skipped', with: {}, outputs: {} }
    if (typeof step.uses === 'string') record.uses = step.uses
    ran.push(record)
    if (!evaluateCondition(condition, contexts, { succeeded }, `${where}.if`)) {
      stepContexts[id] = { outputs: {}, outcome: 'skipped', conclusion: 'skipped' }
      continue
    }
    const stepEnv = evaluateMap(step.env, contexts, `${where}.env`)

    if (typeof step.uses === 'string') {
      record.with = evaluateMap(step.with, contexts, `${where}.with`)
      if (!step.uses.startsWith('$/')) {
        if (!/^[^./][^@\s]*@[0-9a-f]{40}$/.test(step.uses))
          throw new Error(
            `${where}: uses '${step.uses}' is neither '$/path' nor an action pinned by full SHA`
          )
        record.outcome = 'remote'
        stepContexts[id] = { outputs: {}, outcome: 'success', conclusion: 'success' }
        continue
      }
      const action = await runAction({
        actionDir: resolve(REPO_ROOT, step.uses.slice(2)),
        inputs: record.with,
        env: { ...options.env, ...stepEnv },
        workspace,
        context: options.context,
        timeoutMs: options.timeoutMs
      })
      record.action = action
      record.outputs = action.outputs
      record.outcome = action.exitCode === 0 ? 'success' : 'failure'
      annotations.push(...action.annotations)
      summary += action.summary
      stdout += action.stdout
      stderr += action.stderr
    } else if (typeof step.run === 'string') {
      const script = evaluateTemplate(step.run, contexts, `${where}.run`)
      const shell = typeof step.shell === 'string' ? step.shell : ''
      if (shell !== 'bash')
        throw new Error(`${where}: composite run steps need 'shell:'; the harness runs bash`)
      const outputFile = join(runnerTemp, `output-${index}`)
      await writeFile(outputFile, '')
      const run = await runBash(script, {
        ...process.env,
        ...options.env,
        ...builtins,
        ...stepEnv,
        GITHUB_OUTPUT: outputFile
      })
      record.log = run.stdout + run.stderr
      record.outputs = parseKeyValueFile(await readFile(outputFile, 'utf8'), `${where}: GITHUB_OUTPUT`)
      record.outcome = run.exitCode === 0 ? 'success' : 'failure'
      annotations.push(...readAnnotations(run.stdout))
      stdout += run.stdout
      stderr += run.stderr
    } else {
      throw new Error(`${where}: neither uses: nor run:`)
    }
    stepContexts[id] = { outputs: record.outputs, outcome: record.outcome, conclusion: record.outcome }
    if (record.outcome === 'failure') succeeded = false
  }

  const contexts: Contexts = { ...base, inputs, steps: stepContexts }
  const outputs: Record<string, string> = {}
  for (const [name, value] of manifest.outputs)
    outputs[name] = evaluateTemplate(value, contexts, `${manifest.file}: outputs.${name}.value`)
  return {
    exitCode: succeeded ? 0 : 1,
    outputs,
    steps: ran,
    annotations,
    summary,
    stdout,
    stderr,
    workspace,
    cleanup
  }
}

async function readCompositeManifest(actionDir: string): Promise<CompositeManifest> {
  const file = join(actionDir, 'action.yml')
  const manifest = parseYaml(await readFile(file, 'utf8'), { schema: 'failsafe' }) as Record<string, unknown>
  const runs = manifest.runs as Record<string, unknown> | undefined
  if (runs?.using !== 'composite' || !Array.isArray(runs.steps))
    throw new Error(`${file}: not a composite action`)
  const named = (section: unknown, field: string): Map<string, string> =>
    new Map(
      Object.entries((section ?? {}) as Record<string, Record<string, unknown>>).map(([name, spec]) => [
        name,
        typeof spec[field] === 'string' ? spec[field] : ''
      ])
    )
  return {
    file,
    inputs: named(manifest.inputs, 'default'),
    outputs: named(manifest.outputs, 'value'),
    steps: runs.steps as Array<Record<string, unknown>>
  }
}

function resolveCompositeInputs(
  manifest: CompositeManifest,
  passed: Record<string, string>,
  contexts: Contexts
): Record<string, string> {
  const unexpected = Object.keys(passed).filter(name => !manifest.inputs.has(name))
  if (unexpected.length > 0)
    throw new Error(`${manifest.file}: Unexpected input(s) '${unexpected.join("', '")}'`)
  const values: Record<string, string> = {}
  for (const [name, fallback] of manifest.inputs)
    values[name] =
      passed[name] ?? evaluateTemplate(fallback, contexts, `${manifest.file}: inputs.${name}.default`)
  return values
}

function evaluateMap(section: unknown, contexts: Contexts, where: string): Record<string, string> {
  const values: Record<string, string> = {}
  for (const [key, value] of Object.entries((section ?? {}) as Record<string, unknown>))
    values[key] = evaluateTemplate(String(value), contexts, `${where}.${key}`)
  return values
}

function runBash(
  script: string,
  env: NodeJS.ProcessEnv
): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    // As the runner runs `shell: bash`: bash --noprofile --norc -eo pipefail {0}.
    const child = spawn('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], {
      env,
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('error', reject)
    child.on('close', code => resolvePromise({ exitCode: code ?? 1, stdout, stderr }))
  })
}

function readAnnotations(stdout: string): Annotation[] {
  const reader = new WorkflowCommandReader()
  const found: Annotation[] = []
  for (const line of stdout.split('\n')) {
    const command = reader.read(line)
    if (command && (command.name === 'error' || command.name === 'warning' || command.name === 'notice'))
      found.push({
        level: command.name,
        message: command.data,
        properties: command.properties,
        stage: 'main'
      })
  }
  return found
}
