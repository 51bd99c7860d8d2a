/**
 * The runner's workflow commands (`::warning file=…::…` on stdout) and file commands (GITHUB_OUTPUT,
 * GITHUB_STEP_SUMMARY), written byte for byte as @actions/core writes them (test/unit/workflow-commands.test.ts holds
 * the two side by side). Not @actions/core itself: loading it loads an HTTP client (undici, for OIDC tokens no action
 * here asks for), which took half of bump-manifest's start-up.
 */
import { randomUUID } from 'node:crypto'
import { constants, existsSync, appendFileSync, promises as fs } from 'node:fs'
import { EOL } from 'node:os'

/** Where an annotation points, as @actions/core's AnnotationProperties. */
export interface AnnotationProperties {
  title?: string
  file?: string
  startLine?: number
  endLine?: number
  startColumn?: number
  endColumn?: number
}

/** An input as the runner passes it (`INPUT_<NAME>`), trimmed; empty when unset. */
export function getInput(name: string): string {
  return (process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] || '').trim()
}

/** Sets a step output through the GITHUB_OUTPUT file (a heredoc with a random delimiter). */
export function setOutput(name: string, value: string): void {
  const file = process.env.GITHUB_OUTPUT || ''
  if (!file) {
    process.stdout.write(EOL)
    issue('set-output', { name }, value)
    return
  }
  const delimiter = `ghadelimiter_${randomUUID()}`
  const clash = name.includes(delimiter) ? 'name' : value.includes(delimiter) ? 'value' : undefined
  if (clash) throw new Error(`Unexpected input: ${clash} should not contain the delimiter "${delimiter}"`)
  if (!existsSync(file)) throw new Error(`Missing file at path: ${file}`)
  appendFileSync(file, `${name}<<${delimiter}${EOL}${value}${EOL}${delimiter}${EOL}`, { encoding: 'utf8' })
}

/** Masks `secret` in the rest of the job's log. */
export function setSecret(secret: string): void {
  issue('add-mask', {}, secret)
}

export function info(message: string): void {
  process.stdout.write(message + EOL)
}

export function debug(message: string): void {
  issue('debug', {}, message)
}

export function notice(message: string, properties: AnnotationProperties = {}): void {
  issue('notice', annotation(properties), message)
}

export function warning(message: string, properties: AnnotationProperties = {}): void {
  issue('warning', annotation(properties), message)
}

export function error(message: string, properties: AnnotationProperties = {}): void {
  issue('error', annotation(properties), message)
}

/** Fails the step: an error annotation and exit code 1. */
export function setFailed(message: string): void {
  process.exitCode = 1
  error(message)
}

/** Appends Markdown to the step's job summary. */
export async function appendSummary(markdown: string): Promise<void> {
  const file = process.env.GITHUB_STEP_SUMMARY
  if (!file) {
    throw new Error(
      'Unable to find environment variable for $GITHUB_STEP_SUMMARY. Check if your runtime environment supports job summaries.'
    )
  }
  try {
    await fs.access(file, constants.R_OK | constants.W_OK)
  } catch {
    throw new Error(
      `Unable to access summary file: '${file}'. Check if the file has correct read/write permissions.`
    )
  }
  await fs.appendFile(file, markdown, { encoding: 'utf8' })
}

/** The runner's names for an annotation's properties (none for an empty object, as core does). */
function annotation(properties: AnnotationProperties): Record<string, string | number | undefined> {
  if (Object.keys(properties).length === 0) return {}
  return {
    title: properties.title,
    file: properties.file,
    line: properties.startLine,
    endLine: properties.endLine,
    col: properties.startColumn,
    endColumn: properties.endColumn
  }
}

function issue(
  command: string,
  properties: Record<string, string | number | undefined>,
  message: string
): void {
  // As @actions/core: any properties at all put a space after the name; one with no value (or 0) is left out.
  const names = Object.keys(properties)
  const set = Object.entries(properties).filter(([, value]) => Boolean(value))
  const head = set.map(([key, value]) => `${key}=${escapeProperty(String(value))}`).join(',')
  process.stdout.write(`::${command}${names.length > 0 ? ` ${head}` : ''}::${escapeData(message)}${EOL}`)
}

function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A')
}

function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C')
}
