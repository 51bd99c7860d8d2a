import { Ajv, type ValidateFunction } from 'ajv'
import addFormatsModule from 'ajv-formats'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const SCHEMA = fileURLToPath(
  new URL('../../../node_modules/@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json', import.meta.url)
)

// ajv-formats is CommonJS: under ESM its function is the default export's `default`.
const addFormats = addFormatsModule.default

let validator: ValidateFunction | undefined

/**
 * A validator for the SARIF 2.1.0 JSON schema. The file declares draft-04 but uses nothing draft-07 reads
 * differently apart from `id`, which becomes `$id`, so Ajv 8 (draft-07) checks it as written.
 */
export function sarifValidator(): ValidateFunction {
  if (validator) return validator
  const schema = JSON.parse(readFileSync(SCHEMA, 'utf8')) as Record<string, unknown>
  delete schema.$schema
  schema.$id = schema.id
  delete schema.id
  // The schema's `language` pattern is not valid with the u flag, so patterns are compiled without it.
  const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false })
  addFormats(ajv)
  validator = ajv.compile(schema)
  return validator
}
