import { isScalar } from 'yaml'
import { pinArgoSources } from './argocd.js'
import { isValuesFile } from './files.js'
import { embeddedValues, pinHelmValues } from './helm-values.js'
import {
  addImagesEntries,
  isFluxKustomization,
  isKustomization,
  pinImagesEntries
} from './kustomize-images.js'
import { mayHaveMarkers, pinMarkedValues } from './markers.js'
import { EditSession } from './file-edits.js'
import { applySplices, lineLookup, type Splice } from './source-text.js'
import { preparePin, type PinTarget } from './pin-target.js'
import type { Change, FileError, PinRequest, PinTextOptions, PinTextResult } from './request-and-changes.js'
import { dig, getValue, isParseFailure, parseYamlFile, stringValue, verifyEdit } from './yaml-tree.js'
import { pinJsonPatch, pinWorkload } from './workloads.js'

/**
 * Pin the image in one file's text. Pure: returns the new text (only the image values' bytes differ), what
 * changed, what was found and left alone, and why the file was left untouched if it was.
 */
export function pinText(
  text: string,
  file: string,
  request: PinRequest,
  options: PinTextOptions = {}
): PinTextResult {
  const analysis = analyseText(text, file, preparePin(request), options)
  const untouched = { text, changes: [], previous: [] }
  if (!(analysis instanceof EditSession)) {
    return { ...untouched, unchanged: [], notManaged: [], errors: [analysis] }
  }
  const session = analysis
  const rest = { unchanged: session.unchanged, notManaged: session.notManaged }
  // A file its own tool would refuse is left as it is: pinning it would not make it deployable.
  if (session.splices.length === 0 || session.errors.length > 0)
    return { ...untouched, ...rest, errors: session.errors }
  const refuse = (problem: string): PinTextResult => ({
    ...untouched,
    ...rest,
    errors: [{ file, kind: 'verify', message: `${file} was left untouched: the edit ${problem}` }]
  })
  let edited: string
  try {
    edited = applySplices(text, session.splices)
  } catch (error) {
    return refuse(`overlaps another (${String(error)})`)
  }
  const problem = verifyEdit(session.yaml, edited, session.splices, session.expectations)
  if (problem) return refuse(`would not read back as intended: ${problem}`)
  const newLine = lineLookup(edited)
  const shift = offsetShifter(session.splices)
  const changes: Change[] = session.changes.map(pending => {
    // A splice of the change's own, ending at its offset, belongs after it: its length is not counted.
    const own = pending.own && pending.own.end <= pending.offset ? delta(pending.own) : 0
    const shared = pending.aliasOffsets?.map(offset => newLine(shift(offset)))
    return {
      file,
      line: newLine(shift(pending.offset) - own) + (pending.extraLines ?? 0),
      old: pending.old,
      new: pending.new,
      kind: pending.kind,
      ...(shared ? { aliasLines: shared } : {})
    }
  })
  changes.sort((a, b) => a.line - b.line)
  const previous = session.changes
    .flatMap(c => (c.previous ? [c.previous] : []))
    .sort((a, b) => a.line - b.line)
  return { text: edited, changes, previous, ...rest, errors: [] }
}

/**
 * `shiftOffset` for many offsets of one edit: splices sorted by end once, with running sums of the length they
 * add, so a file with tens of thousands of references is not quadratic.
 */
function offsetShifter(splices: readonly Splice[]): (offset: number) => number {
  const sorted = [...splices].sort((a, b) => a.end - b.end)
  const ends = sorted.map(splice => splice.end)
  const sums: number[] = [0]
  for (const splice of sorted) sums.push(sums[sums.length - 1]! + delta(splice))
  return offset => {
    // The number of splices ending at or before the offset.
    let low = 0
    let high = ends.length
    while (low < high) {
      const mid = (low + high) >>> 1
      if (ends[mid]! <= offset) low = mid + 1
      else high = mid
    }
    return offset + sums[low]!
  }
}

function delta(splice: Splice): number {
  return splice.text.length - (splice.end - splice.start)
}

/**
 * Find every reference in the text and plan its edit, without applying anything. Returns the session holding
 * the plan, or the parse error that leaves the file untouched.
 */
export function analyseText(
  text: string,
  file: string,
  target: PinTarget,
  options: PinTextOptions = {}
): EditSession | FileError {
  const yaml = parseYamlFile(text)
  if (isParseFailure(yaml)) {
    return {
      file,
      ...(yaml.line !== undefined ? { line: yaml.line } : {}),
      kind: 'parse',
      message: `${file}${yaml.line !== undefined ? `:${yaml.line}` : ''} is not valid YAML and was left untouched: ${yaml.message}`
    }
  }
  const session = new EditSession(yaml, file, target)
  // Markers first: a person said explicitly what the value is.
  if (mayHaveMarkers(session)) pinMarkedValues(session)
  const valuesFile = isValuesFile(file)
  yaml.docs.forEach((doc, index) => {
    const root = doc.contents
    if (isKustomization(session, root)) {
      const found = pinImagesEntries(session, getValue(yaml, root, 'images')?.raw)
      const charts = dig(yaml, root, 'helmCharts')
      for (const chart of charts && 'items' in charts ? charts.items : []) {
        const inline = dig(yaml, chart, 'valuesInline')
        if (inline) pinHelmValues(session, inline)
      }
      // Every image matches `anyImageRequest`: entries it names do not stand for the images of the bases.
      if ((!found || session.target.anyImage) && options.addImagesEntries?.length) {
        addImagesEntries(session, index, root, options.addImagesEntries)
      }
      return
    }
    if (isFluxKustomization(session, root)) pinImagesEntries(session, dig(yaml, root, 'spec', 'images'))
    // Flux's ImageRepository names the repository to scan, not something deployed: neither edit nor report it.
    if (stringValue(dig(yaml, root, 'kind')) === 'ImageRepository')
      session.handle(dig(yaml, root, 'spec', 'image'))
    pinArgoSources(session, root)
    pinWorkload(session, root)
    pinJsonPatch(session, root)
    for (const values of embeddedValues(session, root)) pinHelmValues(session, values)
    if (valuesFile) pinHelmValues(session, root)
  })
  // A listing (`anyImageRequest`) takes no mention as the image's, so it has nothing to report.
  if (!target.anyImage) reportUnmanaged(session)
  return session
}

/** Report mentions of the image no editor took: in prose, inline patches, block scalars, unknown fields. */
function reportUnmanaged(session: EditSession): void {
  const { yaml, target, text } = session
  const image = target.request.image
  for (const [node, info] of yaml.info) {
    if (info.role === 'key' || !isScalar(node) || typeof node.value !== 'string' || session.isHandled(node))
      continue
    const value = node.value
    if (!target.needles.some(needle => value.includes(needle))) continue
    const whole = value.trim()
    if (!/\s/.test(whole)) {
      const ref = target.match(whole)
      if (ref) {
        if (unmistakable(ref)) {
          session.skip(
            node,
            whole,
            'unrecognised-location',
            `${whole} is not in a place digest-delivery edits (containers, Kustomize images, Helm values): add the comment "# digest-delivery: ${image}" after it to have it pinned`
          )
        }
        continue
      }
    }
    const range = node.range!
    let cursor = range[0]
    for (const raw of value.split(/[\s"'`,;()<>{}[\]=|]+/)) {
      const token = raw.replace(/[.:,;]+$/, '')
      const ref = token === '' ? undefined : target.match(token)
      if (!ref || !unmistakable(ref)) continue
      const at = text.indexOf(token, cursor)
      const offset = at >= 0 && at < range[1] ? at : range[0]
      if (at >= 0 && at < range[1]) cursor = at + token.length
      session.skip(
        node,
        token,
        'inside-string',
        `${token} is written inside a string (an inline patch, a block scalar, an argument), which digest-delivery does not edit: move it to an image field, or pin it by hand`,
        offset
      )
    }
  }
}

// A bare short name (`redis`) in a string is more often a word or a container name than a reference.
function unmistakable(ref: { name: string; tag?: string; digest?: string }): boolean {
  return ref.tag !== undefined || ref.digest !== undefined || ref.name.includes('/')
}
