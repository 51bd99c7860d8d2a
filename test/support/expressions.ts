/**
 * `${{ }}` as the runner evaluates it, with the runner's own expression language (@actions/expressions, from
 * actions/languageservices): templates in `with:` values, input defaults and outputs, and step conditions with
 * the status functions.
 */
import { Evaluator, Lexer, Parser, data } from '@actions/expressions'
import type { FunctionDefinition } from '@actions/expressions/funcs/info'

/** Plain values of the contexts an expression may read (`github`, `inputs`, `steps`, `runner`, `env`, …). */
export type Contexts = Record<string, unknown>

/** Whether the steps before this one succeeded; what success() / failure() answer. */
export interface JobStatus {
  succeeded: boolean
}

/** Evaluates a string that may hold `${{ … }}` parts; each result is converted to a string as the runner does. */
export function evaluateTemplate(template: string, contexts: Contexts, where: string): string {
  let result = ''
  let rest = template
  for (;;) {
    const start = rest.indexOf('${{')
    if (start === -1) return result + rest
    const end = rest.indexOf('}}', start + 3)
    if (end === -1) throw new Error(`${where}: '\${{' without '}}' in '${template}'`)
    result +=
      rest.slice(0, start) +
      evaluate(rest.slice(start + 3, end), contexts, { succeeded: true }, where).coerceString()
    rest = rest.slice(end + 2)
  }
}

/**
 * A step's `if:`: `${{ }}` optional, as on the runner; without a status function the condition is
 * `success() && (…)`, so a failed step stops the steps after it.
 */
export function evaluateCondition(
  condition: string,
  contexts: Contexts,
  status: JobStatus,
  where: string
): boolean {
  const trimmed = condition.trim()
  const inner = trimmed.startsWith('${{') && trimmed.endsWith('}}') ? trimmed.slice(3, -2) : trimmed
  const expression = inner.trim() === '' ? 'success()' : inner
  const usesStatus = /\b(success|failure|always|cancelled)\s*\(/i.test(expression)
  const full = usesStatus ? expression : `success() && (${expression})`
  return truthy(evaluate(full, contexts, status, where))
}

function evaluate(
  expression: string,
  contexts: Contexts,
  status: JobStatus,
  where: string
): data.ExpressionData {
  const functions = statusFunctions(status)
  try {
    const lexed = new Lexer(expression).lex()
    const parsed = new Parser(lexed.tokens, Object.keys(contexts), [...functions.values()]).parse()
    const context = JSON.parse(JSON.stringify(contexts), data.reviver) as data.Dictionary
    return new Evaluator(parsed, context, functions).evaluate()
  } catch (error) {
    throw new Error(`${where}: cannot evaluate '\${{${expression}}}': ${(error as Error).message}`, {
      cause: error
    })
  }
}

function statusFunctions(status: JobStatus): Map<string, FunctionDefinition> {
  const define = (name: string, answer: boolean): [string, FunctionDefinition] => [
    name.toLowerCase(),
    { name, minArgs: 0, maxArgs: 0, call: () => new data.BooleanData(answer) }
  ]
  return new Map([
    define('success', status.succeeded),
    define('failure', !status.succeeded),
    define('always', true),
    define('cancelled', false)
  ])
}

/** The runner's truthiness: false, 0, -0, NaN, '' and null are false. */
function truthy(value: data.ExpressionData): boolean {
  switch (value.kind) {
    case data.Kind.Boolean:
      return (value as data.BooleanData).value
    case data.Kind.Null:
      return false
    case data.Kind.Number: {
      const number = value.number()
      return number !== 0 && !Number.isNaN(number)
    }
    case data.Kind.String:
      return value.coerceString() !== ''
    default:
      return true
  }
}
