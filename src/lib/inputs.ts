import * as core from '@actions/core'
import { ConfigurationError } from './errors.js'

/** Where input values come from: the runner's INPUT_* variables in production, a map in tests. */
export interface InputSource {
  get(name: string): string
}

/** The runner's inputs (trimmed; empty when unset). */
export const runnerInputs: InputSource = { get: name => core.getInput(name) }

/** An input source over a plain map, for tests and for chaining actions in-process. */
export function mapInputs(values: Record<string, string>): InputSource {
  return { get: name => (values[name] ?? '').trim() }
}

/** Typed, validated reads of one action's inputs; every error names the input and says how to fix it. */
export class InputReader<Name extends string> {
  constructor(private readonly source: InputSource) {}

  /** A value that must be present. */
  required(name: Name): string {
    const value = this.source.get(name)
    if (value === '') throw new ConfigurationError(`input '${name}' is required and was empty`)
    return value
  }

  /** A value, or `fallback` when empty. */
  optional(name: Name, fallback = ''): string {
    const value = this.source.get(name)
    return value === '' ? fallback : value
  }

  /** `true` / `false` in the YAML 1.2 core spellings, as the runner accepts them. */
  boolean(name: Name, fallback: boolean): boolean {
    const value = this.source.get(name)
    if (value === '') return fallback
    if (['true', 'True', 'TRUE'].includes(value)) return true
    if (['false', 'False', 'FALSE'].includes(value)) return false
    throw new ConfigurationError(`input '${name}' must be 'true' or 'false', got '${value}'`)
  }

  /** One of a fixed set of words. */
  oneOf<Choice extends string>(name: Name, choices: readonly Choice[], fallback: Choice): Choice {
    const value = this.source.get(name)
    if (value === '') return fallback
    if ((choices as readonly string[]).includes(value)) return value as Choice
    throw new ConfigurationError(`input '${name}' must be one of ${choices.join(', ')}; got '${value}'`)
  }

  /** Non-empty lines, trimmed; lines starting with '#' are comments. */
  lines(name: Name): string[] {
    return splitLines(this.source.get(name))
  }

  /** Values separated by newlines or commas (as `platforms` and `tags` are written). */
  list(name: Name): string[] {
    return splitLines(this.source.get(name)).flatMap(line =>
      line
        .split(',')
        .map(part => part.trim())
        .filter(part => part !== '')
    )
  }

  /** `KEY=VALUE` lines into an ordered map; the value may contain '=' and is kept as written. */
  keyValues(name: Name): Map<string, string> {
    const result = new Map<string, string>()
    for (const line of splitLines(this.source.get(name))) {
      const eq = line.indexOf('=')
      if (eq <= 0) {
        throw new ConfigurationError(`input '${name}': line '${line}' must look like KEY=VALUE`)
      }
      result.set(line.slice(0, eq).trim(), line.slice(eq + 1))
    }
    return result
  }

  /** A whole number within bounds. */
  integer(name: Name, fallback: number, min: number, max: number): number {
    const value = this.source.get(name)
    if (value === '') return fallback
    const parsed = Number(value)
    if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
      throw new ConfigurationError(
        `input '${name}' must be a whole number from ${min} to ${max}; got '${value}'`
      )
    }
    return parsed
  }

  /** A secret value: registered with the runner so it is masked in every later log line. */
  secret(name: Name): string {
    const value = this.source.get(name)
    if (value !== '') core.setSecret(value)
    return value
  }
}

function splitLines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map(line => line.trim())
    .filter(line => line !== '' && !line.startsWith('#'))
}
