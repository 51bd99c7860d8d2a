import path from 'node:path'
import { isMap, isScalar, isSeq, type Node, type Scalar, type YAMLMap } from 'yaml'
import { parseImageRef, type ImageRef } from '../image-ref.js'
import { pinImageBlock, pinReference, type BlockFields, type Field } from './pin-reference.js'
import type { EditSession } from './file-edits.js'
import { dig, findPair, getValue, resolveNode, stringValue } from './yaml-tree.js'

/**
 * The Argo CD sources of a document: an Application's `spec.source` and `spec.sources[*]`, an ApplicationSet's
 * `spec.template.spec.source(s)`, or the whole document of a parameter override file (`.argocd-source.yaml`,
 * `.argocd-source-<app>.yaml`, which Argo CD Image Updater writes back), which holds the same `kustomize` and `helm`.
 */
export function argoSources(session: EditSession, root: unknown): unknown[] {
  const { yaml } = session
  if (isOverrideFile(session.file)) return [root]
  if (!isMap(root)) return []
  const kind = stringValue(getValue(yaml, root, 'kind')?.node)
  const apiVersion = stringValue(getValue(yaml, root, 'apiVersion')?.node) ?? ''
  if (!apiVersion.startsWith('argoproj.io/')) return []
  const spec =
    kind === 'Application'
      ? dig(yaml, root, 'spec')
      : kind === 'ApplicationSet'
        ? dig(yaml, root, 'spec', 'template', 'spec')
        : undefined
  if (!spec) return []
  const sources = dig(yaml, spec, 'sources')
  return [dig(yaml, spec, 'source'), ...(isSeq(sources) ? sources.items : [])].filter(Boolean)
}

/** Argo CD reads `.argocd-source.yaml` and `.argocd-source-<app>.yaml` beside the source's files. */
export function isOverrideFile(file: string): boolean {
  return /^\.argocd-source(?:-.+)?\.yaml$/.test(path.basename(file))
}

/** Pin the image in every Argo CD source of the document: `kustomize.images` and `helm.parameters`. */
export function pinArgoSources(session: EditSession, root: unknown): void {
  for (const source of argoSources(session, root)) {
    const kustomize = getValue(session.yaml, source, 'kustomize')?.node
    const images = getValue(session.yaml, kustomize, 'images')
    if (images) pinKustomizeImages(session, images.raw)
    const helm = getValue(session.yaml, source, 'helm')?.node
    const parameters = getValue(session.yaml, helm, 'parameters')
    if (parameters) pinHelmParameters(session, parameters.raw)
  }
}

/**
 * `kustomize.images`: strings Argo CD hands to `kustomize edit set image` (Kustomize 5): `name:tag`, `name@digest`,
 * `name:tag@digest`, or any of them after `alias=` to replace the image `alias`. The pinned entry is
 * `[alias=]name[:tag]@digest`, the name spelled as it was.
 */
function pinKustomizeImages(session: EditSession, raw: unknown): void {
  const list = resolveNode(session.yaml, raw)
  if (!isSeq(list)) {
    refuse(session, list, 'kustomize.images must be a list of strings such as name:tag or alias=name:tag')
    return
  }
  for (const item of list.items) {
    const node = resolveNode(session.yaml, item)
    if (!node || session.isHandled(node)) continue
    const text = stringValue(node)
    if (text === undefined) {
      refuse(
        session,
        node,
        `an entry of Argo CD's kustomize.images is a string such as name:tag or alias=name:tag, not a ${isMap(node) ? 'map' : isSeq(node) ? 'list' : 'number or boolean'}`
      )
      continue
    }
    if (isScalar(node)) pinImageOverride(session, node, text)
  }
}

function pinImageOverride(session: EditSession, node: Scalar, text: string): void {
  const { target } = session
  const equals = text.indexOf('=')
  const alias = equals < 0 ? undefined : text.slice(0, equals)
  const image = text.slice(equals + 1)
  const ref = tryParse(image)
  if (!ref || !target.match(image)) {
    // Another image is not ours (nor is ours renamed to another by `alias=`); anything else that mentions the image
    // (a variable, a template) is an entry this cannot pin.
    if (ref) session.handle(node)
    else
      refuse(
        session,
        node,
        `'${text}' is not an image override Argo CD reads (name:tag, name@digest, alias=name:tag; no variables): pin it by hand`
      )
    return
  }
  session.handle(node)
  if (alias === undefined && ref.tag === undefined && ref.digest === undefined) {
    session.skip(
      node,
      text,
      'unsupported-shape',
      `'${text}' has no tag, digest or alias=, so Kustomize refuses it: write it as name:tag to have it pinned`
    )
    return
  }
  const pinned = target.pinned(ref.name)
  const value = `${alias === undefined ? '' : `${alias}=`}${pinned}`
  if (value === text) {
    session.found(node, pinned, 'kustomize-images')
    return
  }
  if (session.setScalar(node, value)) session.change(node, image, pinned, 'kustomize-images')
}

/**
 * `helm.parameters`: `{name, value, forceString}` maps. A value holding a whole reference is pinned as it is;
 * parameters `<prefix>.name` (or `.repository`), `.registry`, `.tag` and `.digest` are read together as one image
 * block, as in Helm values (`image.name` and `image.tag` are what Argo CD Image Updater writes).
 */
function pinHelmParameters(session: EditSession, raw: unknown): void {
  const { yaml } = session
  const list = resolveNode(yaml, raw)
  if (!isSeq(list)) {
    refuse(session, list, 'helm.parameters must be a list of {name, value} maps')
    return
  }
  const blocks = new Map<string, { first: YAMLMap; fields: BlockFields; twice?: string }>()
  for (const item of list.items) {
    const parameter = resolveNode(yaml, item)
    if (!isMap(parameter)) {
      refuse(session, parameter, 'a helm parameter must be a map with name and value')
      continue
    }
    const name = stringValue(getValue(yaml, parameter, 'name')?.node)
    const value = findPair(yaml, parameter, 'value')
    const node = value && resolveNode(yaml, value.pair.value)
    if (name === undefined || !value || !isScalar(node)) {
      refuse(session, parameter, 'a helm parameter needs a string name and a single value')
      continue
    }
    const dot = name.lastIndexOf('.')
    const role = ROLES.get(name.slice(dot + 1))
    if (!role) {
      const ref = tryParse(stringValue(node) ?? '')
      if (ref && (ref.tag !== undefined || ref.digest !== undefined || ref.name.includes('/')))
        pinReference(session, value.pair.value, 'helm-values', { pair: value.pair })
      continue
    }
    const prefix = name.slice(0, dot + 1)
    const block = blocks.get(prefix) ?? { first: parameter, fields: {} }
    blocks.set(prefix, block)
    if (block.fields[role]) block.twice = name
    block.fields[role] = { pair: value.pair, node, owner: parameter } satisfies Field
  }
  for (const { first, fields, twice } of blocks.values()) {
    const repository = fields.repository && stringValue(fields.repository.node)
    if (!repository || !session.target.match(repository)) continue
    if (twice) {
      const nodes = Object.values(fields).map(f => f.node)
      session.handle(...nodes)
      session.skip(
        fields.repository!.node,
        repository,
        'unsupported-shape',
        `the helm parameter ${twice} is set twice: keep one to have the image pinned`
      )
      continue
    }
    pinImageBlock(session, first, 'helm-values', 'auto', fields)
  }
}

const ROLES = new Map<string, keyof BlockFields>([
  ['name', 'repository'],
  ['repository', 'repository'],
  ['registry', 'registry'],
  ['tag', 'tag'],
  ['digest', 'digest']
])

/** Report a node of the wrong shape when it mentions the image (else it is none of our business). */
function refuse(session: EditSession, node: Node | undefined, message: string): void {
  if (!node?.range || session.isHandled(node)) return
  const source = session.text.slice(node.range[0], node.range[1])
  const needle = session.target.needles.find(n => source.includes(n))
  if (needle === undefined) return
  handleAll(session, node)
  const shown = source.split(/\r?\n/)[0]!.trim()
  session.skip(node, shown, 'unsupported-shape', message)
}

/** Mark a node and everything in it as looked after, so no mention in it is reported twice. */
function handleAll(session: EditSession, node: unknown): void {
  session.handle(node)
  const children = isMap(node)
    ? node.items.flatMap(pair => [pair.key, pair.value])
    : isSeq(node)
      ? node.items
      : []
  for (const child of children) handleAll(session, child)
}

function tryParse(text: string): ImageRef | undefined {
  try {
    return parseImageRef(text)
  } catch {
    return undefined
  }
}
