import { ConfigurationError } from '../errors.js'
import { parseImageRef, sameRepository, type ImageRef } from '../image-ref.js'
import type { Finding } from '../scanner/finding.js'
import { parsePurl, purlMatches } from './rules.js'

export const VEX_STATUSES = ['not_affected', 'affected', 'fixed', 'under_investigation'] as const
export type VexStatus = (typeof VEX_STATUSES)[number]
export const VEX_JUSTIFICATIONS = [
  'component_not_present',
  'vulnerable_code_not_present',
  'vulnerable_code_not_in_execute_path',
  'vulnerable_code_cannot_be_controlled_by_adversary',
  'inline_mitigations_already_exist'
] as const

/** What a VEX product names: an image by digest, or a whole repository. */
export interface VexProduct {
  id: string
  digest?: string
  repository?: Pick<ImageRef, 'registry' | 'repository'>
  /** Packages inside the image the statement is limited to (purls or names); empty for the whole image. */
  subcomponents: string[]
}

export interface VexStatement {
  /** The vulnerability name and its aliases. */
  vulnerabilities: string[]
  products: VexProduct[]
  status: VexStatus
  justification?: string
  impactStatement?: string
  actionStatement?: string
  /** When it was made (ms); later statements override earlier ones. */
  timestamp: number
  /** `file#3`: the document and the statement's position in it. */
  source: string
  order: number
}

/** The image a gate runs for, as VEX products are compared with it. */
export type VexSubject = Pick<ImageRef, 'registry' | 'repository'> & { digest?: string }

/** Parses an OpenVEX document (0.0.1 and 0.2.0 shapes); anything it cannot read is a ConfigurationError. */
export function parseOpenVex(text: string, label: string, order = 0): VexStatement[] {
  let document: unknown
  try {
    document = JSON.parse(text)
  } catch (error) {
    throw new ConfigurationError(`${label} is not JSON: ${(error as Error).message}`)
  }
  const doc = document as Record<string, unknown>
  if (
    !isRecord(document) ||
    typeof doc['@context'] !== 'string' ||
    !doc['@context'].startsWith('https://openvex.dev/ns')
  ) {
    throw new ConfigurationError(
      `${label} is not an OpenVEX document: its @context is not https://openvex.dev/ns/…`
    )
  }
  if (!Array.isArray(doc.statements)) throw new ConfigurationError(`${label}: statements must be an array`)
  const documentTime = timestampOf(doc.timestamp, `${label}: timestamp`) ?? 0
  return doc.statements.map((raw, index) => {
    const where = `${label}#statements[${index}]`
    if (!isRecord(raw)) throw new ConfigurationError(`${where} must be an object`)
    const status = raw.status
    if (typeof status !== 'string' || !(VEX_STATUSES as readonly string[]).includes(status)) {
      throw new ConfigurationError(
        `${where}: status ${JSON.stringify(status)} is not one of ${VEX_STATUSES.join(', ')}`
      )
    }
    const justification = optionalString(raw.justification, `${where}: justification`)
    const impactStatement = optionalString(raw.impact_statement, `${where}: impact_statement`)
    if (justification && !(VEX_JUSTIFICATIONS as readonly string[]).includes(justification)) {
      throw new ConfigurationError(
        `${where}: justification '${justification}' is not one of ${VEX_JUSTIFICATIONS.join(', ')}`
      )
    }
    if (status === 'not_affected' && !justification && !impactStatement) {
      throw new ConfigurationError(
        `${where}: a not_affected statement needs a justification or an impact_statement`
      )
    }
    const statementSubcomponents = idList(raw.subcomponents, `${where}: subcomponents`)
    const productsRaw = raw.products
    if (!Array.isArray(productsRaw) || productsRaw.length === 0) {
      throw new ConfigurationError(`${where}: products must be a non-empty array`)
    }
    const products = productsRaw.map((product, p) => {
      const productWhere = `${where}.products[${p}]`
      const id = isRecord(product) ? product['@id'] : product
      if (typeof id !== 'string' || id === '') throw new ConfigurationError(`${productWhere} has no @id`)
      const subcomponents = isRecord(product)
        ? idList(product.subcomponents, `${productWhere}.subcomponents`)
        : []
      return { id, ...productTarget(id), subcomponents: [...subcomponents, ...statementSubcomponents] }
    })
    return {
      vulnerabilities: vulnerabilityNames(raw.vulnerability, where),
      products,
      status: status as VexStatus,
      justification,
      impactStatement,
      actionStatement: optionalString(raw.action_statement, `${where}: action_statement`),
      timestamp: timestampOf(raw.timestamp, `${where}: timestamp`) ?? documentTime,
      source: where,
      order: order * 1_000_000 + index
    }
  })
}

/** The statement that decides a finding: the latest of those naming its vulnerability and this image. */
export function decidingStatement(
  statements: readonly VexStatement[],
  finding: Finding,
  subject: VexSubject
): VexStatement | undefined {
  let decision: VexStatement | undefined
  const ids = [finding.id, ...finding.aliases]
  for (const statement of statements) {
    if (!statement.vulnerabilities.some(name => ids.includes(name))) continue
    if (!statement.products.some(product => productMatches(product, subject, finding))) continue
    if (
      !decision ||
      statement.timestamp > decision.timestamp ||
      (statement.timestamp === decision.timestamp && statement.order > decision.order)
    ) {
      decision = statement
    }
  }
  return decision
}

/** True when a product names this image (its digest, or its repository when no digest is given) and package. */
export function productMatches(product: VexProduct, subject: VexSubject, finding: Finding): boolean {
  if (product.digest) {
    if (product.digest !== subject.digest) return false
    if (product.repository && !sameRepository(product.repository, subject)) return false
  } else if (!product.repository || !sameRepository(product.repository, subject)) {
    return false
  }
  if (product.subcomponents.length === 0) return true
  return product.subcomponents.some(sub => {
    if (!sub.startsWith('pkg:')) return sub === finding.package
    if (finding.purl) return purlMatches(sub, finding.purl)
    return parsePurl(sub)?.name === finding.package
  })
}

/** The text a suppressed finding shows: status, justification and statements. */
export function vexReason(statement: VexStatement): string {
  const parts = [
    statement.status === 'fixed'
      ? 'fixed (VEX)'
      : `not affected (VEX): ${statement.justification ?? 'see impact statement'}`,
    statement.impactStatement,
    statement.actionStatement && statement.status === 'fixed' ? statement.actionStatement : undefined
  ]
  return `${parts.filter(Boolean).join('; ')} [${statement.source}]`
}

/** `pkg:oci/app@sha256%3A…?repository_url=ghcr.io/org/app`, `ghcr.io/org/app@sha256:…`, `ghcr.io/org/app`, `sha256:…`. */
function productTarget(id: string): Pick<VexProduct, 'digest' | 'repository'> {
  if (/^sha(256|512):[a-f0-9]+$/.test(id)) return { digest: id }
  if (id.startsWith('pkg:')) {
    const purl = parsePurl(id)
    if (!purl || purl.type !== 'oci') return {}
    const digest = purl.version && /^sha(256|512):[a-f0-9]+$/.test(purl.version) ? purl.version : undefined
    const url = purl.qualifiers.get('repository_url')
    let repository: VexProduct['repository']
    if (url) {
      try {
        const ref = parseImageRef(url.replace(/^[a-z]+:\/\//, ''))
        repository = { registry: ref.registry, repository: ref.repository }
      } catch {
        repository = undefined
      }
    }
    return { digest, repository }
  }
  try {
    const ref = parseImageRef(id)
    return { digest: ref.digest, repository: { registry: ref.registry, repository: ref.repository } }
  } catch {
    // Not an image: a package or a product the gate cannot place; it names no image.
    return {}
  }
}

function vulnerabilityNames(value: unknown, where: string): string[] {
  if (typeof value === 'string' && value !== '') return [value]
  if (isRecord(value) && typeof value.name === 'string' && value.name !== '') {
    const aliases = Array.isArray(value.aliases)
      ? value.aliases.filter((a): a is string => typeof a === 'string')
      : []
    return [value.name, ...aliases]
  }
  throw new ConfigurationError(`${where}: vulnerability must be a name or an object with a name`)
}

function idList(value: unknown, where: string): string[] {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value)) throw new ConfigurationError(`${where} must be an array`)
  return value.map(item => {
    const id = isRecord(item) ? item['@id'] : item
    if (typeof id !== 'string' || id === '')
      throw new ConfigurationError(`${where}: every entry needs an @id`)
    return id
  })
}

function optionalString(value: unknown, where: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined
  if (typeof value !== 'string') throw new ConfigurationError(`${where} must be a string`)
  return value
}

function timestampOf(value: unknown, where: string): number | undefined {
  if (value === undefined || value === null) return undefined
  const time = typeof value === 'string' ? Date.parse(value) : NaN
  if (Number.isNaN(time))
    throw new ConfigurationError(`${where} ${JSON.stringify(value)} is not an RFC 3339 time`)
  return time
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
