import { isScalar, type Node, type Pair, type Scalar, type YAMLMap } from 'yaml'
import { parseImageRef, type ImageRef } from '../image-ref.js'
import type { EditSession } from './file-edits.js'
import type { ChangeKind } from './request-and-changes.js'
import { findPair, isBlockScalar, resolveNode, scalarText, stringValue } from './yaml-tree.js'

/** What a reference value turned out to be. */
export type Outcome = 'edited' | 'unchanged' | 'not-ours' | 'skipped'

/**
 * Pin a scalar holding a whole reference (`name[:tag][@digest]`), keeping the name as spelled. With `asserted`
 * (a marker said so) any name is taken as the image's; otherwise the name must be the image or an alias.
 */
export function pinReference(
  session: EditSession,
  raw: unknown,
  kind: ChangeKind,
  options: { asserted?: boolean; pair?: Pair<unknown, unknown> } = {}
): Outcome {
  const node = resolveNode(session.yaml, raw)
  if (!isScalar(node) || session.isHandled(node)) return 'not-ours'
  const text = stringValue(node)
  if (text === undefined) return 'not-ours'
  const ref = options.asserted ? tryParse(text) : session.target.match(text)
  if (!ref) {
    if (!options.asserted) return 'not-ours'
    session.handle(node, raw)
    session.skip(
      node,
      text,
      'unsupported-shape',
      'the marked value is not an image reference (name[:tag][@digest])'
    )
    return 'skipped'
  }
  session.handle(node, raw)
  const value = session.target.pinned(ref.name)
  if (value === text) {
    session.found(node, value, kind)
    return 'unchanged'
  }
  if (!session.setScalar(node, value, options.pair)) return 'skipped'
  session.change(node, text, value, kind)
  return 'edited'
}

function tryParse(text: string): ImageRef | undefined {
  try {
    return parseImageRef(text)
  } catch {
    return undefined
  }
}

/** A field of an image block: the pair, the scalar it resolves to (through an alias) and the map that holds it. */
export interface Field {
  pair: Pair<unknown, unknown>
  node: Scalar
  owner: YAMLMap
}

/** The fields of a Helm-style image block. */
export interface BlockFields {
  registry?: Field
  repository?: Field
  tag?: Field
  digest?: Field
}

function field(session: EditSession, map: YAMLMap, key: string): Field | undefined {
  const found = findPair(session.yaml, map, key)
  if (!found) return undefined
  const node = found.pair.value === null ? undefined : resolveNode(session.yaml, found.pair.value)
  if (!isScalar(node)) return undefined
  return { pair: found.pair, node, owner: found.owner }
}

/**
 * The image-block fields of `map` found by key name: `repository` (or `image` / `name` when a `tag` or `digest`
 * sits beside it), `registry`, `tag`, `digest`; each absent when the map has no such scalar.
 */
export function blockFields(session: EditSession, map: YAMLMap): BlockFields {
  const tag = field(session, map, 'tag')
  const digest = field(session, map, 'digest')
  let repository = field(session, map, 'repository')
  if (!repository && (tag || digest)) repository = field(session, map, 'image') ?? field(session, map, 'name')
  return { registry: field(session, map, 'registry'), repository, tag, digest }
}

/**
 * Pin an image block (`{repository, tag}`, Bitnami's `{registry, repository, tag, digest}`, …).
 * `mode`: 'auto' needs the repository to name the image; 'path' (helm-paths) accepts a block without a
 * repository but reports one naming another image; 'marker' takes the block as the image's whatever it says.
 * Returns false when the block is not the image's (nothing recorded).
 */
export function pinImageBlock(
  session: EditSession,
  map: YAMLMap,
  kind: ChangeKind,
  mode: 'auto' | 'path' | 'marker',
  fields: BlockFields = blockFields(session, map)
): boolean {
  const { target } = session
  const repositoryText = fields.repository ? stringValue(fields.repository.node) : undefined
  const registryText = fields.registry ? stringValue(fields.registry.node) : undefined
  const name = repositoryText
    ? registryText
      ? `${registryText.replace(/\/+$/, '')}/${repositoryText}`
      : repositoryText
    : undefined
  const ref = name === undefined ? undefined : target.match(name)
  const all = [fields.registry, fields.repository, fields.tag, fields.digest].filter((f): f is Field => !!f)
  const at: Node = fields.repository?.node ?? fields.tag?.node ?? fields.digest?.node ?? map
  if (name === undefined && mode === 'auto') return false
  if (name !== undefined && !ref && mode !== 'marker') {
    if (mode === 'path') {
      session.handle(map, ...all.map(f => f.node))
      session.skip(
        at,
        name,
        'other-image',
        `the helm path names another image (${name}), not ${target.request.image}`
      )
      return true
    }
    return false
  }
  // Fields shared through a merge key (`<<: *image`) were pinned with the first block that uses them.
  if (all.some(f => session.isHandled(f.pair))) return true
  session.handle(map, ...all.map(f => f.node), ...all.map(f => f.pair))
  const shown = (ref?.name ?? name) || target.request.image
  const oldTag = fields.tag ? scalarText(session.yaml, fields.tag.node) : undefined
  const oldDigest = fields.digest ? scalarText(session.yaml, fields.digest.node) : undefined
  const old = `${shown}${oldTag ? `:${oldTag}` : ''}${oldDigest ? `@${oldDigest}` : ''}`
  const edits: Array<[Field, string]> = []
  let value: string
  if (fields.digest) {
    // The chart renders repository@digest (Bitnami) or repository:tag@digest; the tag is for people.
    const tag = target.tag ?? oldTag?.split('@')[0]
    if (oldDigest !== target.digest) edits.push([fields.digest, target.digest])
    if (fields.tag && tag !== undefined && tag !== oldTag) edits.push([fields.tag, tag])
    value = `${shown}${tag ? `:${tag}` : ''}@${target.digest}`
  } else if (fields.tag) {
    if (!target.tag) {
      session.skip(
        at,
        old,
        'needs-tag',
        'the chart renders repository:tag, so the digest goes in the tag as tag@digest, and that needs the tag input (the old tag no longer describes the image)'
      )
      return true
    }
    value = `${shown}:${target.tag}@${target.digest}`
    if (oldTag !== `${target.tag}@${target.digest}`)
      edits.push([fields.tag, `${target.tag}@${target.digest}`])
  } else if (fields.repository && ref && (ref.tag !== undefined || ref.digest !== undefined)) {
    session.handle(map)
    const repositoryNode = fields.repository.node
    // A whole reference in `repository:` (no tag key): treat it as one.
    return (
      pinReferenceText(session, repositoryNode, fields.repository.pair, repositoryText!, ref, kind) !==
      'not-ours'
    )
  } else {
    session.skip(
      at,
      old,
      'unsupported-shape',
      'the image block has no tag or digest key to pin: add `digest:` (or `tag:`) to it, or mark the value to pin'
    )
    return true
  }
  if (edits.length === 0) {
    session.found(at, value, kind)
    return true
  }
  if (edits.some(([f]) => isBlockScalar(f.node))) {
    session.skip(
      at,
      old,
      'unsupported-shape',
      'a block scalar (| or >) holds a field: write it on one line to have it pinned'
    )
    return true
  }
  for (const [f, v] of edits) session.setScalar(f.node, v, f.pair)
  const first = edits.map(([f]) => f.node).sort((a, b) => a.range![0] - b.range![0])[0]!
  session.change(first, old, value, kind)
  return true
}

function pinReferenceText(
  session: EditSession,
  node: Scalar,
  pair: Pair<unknown, unknown>,
  text: string,
  ref: ImageRef,
  kind: ChangeKind
): Outcome {
  const value = session.target.pinned(ref.name)
  if (value === text) {
    session.found(node, value, kind)
    return 'unchanged'
  }
  if (!session.setScalar(node, value, pair)) return 'skipped'
  session.change(node, text, value, kind)
  return 'edited'
}
