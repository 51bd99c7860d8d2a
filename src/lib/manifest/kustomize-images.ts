import path from 'node:path'
import { isMap, isScalar, isSeq, type Node, type Pair, type YAMLMap } from 'yaml'
import type { EditSession } from './file-edits.js'
import { lineEnd, lineStart } from './source-text.js'
import type { ImagesEntryToAdd } from './request-and-changes.js'
import {
  findPair,
  isBlockScalar,
  getValue,
  pathOf,
  plainOf,
  resolveNode,
  scalarText,
  stringKeyId,
  stringValue
} from './yaml-tree.js'

const KUSTOMIZATION_FILES = new Set(['kustomization.yaml', 'kustomization.yml', 'Kustomization'])

/** True for the file names Kustomize reads as a kustomization. */
export function isKustomizationFile(file: string): boolean {
  return KUSTOMIZATION_FILES.has(path.basename(file))
}

/** True when the document is a kustomization: by file name, or by `apiVersion: kustomize.config.k8s.io/…`. */
export function isKustomization(session: EditSession, root: unknown): boolean {
  if (!isMap(root)) return false
  if (isKustomizationFile(session.file)) return true
  const apiVersion = stringValue(getValue(session.yaml, root, 'apiVersion')?.node)
  return apiVersion?.startsWith('kustomize.config.k8s.io/') ?? false
}

/** True for a Flux `Kustomization` (kustomize.toolkit.fluxcd.io), whose `spec.images` has the same shape. */
export function isFluxKustomization(session: EditSession, root: unknown): boolean {
  if (!isMap(root)) return false
  const apiVersion = stringValue(getValue(session.yaml, root, 'apiVersion')?.node)
  const kind = stringValue(getValue(session.yaml, root, 'kind')?.node)
  return kind === 'Kustomization' && (apiVersion?.startsWith('kustomize.toolkit.fluxcd.io/') ?? false)
}

/**
 * Pin every `images:` entry naming the image (by `newName`, else `name`): set `digest`, set `newTag` to the tag
 * or remove it when there is none, keep `newName`. Returns true when an entry names the image.
 */
export function pinImagesEntries(session: EditSession, images: unknown): boolean {
  const list = resolveNode(session.yaml, images)
  if (!isSeq(list)) {
    if (list !== undefined && !isNull(list))
      session.invalid(list as Node, `images: ${IMAGES_SHAPE}, not ${kindOf(list)}`)
    return false
  }
  let found = false
  for (const item of list.items) {
    const entry = resolveNode(session.yaml, item)
    if (isNull(entry)) continue
    if (!isMap(entry)) {
      session.invalid(entry as Node, `an images entry is ${kindOf(entry)}: ${IMAGES_SHAPE}`)
      continue
    }
    if (!validEntry(session, entry)) continue
    if (!session.isHandled(entry) && pinEntry(session, entry)) found = true
  }
  return found
}

const IMAGES_SHAPE =
  'Kustomize reads a list of maps with string values (name, newName, newTag, digest) and refuses this kustomization; fix it (quote a numeric tag)'
const ENTRY_FIELDS = ['name', 'newName', 'newTag', 'digest']

/** Kustomize decodes each field into a Go string: a number, a boolean or a collection makes it refuse the file. */
function validEntry(session: EditSession, entry: YAMLMap): boolean {
  let valid = true
  for (const field of ENTRY_FIELDS) {
    const value = getValue(session.yaml, entry, field)
    if (!value) continue
    const node = resolveNode(session.yaml, value.node)
    if (isNull(node) || (isScalar(node) && typeof node.value === 'string')) continue
    session.invalid(node as Node, `images entry field ${field} is ${kindOf(node)}: ${IMAGES_SHAPE}`)
    valid = false
  }
  return valid
}

function isNull(node: unknown): boolean {
  return node === null || (isScalar(node) && node.value === null)
}

function kindOf(node: unknown): string {
  if (isMap(node)) return 'a map'
  if (isSeq(node)) return 'a list'
  if (isScalar(node)) return `a ${typeof node.value} (${String(node.value).slice(0, 40)})`
  return 'not a value'
}

function pinEntry(session: EditSession, entry: YAMLMap): boolean {
  const { yaml, target } = session
  const name = getValue(yaml, entry, 'name')
  const newName = getValue(yaml, entry, 'newName')
  const identity = stringValue(newName?.node) ?? stringValue(name?.node)
  if (identity === undefined) return false
  const newTag = findPair(yaml, entry, 'newTag')
  const digest = findPair(yaml, entry, 'digest')
  const tagNode = resolveNode(yaml, newTag?.pair.value)
  const digestNode = resolveNode(yaml, digest?.pair.value)
  const nodes = [entry, name?.node, newName?.node, tagNode, digestNode]
  const ref = target.match(identity)
  if (!ref) {
    // An entry that renames the image to another: what this overlay deploys is not the image.
    if (name && target.match(stringValue(name.node) ?? '')) session.handle(...nodes)
    return false
  }
  session.handle(...nodes)
  const oldTag = isScalar(tagNode) ? scalarText(yaml, tagNode) : undefined
  const oldDigest = isScalar(digestNode) ? scalarText(yaml, digestNode) : undefined
  const old = `${identity}${oldTag ? `:${oldTag}` : ''}${oldDigest ? `@${oldDigest}` : ''}`
  const value = target.pinned(ref.name)
  if (old === value) {
    session.found(entry, value, 'kustomize-images')
    return true
  }
  const unsupported = (why: string) => {
    session.skip(entry, old, 'unsupported-shape', `this images entry cannot be edited in place: ${why}`)
    return true
  }
  // Values shared with other entries (merge keys, aliases) or written as collections are left to a person.
  if (
    (newTag && (newTag.owner !== entry || !isScalar(tagNode) || isBlockScalar(tagNode))) ||
    (digest && (digest.owner !== entry || !isScalar(digestNode) || isBlockScalar(digestNode)))
  ) {
    return unsupported('newTag or digest is not a plain value of the entry')
  }
  const splicesBefore = session.splices.length
  const expectationsBefore = session.expectations.length
  const rollback = (why: string) => {
    session.splices.length = splicesBefore
    session.expectations.length = expectationsBefore
    return unsupported(why)
  }
  const inserts: Array<[string, string]> = []
  let removed: Pair<unknown, unknown> | undefined
  if (target.tag !== undefined) {
    if (isScalar(tagNode)) {
      if (oldTag !== target.tag) session.setScalar(tagNode, target.tag, newTag!.pair)
    } else if (digest) {
      if (!session.insertPairs(entry, [['newTag', target.tag]], { before: digest.pair })) {
        return rollback('newTag cannot be added before digest')
      }
    } else {
      inserts.push(['newTag', target.tag])
    }
  } else if (newTag) {
    if (!session.removePair(entry, newTag.pair)) return rollback('the stale newTag cannot be removed')
    removed = newTag.pair
  }
  if (isScalar(digestNode)) {
    if (oldDigest !== target.digest) session.setScalar(digestNode, target.digest, digest!.pair)
  } else {
    inserts.push(['digest', target.digest])
  }
  if (inserts.length > 0) {
    const retained = entry.items.filter(pair => pair !== removed)
    if (!session.insertPairs(entry, inserts, { after: retained[retained.length - 1] })) {
      return rollback('its last value spans several lines')
    }
  }
  session.change(entry, old, value, 'kustomize-images')
  return true
}

/** Add `images:` entries to a kustomization, as `kustomize edit set image` would, in the file's own layout. */
export function addImagesEntries(
  session: EditSession,
  doc: number,
  root: unknown,
  wanted: readonly ImagesEntryToAdd[]
): void {
  let entries = wanted
  const { target, text, eol } = session
  if (!isMap(root) || root.flow || entries.length === 0) {
    session.skip(
      undefined,
      target.request.image,
      'unsupported-shape',
      'the kustomization is not a block map: add the images entry by hand'
    )
    return
  }
  const fields = (name: string): Record<string, string> => ({
    name,
    ...(target.tag !== undefined ? { newTag: target.tag } : {}),
    digest: target.digest
  })
  const images = findPair(session.yaml, root, 'images')
  const seq = images?.owner === root ? images.pair.value : undefined
  // An entry of that name exists (renaming the image to another): a second one would only confuse Kustomize.
  const named = new Set(
    (isSeq(seq) ? seq.items : []).map(item => stringValue(getValue(session.yaml, item, 'name')?.node))
  )
  entries = entries.filter(entry => !named.has(entry.name))
  if (entries.length === 0) return
  if (images && !(isSeq(seq) && seq.items.length > 0)) {
    session.skip(
      images.pair.key as Node,
      target.request.image,
      'unsupported-shape',
      'images: is not a list with entries: add the entry by hand'
    )
    return
  }
  let insertAt: number
  let block: string
  let firstEntryLine = 0
  if (isSeq(seq) && seq.flow) {
    insertAt = session.contentEnd(seq.items[seq.items.length - 1] as YAMLMap)
    block = entries
      .map(
        e =>
          `, {${Object.entries(fields(e.name))
            .map(([k, v]) => `${k}: ${session.encode(v, seq)}`)
            .join(', ')}}`
      )
      .join('')
  } else {
    let dashColumn: number
    let keyColumn: number
    if (isSeq(seq)) {
      dashColumn = seq.range![0] - lineStart(text, seq.range![0])
      const first = resolveNode(session.yaml, seq.items[0])
      keyColumn = isMap(first) && !first.flow ? session.keyColumn(first) : dashColumn + 2
      insertAt = lineEnd(text, session.contentEnd(seq.items[seq.items.length - 1] as YAMLMap))
      block = ''
    } else {
      const rootColumn = session.keyColumn(root)
      dashColumn = rootColumn + sequenceIndent(session, root)
      keyColumn = dashColumn + 2
      const lastValue = root.items[root.items.length - 1]
      insertAt = lastValue
        ? lineEnd(text, session.contentEnd((lastValue.value ?? lastValue.key) as YAMLMap))
        : text.length
      block = `${eol}${' '.repeat(rootColumn)}images:`
      firstEntryLine = 1
    }
    const dash = `${' '.repeat(dashColumn)}-${' '.repeat(Math.max(1, keyColumn - dashColumn - 1))}`
    block += entries
      .map(e =>
        Object.entries(fields(e.name))
          .map(
            ([k, v], i) => `${eol}${i === 0 ? dash : ' '.repeat(keyColumn)}${k}: ${session.encode(v, root)}`
          )
          .join('')
      )
      .join('')
  }
  const splice = { start: insertAt, end: insertAt, text: block }
  session.splices.push(splice)
  const plain = entries.map(e => fields(e.name))
  const rootPath = pathOf(session.yaml, root)
  if (isSeq(seq)) {
    for (const entry of plain)
      session.expectRaw({
        doc,
        path: [...rootPath, stringKeyId('images')],
        op: 'append',
        value: plainOf(entry)
      })
  } else {
    session.expectRaw({ doc, path: rootPath, op: 'add', key: 'images', value: plainOf(plain) })
  }
  const linesPerEntry = Object.keys(fields('')).length
  entries.forEach((entry, i) => {
    const value = target.pinned(entry.name)
    session.changes.push({
      offset: insertAt,
      own: splice,
      extraLines: isSeq(seq) && seq.flow ? 0 : firstEntryLine + 1 + i * linesPerEntry,
      old: entry.previous?.old ?? '',
      new: value,
      kind: 'kustomize-images',
      ...(entry.previous ? { previous: entry.previous } : {})
    })
  })
}

/** How far the file indents block lists under their key (0 as `kustomize edit` writes, or 2). */
function sequenceIndent(session: EditSession, root: YAMLMap): number {
  for (const pair of root.items) {
    const value = pair.value
    const key = pair.key as YAMLMap
    if (isSeq(value) && !value.flow && value.range && key.range) {
      const keyColumn = key.range[0] - lineStart(session.text, key.range[0])
      return value.range[0] - lineStart(session.text, value.range[0]) - keyColumn
    }
  }
  return 0
}
