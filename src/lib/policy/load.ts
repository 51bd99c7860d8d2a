import { promises as fs } from 'node:fs'
import path from 'node:path'
import { ConfigurationError } from '../errors.js'
import { parsePolicyFile, type PolicyFile } from './policy-file.js'
import type { IgnoreRule } from './rules.js'
import { parseTrivyignore, parseTrivyignoreYaml } from './trivyignore.js'
import { parseOpenVex, type VexStatement } from './vex.js'

/** The policy's parts as read from files, with a line per file saying what it contributed. */
export interface LoadedPolicy {
  file?: PolicyFile
  ignores: IgnoreRule[]
  vex: VexStatement[]
  /** `policy.yml: 2 ignores`, `.trivyignore: 3 entries`, … for the summary. */
  read: string[]
}

/**
 * Reads the policy file and VEX documents named by the inputs (each must exist), and `.trivyignore` /
 * `.trivyignore.yaml` from the workspace when they are there. Every problem names its file and line.
 */
export async function loadPolicy(options: {
  workspace: string
  policyFile?: string
  vexFiles: string[]
}): Promise<LoadedPolicy> {
  const label = (file: string): string => path.relative(options.workspace, file) || file
  const loaded: LoadedPolicy = { ignores: [], vex: [], read: [] }
  if (options.policyFile) {
    const file = options.policyFile
    const text = await readRequired(file, `input 'policy': the policy file ${label(file)}`)
    loaded.file = parsePolicyFile(text, label(file))
    loaded.ignores.push(...loaded.file.ignores)
    loaded.read.push(
      `${label(file)}: ${plural(loaded.file.ignores.length, 'ignore entry', 'ignore entries')}`
    )
  }
  for (const [name, parse] of [
    ['.trivyignore', parseTrivyignore],
    ['.trivyignore.yaml', parseTrivyignoreYaml]
  ] as const) {
    const file = path.join(options.workspace, name)
    const text = await fs.readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined
      throw new ConfigurationError(`${name} in the workspace cannot be read: ${error.message}`)
    })
    if (text === undefined) continue
    const rules = parse(text, name)
    loaded.ignores.push(...rules)
    loaded.read.push(`${name}: ${plural(rules.length, 'vulnerability entry', 'vulnerability entries')}`)
  }
  for (const [index, file] of options.vexFiles.entries()) {
    const text = await readRequired(file, `input 'vex': ${label(file)}`)
    const statements = parseOpenVex(text, label(file), index + 1)
    loaded.vex.push(...statements)
    loaded.read.push(`${label(file)}: ${plural(statements.length, 'VEX statement', 'VEX statements')}`)
  }
  return loaded
}

async function readRequired(file: string, what: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new ConfigurationError(
      code === 'ENOENT' ? `${what} does not exist` : `${what} cannot be read: ${(error as Error).message}`
    )
  }
}

function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`
}
