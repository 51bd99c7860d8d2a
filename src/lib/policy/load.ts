import { promises as fs } from 'node:fs'
import path from 'node:path'
import { ConfigurationError } from '../errors.js'
import { readRegularFile, resolveInside } from '../workspace-files.js'
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

/** Policy files are hand-written; a larger one is more likely a mistake (or not a policy) than a policy. */
export const POLICY_FILE_MAX_BYTES = 4 * 1024 * 1024

/**
 * Reads the policy file and VEX documents named by the inputs (each must exist), and `.trivyignore` /
 * `.trivyignore.yaml` from the workspace when they are there. Every file must resolve inside the workspace and be
 * a regular file (a symlink to ~/.git-credentials, a FIFO or a /proc file is refused, never read); every problem
 * names its file and line.
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
    const text = await readInside(options.workspace, file, `input 'policy'`)
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
    // Read only when the workspace has one; a dangling symlink is there, and refused below.
    const present = await fs.lstat(file).then(
      () => true,
      (error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return false
        throw new ConfigurationError(`${name} in the workspace cannot be read (${error.code ?? 'error'})`)
      }
    )
    if (!present) continue
    const text = await readInside(options.workspace, name, `${name} in the workspace`)
    const rules = parse(text, name)
    loaded.ignores.push(...rules)
    loaded.read.push(`${name}: ${plural(rules.length, 'vulnerability entry', 'vulnerability entries')}`)
  }
  for (const [index, file] of options.vexFiles.entries()) {
    const text = await readInside(options.workspace, file, `input 'vex'`)
    const statements = parseOpenVex(text, label(file), index + 1)
    loaded.vex.push(...statements)
    loaded.read.push(`${label(file)}: ${plural(statements.length, 'VEX statement', 'VEX statements')}`)
  }
  return loaded
}

/** A file inside the workspace, regular and at most POLICY_FILE_MAX_BYTES, as UTF-8 text. */
async function readInside(workspace: string, file: string, what: string): Promise<string> {
  const real = resolveInside(workspace, file, what)
  const bytes = await readRegularFile(real, what, POLICY_FILE_MAX_BYTES)
  return bytes.toString('utf8')
}

function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`
}
