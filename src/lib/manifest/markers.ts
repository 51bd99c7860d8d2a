import { isAlias, isMap, isScalar, isSeq, type Node, type Pair, type Scalar, type YAMLMap } from 'yaml'
import { parseImageRef } from '../image-ref.js'
import { blockFields, pinImageBlock, pinReference, type BlockFields, type Field } from './pin-reference.js'
import type { EditSession } from './file-edits.js'
import { lineEnd, trailingComment } from './source-text.js'
import type { ChangeKind } from './request-and-changes.js'
import { resolveNode } from './yaml-tree.js'

/** Which part of a reference a marked value holds; undefined: the whole `name[:tag][@digest]`. */
type MarkedField = 'tag' | 'digest' | 'name' | undefined

interface Marker {
  kind: ChangeKind
  field: MarkedField
}

const OURS = 'digest-delivery:'
const FLUX = '$imagepolicy'

/** True when the text may hold a marker this request honours (cheap check before walking every node). */
export function mayHaveMarkers(session: EditSession): boolean {
  return session.text.includes(OURS) || (session.target.policy !== undefined && session.text.includes(FLUX))
}

/**
 * Pin every value carrying our `# digest-delivery: <image>` marker or, when `image-policy` names the policy,
 * Flux's `# {"$imagepolicy": "ns:name[:tag|:name|:digest]"}` marker, whatever the document is.
 */
export function pinMarkedValues(session: EditSession): void {
  const { yaml } = session
  for (const [node, info] of yaml.info) {
    if (!info.parent || info.role === 'key') continue
    if (isScalar(node) || isAlias(node)) {
      const end = node.range?.[1]
      if (end === undefined) continue
      const marker = parseMarker(session, trailingComment(session.text, end))
      if (marker) pinMarkedScalar(session, node, info.parent, marker)
    } else if ((isMap(node) || isSeq(node)) && !node.flow && isMap(info.parent)) {
      // `image: # digest-delivery: …` above a block map: the map is an image block.
      const pair = info.parent.items.find(p => p.value === node)
      const key = pair?.key as Node | undefined
      if (!key?.range) continue
      const rest = session.text.slice(key.range[1], lineEnd(session.text, key.range[1]))
      const comment = /^[ \t]*:[ \t]+#(.*)$/.exec(rest)?.[1]
      const marker = parseMarker(session, comment)
      if (marker && marker.field === undefined && isMap(node) && !session.isHandled(node)) {
        pinImageBlock(session, node, marker.kind, 'marker')
      }
    }
  }
}

function pinMarkedScalar(session: EditSession, raw: Scalar | Node, parent: Node, marker: Marker): void {
  const node = resolveNode(session.yaml, raw)
  if (!isScalar(node) || session.isHandled(node)) return
  const pair = isMap(parent) ? parent.items.find(p => p.value === raw) : undefined
  if (marker.field === undefined) {
    pinReference(session, raw, marker.kind, { asserted: true, pair })
    return
  }
  if (!isMap(parent) || !pair) {
    session.handle(node)
    session.skip(
      node,
      String(node.value),
      'unsupported-shape',
      `a :${marker.field} marker must be on a value in a map`
    )
    return
  }
  // A marked tag, digest or name is one field of an image block: pin the block once, with every marked sibling,
  // so tag and digest agree.
  const fields: BlockFields = blockFields(session, parent)
  for (const sibling of parent.items) {
    const value = resolveNode(session.yaml, sibling.value)
    const end = (sibling.value as Node | null)?.range?.[1]
    if (!isScalar(value) || end === undefined) continue
    const found = sibling === pair ? marker : parseMarker(session, trailingComment(session.text, end))
    if (!found || found.field === undefined || found.kind !== marker.kind) continue
    const marked: Field = { pair: sibling as Pair<unknown, unknown>, node: value, owner: parent as YAMLMap }
    if (found.field === 'tag') fields.tag = marked
    else if (found.field === 'digest') fields.digest = marked
    else fields.repository = marked
  }
  pinImageBlock(session, parent, marker.kind, 'marker', fields)
}

function parseMarker(session: EditSession, comment: string | undefined): Marker | undefined {
  if (comment === undefined) return undefined
  const { target } = session
  const ours = /^\s*digest-delivery:\s*(\S+)\s*$/.exec(comment)
  if (ours) {
    let named
    try {
      named = parseImageRef(ours[1]!)
    } catch {
      return undefined
    }
    if (!target.match(named.name)) return undefined
    const field =
      named.tag === 'tag' || named.tag === 'digest' || named.tag === 'name' ? named.tag : undefined
    return { kind: 'marker', field }
  }
  const policy = target.policy
  if (!policy || !comment.includes(FLUX)) return undefined
  let setter: unknown
  try {
    setter = JSON.parse(comment.trim())
  } catch {
    return undefined
  }
  const value = (setter as Record<string, unknown> | null)?.[FLUX]
  if (typeof value !== 'string') return undefined
  const [namespace, name, field] = value.split(':')
  if (name !== policy.name || (policy.namespace !== undefined && namespace !== policy.namespace))
    return undefined
  if (field !== undefined && field !== 'tag' && field !== 'digest' && field !== 'name') return undefined
  return { kind: 'image-policy-marker', field: field as MarkedField }
}
