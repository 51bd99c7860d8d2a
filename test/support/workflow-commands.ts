/**
 * The two channels an action talks back to the runner through, parsed the way actions/runner parses them:
 * `::name key=value,…::data` workflow commands on stdout/stderr, and the GITHUB_OUTPUT / GITHUB_STATE /
 * GITHUB_ENV / GITHUB_PATH file commands.
 */

export type AnnotationLevel = 'error' | 'warning' | 'notice'

export interface WorkflowCommand {
  /** Lower-cased command name (`error`, `add-mask`, …); the runner matches names case-insensitively. */
  name: string
  properties: Record<string, string>
  data: string
}

/** Commands GitHub has disabled or deprecated in favour of file commands: a test should see them, not rely on them. */
export const DEPRECATED_COMMANDS: ReadonlySet<string> = new Set([
  'set-output',
  'save-state',
  'set-env',
  'add-path'
])

const COMMAND_NAMES: ReadonlySet<string> = new Set([
  'error',
  'warning',
  'notice',
  'debug',
  'add-mask',
  'group',
  'endgroup',
  'echo',
  'add-matcher',
  'remove-matcher',
  'stop-commands',
  ...DEPRECATED_COMMANDS
])

const DATA_ESCAPES: Record<string, string> = { '%25': '%', '%0D': '\r', '%0A': '\n' }
const PROPERTY_ESCAPES: Record<string, string> = { ...DATA_ESCAPES, '%3A': ':', '%2C': ',' }

/** Undoes @actions/core's escapeData (`%25`, `%0D`, `%0A`). */
export function unescapeData(value: string): string {
  return value.replace(/%(?:25|0D|0A)/g, escape => DATA_ESCAPES[escape] ?? escape)
}

/** Undoes @actions/core's escapeProperty (escapeData plus `%3A`, `%2C`). */
export function unescapeProperty(value: string): string {
  return value.replace(/%(?:25|0D|0A|3A|2C)/g, escape => PROPERTY_ESCAPES[escape] ?? escape)
}

/** Parses one output line as a `::` command; undefined when the runner would print it as plain output. */
export function parseCommandLine(
  line: string,
  names: ReadonlySet<string> = COMMAND_NAMES
): WorkflowCommand | undefined {
  const text = line.trimStart()
  if (!text.startsWith('::')) return undefined
  const end = text.indexOf('::', 2)
  if (end < 0) return undefined
  const info = text.slice(2, end)
  const space = info.indexOf(' ')
  const name = (space < 0 ? info : info.slice(0, space)).toLowerCase()
  if (!names.has(name)) return undefined

  const properties: Record<string, string> = {}
  if (space > 0) {
    for (const pair of info
      .slice(space + 1)
      .trim()
      .split(',')) {
      const equals = pair.indexOf('=')
      // The runner drops pairs with an empty key or value.
      if (equals > 0 && equals < pair.length - 1) {
        properties[pair.slice(0, equals)] = unescapeProperty(pair.slice(equals + 1))
      }
    }
  }
  return { name, properties, data: unescapeData(text.slice(end + 2)) }
}

/**
 * Reads output lines in order, honouring `::stop-commands::TOKEN` … `::TOKEN::` (lines in between are plain
 * output). Both the stop and the resume line come back as a `stop-commands` command.
 */
export class WorkflowCommandReader {
  private stopToken: string | undefined

  read(line: string): WorkflowCommand | undefined {
    if (this.stopToken === undefined) {
      const command = parseCommandLine(line)
      if (command?.name === 'stop-commands') this.stopToken = command.data.toLowerCase()
      return command
    }
    // An empty token can never be matched, so commands stay off for the rest of the output (as on the runner).
    if (this.stopToken === '') return undefined
    const resume = parseCommandLine(line, new Set([this.stopToken]))
    if (resume === undefined) return undefined
    this.stopToken = undefined
    return { name: 'stop-commands', properties: {}, data: '' }
  }
}

/** Removes `::` workflow command lines, leaving what a person reads in the job log. */
export function filterWorkflowCommands(text: string): string {
  const reader = new WorkflowCommandReader()
  return text
    .split('\n')
    .filter(line => reader.read(line.replace(/\r$/, '')) === undefined)
    .join('\n')
}

/** Replaces each registered secret with `***`, one line at a time as the runner's masker sees the log. */
export function maskSecrets(line: string, secrets: readonly string[]): string {
  const longestFirst = [...secrets].sort((a, b) => b.length - a.length)
  return longestFirst.reduce((masked, secret) => masked.replaceAll(secret, '***'), line)
}

/**
 * Parses GITHUB_OUTPUT / GITHUB_STATE / GITHUB_ENV content: `name=value` lines and `name<<DELIMITER` … `DELIMITER`
 * blocks, as @actions/core writes them. Throws on content the runner would reject.
 */
export function parseKeyValueFile(content: string, label: string): Record<string, string> {
  // The runner on Linux splits on LF only; a final newline does not start another line.
  const lines = content.split('\n')
  if (lines.at(-1) === '') lines.pop()

  const values: Record<string, string> = {}
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index] ?? ''
    if (line === '') continue
    const equals = line.indexOf('=')
    const heredoc = line.indexOf('<<')
    if (equals >= 0 && (heredoc < 0 || equals < heredoc)) {
      const name = line.slice(0, equals)
      if (name === '') throw new Error(`${label}: invalid line '${line}': the name must not be empty`)
      values[name] = line.slice(equals + 1)
    } else if (heredoc >= 0) {
      const name = line.slice(0, heredoc)
      const delimiter = line.slice(heredoc + 2)
      if (name === '' || delimiter === '') {
        throw new Error(`${label}: invalid line '${line}': the name and the delimiter must not be empty`)
      }
      const body: string[] = []
      for (index++; lines[index] !== delimiter; index++) {
        if (index >= lines.length) {
          throw new Error(`${label}: matching delimiter '${delimiter}' not found for '${name}'`)
        }
        body.push(lines[index] ?? '')
      }
      values[name] = body.join('\n')
    } else {
      throw new Error(`${label}: invalid line '${line}': expected name=value or name<<DELIMITER`)
    }
  }
  return values
}

/** Parses GITHUB_PATH content: one directory a line, blank lines ignored. */
export function parsePathFile(content: string): string[] {
  return content.split(/\r?\n/).filter(line => line !== '')
}
