import { isMap, isScalar, isSeq, type Node, type Pair, type YAMLMap } from 'yaml'
import { argoSources } from './argocd.js'
import { blockFields, pinImageBlock, pinReference } from './pin-reference.js'
import type { EditSession } from './file-edits.js'
import type { HelmPathStep } from './pin-target.js'
import { dig, getValue, resolveNode, stringValue } from './yaml-tree.js'

/**
 * The Helm values inside a Kubernetes object: a Flux HelmRelease's `spec.values`, the `helm.valuesObject` of an Argo
 * CD Application's or ApplicationSet's sources.
 */
export function embeddedValues(session: EditSession, root: unknown): unknown[] {
  const { yaml } = session
  if (!isMap(root)) return []
  const kind = stringValue(getValue(yaml, root, 'kind')?.node)
  const apiVersion = stringValue(getValue(yaml, root, 'apiVersion')?.node) ?? ''
  if (kind === 'HelmRelease' && apiVersion.startsWith('helm.toolkit.fluxcd.io/')) {
    return [dig(yaml, root, 'spec', 'values')].filter(Boolean)
  }
  return argoSources(session, root)
    .map(source => dig(yaml, source, 'helm', 'valuesObject'))
    .filter(Boolean)
}

/** Pin the image in Helm values: at the `helm-paths` first, then in the shapes charts commonly use. */
export function pinHelmValues(session: EditSession, values: unknown): void {
  for (const steps of session.target.helmPaths) pinHelmPath(session, values, steps)
  const seen = new Set<Node>()
  const stack: unknown[] = [values]
  while (stack.length > 0) {
    const node = stack.pop()
    if (!isMap(node) && !isSeq(node)) continue
    if (seen.has(node)) continue
    seen.add(node)
    if (isMap(node)) {
      if (!session.isHandled(node) && looksLikeImageBlock(session, node)) {
        if (pinImageBlock(session, node, 'helm-values', 'auto')) continue
      }
      for (const pair of node.items) {
        if (isMap(pair.value) || isSeq(pair.value)) stack.push(pair.value)
        else pinLooseReference(session, pair.value, keyName(pair), pair)
      }
    } else {
      for (const item of node.items) {
        if (isMap(item) || isSeq(item)) stack.push(item)
        else pinLooseReference(session, item, undefined)
      }
    }
  }
}

function keyName(pair: Pair<unknown, unknown>): string | undefined {
  return isScalar(pair.key) && typeof pair.key.value === 'string' ? pair.key.value : undefined
}

function looksLikeImageBlock(session: EditSession, map: YAMLMap): boolean {
  const fields = blockFields(session, map)
  return Boolean(fields.repository)
}

/** A whole reference among values: taken when its key says image, or it is unmistakably one (a path, tag or digest). */
function pinLooseReference(
  session: EditSession,
  raw: unknown,
  key: string | undefined,
  pair?: Pair<unknown, unknown>
): void {
  const node = resolveNode(session.yaml, raw)
  const text = stringValue(node)
  if (text === undefined || session.isHandled(node)) return
  const ref = session.target.match(text)
  if (!ref) return
  const imageKey = key !== undefined && /image$/i.test(key)
  if (imageKey || ref.tag !== undefined || ref.digest !== undefined || ref.name.includes('/')) {
    pinReference(session, raw, 'helm-values', { pair })
  }
}

function pinHelmPath(session: EditSession, values: unknown, steps: HelmPathStep[]): void {
  const { yaml, target } = session
  let node = resolveNode(yaml, values)
  let parent: YAMLMap | undefined
  let pair: Pair<unknown, unknown> | undefined
  let lastKey: string | undefined
  for (const step of steps) {
    if ('key' in step) {
      const found = getValue(yaml, node, step.key)
      if (!found) return
      parent = node as YAMLMap
      pair = found.pair
      lastKey = step.key
      node = found.node
    } else {
      if (!isSeq(node)) return
      parent = undefined
      pair = undefined
      lastKey = undefined
      node = resolveNode(yaml, node.items[step.index])
    }
    if (!node) return
  }
  if (isMap(node)) {
    pinImageBlock(session, node, 'helm-values', 'path')
  } else if (isScalar(node)) {
    if (parent && lastKey !== undefined && ['tag', 'digest', 'repository', 'registry'].includes(lastKey)) {
      pinImageBlock(session, parent, 'helm-values', 'path')
    } else if (target.match(stringValue(node) ?? '')) {
      pinReference(session, pair?.value ?? node, 'helm-values', { pair })
    } else if (!session.isHandled(node)) {
      session.handle(node)
      const shown = stringValue(node) ?? String(node.value)
      session.skip(
        node,
        shown,
        'other-image',
        `the helm path holds '${shown}', which is not a reference to ${target.request.image}`
      )
    }
  }
}
