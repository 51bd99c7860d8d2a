import { isMap, isSeq } from 'yaml'
import { pinReference } from './pin-reference.js'
import type { EditSession } from './file-edits.js'
import { dig, getValue, resolveNode, stringValue } from './yaml-tree.js'

// Where each kind keeps its Pod spec.
const POD_SPEC: Record<string, string[]> = {
  Pod: ['spec'],
  PodTemplate: ['template', 'spec'],
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  ReplicationController: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
  Rollout: ['spec', 'template', 'spec']
}
const CONTAINER_LISTS = ['containers', 'initContainers', 'ephemeralContainers']
const LIST_DEPTH = 4

/** Pin `image:` of every container of a workload (or of each item of a `List`), whole or as a patch. */
export function pinWorkload(session: EditSession, root: unknown, depth = 0): void {
  const object = resolveNode(session.yaml, root)
  if (!isMap(object)) return
  const kind = stringValue(getValue(session.yaml, object, 'kind')?.node)
  if (kind === undefined) return
  if (kind.endsWith('List') && depth < LIST_DEPTH) {
    const items = getValue(session.yaml, object, 'items')?.node
    if (isSeq(items)) for (const item of items.items) pinWorkload(session, item, depth + 1)
    return
  }
  const path = POD_SPEC[kind]
  if (!path) return
  // Rollout is Argo Rollouts' kind; another group's Rollout need not hold a Pod template.
  const apiVersion = stringValue(getValue(session.yaml, object, 'apiVersion')?.node)
  if (kind === 'Rollout' && apiVersion !== undefined && !apiVersion.startsWith('argoproj.io/')) return
  const podSpec = dig(session.yaml, object, ...path)
  if (!isMap(podSpec)) return
  for (const listName of CONTAINER_LISTS) {
    const list = getValue(session.yaml, podSpec, listName)?.node
    if (!isSeq(list)) continue
    for (const item of list.items) {
      const image = getValue(session.yaml, resolveNode(session.yaml, item), 'image')
      if (image) pinReference(session, image.raw, 'workload', { pair: image.pair })
    }
  }
}

/** Pin the `value` of JSON 6902 patch operations that replace or add a container's `/image`. */
export function pinJsonPatch(session: EditSession, root: unknown): void {
  const ops = resolveNode(session.yaml, root)
  if (!isSeq(ops)) return
  for (const item of ops.items) {
    const op = resolveNode(session.yaml, item)
    if (!isMap(op)) continue
    const verb = stringValue(getValue(session.yaml, op, 'op')?.node)
    const path = stringValue(getValue(session.yaml, op, 'path')?.node)
    if ((verb !== 'replace' && verb !== 'add') || !path?.endsWith('/image')) continue
    const value = getValue(session.yaml, op, 'value')
    if (value) pinReference(session, value.raw, 'json-patch', { pair: value.pair })
  }
}
