/**
 * GitHub's published REST description (npm `@octokit/openapi`, api.github.com, OpenAPI 3.0) as a contract: find
 * the operation a request addresses, check its parameters and body, check the response the server sends back.
 * The document is parsed once per process; validators are compiled the first time an operation needs them.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import AjvModule, { type ErrorObject, type ValidateFunction } from 'ajv'
import addFormatsModule from 'ajv-formats'

// Both are CommonJS modules whose `module.exports.default` is the export; NodeNext types see the namespace.
const Ajv = AjvModule.default
const addFormats = addFormatsModule.default

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
type SchemaObject = { [key: string]: Json }

interface Parameter {
  name: string
  in: 'path' | 'query' | 'header' | 'cookie'
  required?: boolean
  schema?: SchemaObject
  'x-multi-segment'?: boolean
}

export interface Operation {
  /** e.g. 'pulls/create'. */
  operationId: string
  method: string
  /** The path template of the description, e.g. '/repos/{owner}/{repo}/pulls'. */
  template: string
  /** 'POST /repos/{owner}/{repo}/pulls': how the call log and faults name a route. */
  route: string
  /** GitHub's documentation of the operation: the `documentation_url` of its error bodies. */
  docs: string
  parameters: Parameter[]
  requestBody?: { required?: boolean; content?: Record<string, { schema?: SchemaObject }> }
  responses: Record<string, SchemaObject>
  pattern: RegExp
  literalLength: number
  /** Octokit keeps superseded templates (`/compare/{base}...{head}`) marked deprecated: they lose a tie. */
  deprecated: boolean
}

export type RouteMatch =
  | { kind: 'operation'; operation: Operation; params: Record<string, string> }
  /** The path is described, but not for this method. */
  | { kind: 'method'; methods: string[] }
  | { kind: 'none' }

export interface CheckedRequest {
  /** Path parameters, coerced to the described types. */
  params: Record<string, string | number>
  /** Query parameters present in the request, coerced to the described types. */
  query: Record<string, unknown>
  body: unknown
  /** Contract violations, each naming where (`query.per_page`, `body/head`) and what. */
  errors: string[]
}

interface Description {
  operations: Operation[]
  ajv: InstanceType<typeof Ajv>
  validators: Map<string, ValidateFunction>
  parameters: Record<string, Parameter>
  responses: Record<string, SchemaObject>
}

const DOCUMENT_ID = 'https://api.github.com/openapi.json'
const METHODS = ['get', 'put', 'post', 'patch', 'delete', 'head', 'options']
/** Statuses GitHub can send from any operation, described there or not (auth, abuse, outages). */
const UNDESCRIBED_STATUSES = new Set([401, 403, 404, 422, 500, 502, 503])

let loaded: Description | undefined

/** The description, parsed and prepared on first use. */
function description(): Description {
  loaded ??= load()
  return loaded
}

function load(): Description {
  const require = createRequire(import.meta.url)
  const file = require.resolve('@octokit/openapi/generated/api.github.com.json')
  const document = JSON.parse(readFileSync(file, 'utf8')) as {
    openapi: string
    paths: Record<string, Record<string, Json>>
    components: { schemas: SchemaObject; parameters: SchemaObject; responses: SchemaObject }
  }
  if (!document.openapi.startsWith('3.0.')) {
    throw new Error(
      `expected an OpenAPI 3.0 description, found ${document.openapi}: revisit nullable handling`
    )
  }
  toJsonSchema(document.components as unknown as Json)
  toJsonSchema(document.paths as unknown as Json)

  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true, logger: false })
  addFormats(ajv)
  // OpenAPI's numeric formats and GitHub's own: documentation, not constraints.
  for (const format of ['int32', 'int64', 'float', 'double', 'binary', 'byte', 'password', 'repo.nwo']) {
    ajv.addFormat(format, true)
  }
  ajv.addSchema({ $id: DOCUMENT_ID, components: { schemas: document.components.schemas } })

  const parameters = document.components.parameters as unknown as Record<string, Parameter>
  const responses = document.components.responses as unknown as Record<string, SchemaObject>
  const operations: Operation[] = []
  for (const [template, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const op = item[method] as SchemaObject | undefined
      if (!op) continue
      const resolved = ((op.parameters as Json[] | undefined) ?? []).map(parameter =>
        resolveParameter(parameter as SchemaObject, parameters)
      )
      operations.push({
        operationId: String(op.operationId),
        method: method.toUpperCase(),
        template,
        route: `${method.toUpperCase()} ${template}`,
        docs: String((op.externalDocs as SchemaObject | undefined)?.url ?? 'https://docs.github.com/rest'),
        parameters: resolved,
        requestBody: op.requestBody as Operation['requestBody'],
        responses: op.responses as Record<string, SchemaObject>,
        deprecated: op.deprecated === true || String(op.description ?? '').startsWith('**Deprecated**'),
        ...compileTemplate(template, resolved)
      })
    }
  }
  return { operations, ajv, validators: new Map(), parameters, responses }
}

function resolveParameter(parameter: SchemaObject, components: Record<string, Parameter>): Parameter {
  const ref = parameter.$ref
  if (typeof ref !== 'string') return parameter as unknown as Parameter
  const found = components[ref.replace('#/components/parameters/', '')]
  if (!found) throw new Error(`unresolved parameter ${ref}`)
  return found
}

/** A regular expression for a path template: multi-segment parameters (`x-multi-segment`) may hold slashes. */
function compileTemplate(
  template: string,
  parameters: Parameter[]
): { pattern: RegExp; literalLength: number } {
  const multi = new Set(parameters.filter(p => p['x-multi-segment']).map(p => p.name))
  let literalLength = 0
  const source = template
    .split(/(\{[^}]+\})/)
    .map((part, index, parts) => {
      const name = /^\{(.+)\}$/.exec(part)?.[1]
      if (!name) {
        literalLength += part.length
        return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
      }
      const last = index === parts.length - 2 && parts[parts.length - 1] === ''
      if (!multi.has(name)) return `(?<${groupName(name)}>[^/]+)`
      return last ? `(?<${groupName(name)}>.*)` : `(?<${groupName(name)}>.+?)`
    })
    .join('')
    // An empty trailing multi-segment parameter may drop its slash: `/contents` is `/contents/` (the root).
    .replace(/\/\(\?<([A-Za-z0-9_]+)>\.\*\)$/, '(?:/(?<$1>.*))?')
  return { pattern: new RegExp(`^${source}$`), literalLength }
}

/** Named groups must be identifiers; GitHub's parameter names are, except for a rare hyphen. */
function groupName(name: string): string {
  return name.replace(/[^A-Za-z0-9_]/g, '_')
}

/** The operation `method path` addresses (path without the API prefix, still percent-encoded). */
export function matchRoute(method: string, path: string): RouteMatch {
  const { operations } = description()
  let best: { operation: Operation; groups: Record<string, string | undefined>; score: number } | undefined
  const methods = new Set<string>()
  for (const operation of operations) {
    const found = operation.pattern.exec(path)
    if (!found) continue
    if (operation.method !== method.toUpperCase()) {
      methods.add(operation.method)
      continue
    }
    // The most literal template wins; one that only matches with an empty parameter loses to any other, and a
    // deprecated one to any current one.
    const groups = found.groups ?? {}
    const empty = Object.values(groups).filter(value => !value).length
    const score = operation.literalLength - 1000 * empty - (operation.deprecated ? 500 : 0)
    if (!best || score > best.score) best = { operation, groups, score }
  }
  if (!best) return methods.size > 0 ? { kind: 'method', methods: [...methods] } : { kind: 'none' }
  const params: Record<string, string> = {}
  for (const parameter of best.operation.parameters.filter(p => p.in === 'path')) {
    const raw = best.groups[groupName(parameter.name)]
    params[parameter.name] = raw === undefined ? '' : safeDecode(raw)
  }
  return { kind: 'operation', operation: best.operation, params }
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value)
  } catch {
    return value
  }
}

/** The operation with this id (for tests and for naming routes). */
export function findOperation(operationId: string): Operation | undefined {
  return description().operations.find(operation => operation.operationId === operationId)
}

/**
 * Check a request against its operation. Stricter than GitHub in one way, on purpose: a query parameter or body
 * field the description does not name is a violation, because GitHub silently ignores it, so a misspelt field
 * would otherwise pass every test and do nothing in production.
 */
export function checkRequest(
  operation: Operation,
  pathParams: Record<string, string>,
  search: URLSearchParams,
  rawBody: Buffer,
  contentType: string | undefined
): CheckedRequest {
  const errors: string[] = []
  const params: Record<string, string | number> = {}
  const query: Record<string, unknown> = {}
  const where = operation.operationId

  for (const parameter of operation.parameters) {
    if (parameter.in === 'path') {
      const value = coerce(pathParams[parameter.name] ?? '', parameter.schema)
      errors.push(
        ...validate(`${where} path ${parameter.name}`, parameter.schema, value, `path.${parameter.name}`)
      )
      params[parameter.name] = value as string | number
    } else if (parameter.in === 'query') {
      const values = search.getAll(parameter.name)
      if (values.length === 0) {
        if (parameter.required) errors.push(`query parameter '${parameter.name}' is required`)
        continue
      }
      const value = coerce(values.join(','), parameter.schema)
      errors.push(
        ...validate(`${where} query ${parameter.name}`, parameter.schema, value, `query.${parameter.name}`)
      )
      query[parameter.name] = value
    }
  }
  const known = new Set(operation.parameters.filter(p => p.in === 'query').map(p => p.name))
  for (const name of new Set(search.keys())) {
    if (!known.has(name)) errors.push(`query parameter '${name}' is not in the description`)
  }

  let body: unknown
  const text = rawBody.toString('utf8')
  const schema = operation.requestBody?.content?.['application/json']?.schema
  if (text.trim() === '') {
    if (operation.requestBody?.required) errors.push('the request body is required')
  } else if (!operation.requestBody) {
    errors.push('the operation takes no request body, but one was sent')
  } else if (!/^application\/(.+\+)?json\b/.test(contentType ?? '')) {
    errors.push(`request body content-type '${contentType ?? ''}' is not application/json`)
  } else {
    try {
      body = JSON.parse(text)
    } catch {
      errors.push('the request body is not JSON')
    }
    if (body !== undefined && schema) {
      const closed = (): Json => closeObjects(rebase(structuredClone(schema)))
      errors.push(...validateWith(`${where} request body`, closed, body, 'body'))
    }
  }
  return { params, query, body, errors }
}

/** Check a response the server is about to send; returns the violations (empty when it conforms). */
export function checkResponse(
  operation: Operation,
  status: number,
  contentType: string | undefined,
  body: unknown
): string[] {
  const { responses } = description()
  let response = operation.responses[String(status)] ?? operation.responses[`${String(status)[0]}XX`]
  if (!response) {
    if (!UNDESCRIBED_STATUSES.has(status)) {
      return [`status ${status} is not described for ${operation.operationId}`]
    }
    return validate('basic-error', { $ref: '#/components/schemas/basic-error' }, body, 'response')
  }
  if (typeof response.$ref === 'string') {
    response = responses[response.$ref.replace('#/components/responses/', '')] ?? {}
  }
  const content = response.content as Record<string, { schema?: SchemaObject }> | undefined
  if (!content) {
    // 204 and 304 have no body; elsewhere a missing `content` means undocumented, and GitHub sends its error JSON.
    if ((status === 204 || status === 304) && body !== undefined) {
      return [`status ${status} of ${operation.operationId} is described without a body`]
    }
    return []
  }
  const mediaType = (contentType ?? '').split(';')[0]?.trim() ?? ''
  const described = content[mediaType] ?? (mediaType === 'application/json' ? undefined : content['*/*'])
  if (!described) {
    return [`content-type '${mediaType}' is not described for status ${status} of ${operation.operationId}`]
  }
  if (!described.schema || !mediaType.endsWith('json')) return []
  return validate(`${operation.operationId} ${status} ${mediaType}`, described.schema, body, 'response')
}

/** Validate against a schema of the description, compiled once per `key`. */
function validate(key: string, schema: SchemaObject | undefined, value: unknown, name: string): string[] {
  if (!schema) return []
  return validateWith(key, () => rebase(structuredClone(schema)), value, name)
}

function validateWith(key: string, schema: () => Json, value: unknown, name: string): string[] {
  const { ajv, validators } = description()
  let validator = validators.get(key)
  if (!validator) {
    validator = ajv.compile(schema() as SchemaObject)
    validators.set(key, validator)
  }
  return validator(value) ? [] : formatErrors(validator.errors ?? [], name)
}

/** Ajv's errors as one line each, naming the property an `additionalProperties` or `required` error is about. */
export function formatErrors(errors: ErrorObject[], name: string): string[] {
  const lines = errors.map(error => {
    const params = error.params as Record<string, unknown>
    const detail =
      params.additionalProperty !== undefined
        ? `: '${String(params.additionalProperty)}'`
        : params.allowedValues !== undefined
          ? `: ${JSON.stringify(params.allowedValues)}`
          : ''
    return `${name}${error.instancePath} ${error.message ?? error.keyword}${detail}`
  })
  return [...new Set(lines)].slice(0, 8)
}

/** Query and path values arrive as strings: give them the described type so the schema can judge them. */
function coerce(value: string, schema: SchemaObject | undefined): unknown {
  const type = schema?.type
  const types = Array.isArray(type) ? type : [type]
  if (types.includes('integer') || types.includes('number')) {
    return /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value
  }
  if (types.includes('boolean')) return value === 'true' ? true : value === 'false' ? false : value
  if (types.includes('array')) return value.split(',')
  return value
}

/** Schemas inside paths refer to `#/components/...` of the document; compiled alone they need its id. */
function rebase(node: Json): Json {
  if (Array.isArray(node)) return node.map(rebase)
  if (node === null || typeof node !== 'object') return node
  const out: { [key: string]: Json } = {}
  for (const [key, value] of Object.entries(node)) {
    out[key] =
      key === '$ref' && typeof value === 'string' && value.startsWith('#/')
        ? DOCUMENT_ID + value
        : rebase(value)
  }
  return out
}

/** Request bodies: objects with named properties take no others (see checkRequest). Parts of an allOf stay open. */
function closeObjects(node: Json, inAllOf = false): Json {
  if (Array.isArray(node)) return node.map(item => closeObjects(item, inAllOf))
  if (node === null || typeof node !== 'object') return node
  const out: { [key: string]: Json } = {}
  for (const [key, value] of Object.entries(node)) {
    if (key === 'properties' && value && typeof value === 'object' && !Array.isArray(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, closeObjects(sub)]))
    } else if (key === 'allOf') {
      out[key] = closeObjects(value, true)
    } else if (key === 'example' || key === 'examples' || key === 'enum' || key === 'default') {
      out[key] = value
    } else {
      out[key] = closeObjects(value)
    }
  }
  if (!inAllOf && out.properties && out.additionalProperties === undefined && !out.allOf) {
    out.additionalProperties = false
  }
  return out
}

/**
 * OpenAPI 3.0 schemas to JSON Schema, in place: `nullable: true` becomes a 'null' type (or an anyOf with null
 * where there is no type), and a boolean `exclusiveMinimum`/`exclusiveMaximum` becomes the number form.
 */
export function toJsonSchema(node: Json): void {
  if (Array.isArray(node)) {
    for (const item of node) toJsonSchema(item)
    return
  }
  if (node === null || typeof node !== 'object') return
  for (const [key, value] of Object.entries(node)) {
    if (key === 'example' || key === 'examples' || key === 'enum' || key === 'default') continue
    if (key === 'properties' && value && typeof value === 'object' && !Array.isArray(value)) {
      for (const property of Object.values(value)) toJsonSchema(property)
    } else {
      toJsonSchema(value)
    }
  }
  for (const bound of ['Minimum', 'Maximum'] as const) {
    if (node[`exclusive${bound}`] === true) {
      node[`exclusive${bound}`] = node[bound.toLowerCase()] ?? null
      delete node[bound.toLowerCase()]
    } else if (node[`exclusive${bound}`] === false) {
      delete node[`exclusive${bound}`]
    }
  }
  if (node.nullable === undefined) return
  const nullable = node.nullable === true
  delete node.nullable
  if (!nullable) return
  if (typeof node.type === 'string') {
    node.type = [node.type, 'null']
    if (Array.isArray(node.enum) && !node.enum.includes(null)) node.enum.push(null)
    return
  }
  const inner: { [key: string]: Json } = {}
  for (const key of Object.keys(node)) {
    if (key === 'description' || key === 'title') continue
    inner[key] = node[key] as Json
    delete node[key]
  }
  node.anyOf = [inner, { type: 'null' }]
}
