// Keeps the README's per-action input/output tables equal to the action.yml files.
// `node scripts/readme-tables.mjs` rewrites them; a unit test fails while they differ.
import { readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs'
import path from 'node:path'
import { parse } from 'yaml'

const escape = text =>
  String(text ?? '')
    .replace(/\|/g, '\\|')
    .replace(/\s*\n\s*/g, ' ')
    .trim()

/** The Markdown tables for one action.yml's inputs and outputs. */
export function renderTables(actionYaml) {
  const action = parse(actionYaml)
  const inputs = Object.entries(action.inputs ?? {}).map(
    ([name, spec]) =>
      `| \`${name}\` | ${spec.required ? 'yes' : 'no'} | ${spec.default === undefined ? '' : `\`${escape(spec.default)}\``} | ${escape(spec.description)} |`
  )
  const outputs = Object.entries(action.outputs ?? {}).map(
    ([name, spec]) => `| \`${name}\` | ${escape(spec.description)} |`
  )
  return [
    '| Input | Required | Default | Description |',
    '| --- | --- | --- | --- |',
    ...inputs,
    '',
    '| Output | Description |',
    '| --- | --- |',
    ...outputs
  ].join('\n')
}

/**
 * The README with every `<!-- action-tables:NAME -->` block regenerated from actions/NAME/action.yml
 * (`root`: the root action.yml, which chains them).
 */
export function updateReadme(readme, root) {
  return readme.replace(
    /(<!-- action-tables:([a-z0-9-]+) -->)[\s\S]*?(<!-- \/action-tables -->)/g,
    (_, open, name, close) =>
      `${open}\n${renderTables(readFileSync(actionFile(root, name), 'utf8'))}\n${close}`
  )
}

function actionFile(root, name) {
  return name === 'root' ? path.join(root, 'action.yml') : path.join(root, 'actions', name, 'action.yml')
}

/** Names of the actions under actions/. */
export function actionNames(root) {
  return readdirSync(path.join(root, 'actions')).filter(name =>
    existsSync(path.join(root, 'actions', name, 'action.yml'))
  )
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = path.dirname(path.dirname(new URL(import.meta.url).pathname))
  const file = path.join(root, 'README.md')
  writeFileSync(file, updateReadme(readFileSync(file, 'utf8'), root))
}
