import { randomBytes } from 'node:crypto'
import { chmodSync, promises as fs, renameSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs'
import path from 'node:path'
import { ConfigurationError, errorMessage, ExternalError } from '../errors.js'
import { parseImageRef, sameRepository } from '../image-ref.js'
import { readText, type Candidate } from './files.js'
import { globDepth, globToRegExp, hasGlob, staticPrefix } from './glob.js'
import { analyseText, pinText } from './pin-text.js'
import { EditSession } from './file-edits.js'
import { preparePin, type PinTarget } from './pin-target.js'
import type {
  ImagesEntryToAdd,
  PinRequest,
  PinTextOptions,
  PinTextResult,
  PinTreeOptions,
  PinTreeResult,
  Previous
} from './request-and-changes.js'
import { Walk, isUnder, relative } from './walk.js'
import { readOne, WalkWorker, type Mention, type ReadTally } from './workers.js'
import { isParseFailure, parseYamlFile, stringValue, dig } from './yaml-tree.js'

/** The default per-file size limit: larger files are reported, not read. */
export const DEFAULT_MAX_FILE_BYTES = 5 * 1024 * 1024

const KUSTOMIZATION_NAMES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization']
// Bounds on the read-only walk through an overlay's bases, so a cycle or a huge graph cannot run away.
const MAX_BASE_DIRS = 200
const MAX_BASE_FILES = 2000

/**
 * Pin the image in every file under `paths` of the repository at `root`. Throws ConfigurationError for a bad
 * request or a path (or symlink) leading outside the repository; everything about single files is in the result.
 * Writes (atomically) only with `write: true`, and only files whose edit read back as intended.
 */
export async function pinTree(options: PinTreeOptions): Promise<PinTreeResult> {
  const target = preparePin(options.request)
  const maxBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES
  const worker = options.worker?.()
  try {
    return await pinFiles(options, target, maxBytes, worker)
  } finally {
    worker?.stop()
  }
}

/**
 * What a pin of `paths` would find, never applied: each reference's `old` at its line in the original text, even in a
 * file whose edit could not be made. Read-only, one thread.
 */
export async function readTree(
  options: Omit<PinTreeOptions, 'write' | 'check' | 'worker'>
): Promise<PinTreeResult> {
  const target = preparePin(options.request)
  return pinFiles(options, target, options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES, undefined, analyseOnly)
}

function analyseOnly(
  text: string,
  file: string,
  request: PinRequest,
  options?: PinTextOptions
): PinTextResult {
  const session = analyseText(text, file, preparePin(request), options)
  const nothing = { text, changes: [], unchanged: [], notManaged: [], previous: [] }
  if (!(session instanceof EditSession)) return { ...nothing, errors: [session] }
  // An `images:` entry added for an overlay is reported where its base references the image.
  const changes = session.changes.map(change => ({
    file: change.previous?.file ?? file,
    line: change.previous?.line ?? session.line(change.offset),
    old: change.old,
    new: change.new,
    kind: change.kind
  }))
  return {
    ...nothing,
    changes,
    unchanged: session.unchanged,
    notManaged: session.notManaged,
    errors: session.errors
  }
}

async function pinFiles(
  options: PinTreeOptions,
  target: PinTarget,
  maxBytes: number,
  worker: WalkWorker | undefined,
  pinFile: typeof pinText = pinText
): Promise<PinTreeResult> {
  const root = await realRoot(options.root)
  const named = await resolvePaths(root, options.paths)
  const results = new Map<string, { candidate: Candidate; edited: boolean; result: PinTextResult }>()
  const pin = ({ candidate, text }: Mention): void => {
    if (results.has(candidate.real)) return
    const result = pinFile(text, candidate.rel, options.request)
    results.set(candidate.real, { candidate, edited: result.text !== text, result })
  }
  // Each file is read, and pinned if it may mention the image, as the walk finds it.
  const tally: ReadTally = { searched: 0, errors: [] }
  const visit = (candidate: Candidate): void => readOne(candidate, target, maxBytes, tally, pin)
  const walk = Walk.of(root, visit)
  for (const entry of named) if (!entry.isDirectory) walk.addFile(entry.real)
  for (const entry of [...named].reverse()) if (entry.isDirectory) walk.addDirectory(entry.real)
  // Once the worker is ready it walks on while this thread parses what it sends.
  let threads = 1
  if (!walk.run(worker ? () => worker.isReady() : undefined)) {
    const state = walk.state()
    const handed = await worker!.takeOver(state, options.request, maxBytes, pin)
    if (handed) {
      threads = 2
      tally.searched += handed.searched
      tally.errors.push(...handed.errors)
    } else {
      new Walk(state, visit).run()
    }
  }
  const { searched, errors } = tally
  const parsed = results.size

  // An overlay named in `paths` with no reference of its own gets an `images:` entry (never an edit of its base).
  for (const entry of named) {
    if (!entry.isDirectory) continue
    const kustomization = await kustomizationIn(root, entry.real)
    if (!kustomization) continue
    const insideRefs = [...results.values()]
      .filter(({ candidate }) => isUnder(candidate.real, entry.real))
      .flatMap(({ result }) => [...result.changes.map(c => c.old), ...result.unchanged.map(r => r.value)])
    // Any image matches `anyImageRequest`: an image the overlay names does not stand for another its bases name.
    if (insideRefs.length > 0 && !target.anyImage) continue
    let entries = await entriesFromBases(root, entry.real, kustomization, target, maxBytes)
    if (target.anyImage) entries = entries.filter(e => !insideRefs.some(ref => sameName(ref, e.name)))
    if (entries.length === 0) continue
    const candidate = { real: kustomization, rel: relative(root, kustomization) }
    // A kustomization need not mention the image, so even an oversized one is an error here.
    const read = readText(candidate, maxBytes)
    if ('kind' in read) {
      if (!errors.some(e => e.file === read.file)) errors.push(read)
      continue
    }
    const result = pinFile(read.text, candidate.rel, options.request, { addImagesEntries: entries })
    results.set(kustomization, { candidate, edited: result.text !== read.text, result })
  }

  const ordered = [...results.values()].sort((a, b) => compare(a.candidate.rel, b.candidate.rel))
  const edited = ordered.filter(file => file.edited)
  const all = ordered.map(r => r.result)
  const result: PinTreeResult = {
    changes: all.flatMap(r => r.changes),
    unchanged: all.flatMap(r => r.unchanged),
    notManaged: all.flatMap(r => r.notManaged),
    errors: [...errors, ...all.flatMap(r => r.errors)].sort((a, b) => compare(a.file, b.file)),
    previous: all.flatMap(r => r.previous),
    edited: edited.map(({ candidate, result }) => ({ file: candidate.rel, text: result.text })),
    searched,
    parsed,
    threads,
    written: false
  }
  options.check?.(result)
  if (options.write) {
    for (const { candidate, result } of edited) writeAtomically(candidate, result.text)
    result.written = edited.length > 0
  }
  return result
}

async function realRoot(root: string): Promise<string> {
  try {
    const real = await fs.realpath(root)
    if (!(await fs.stat(real)).isDirectory()) throw new Error('not a directory')
    return real
  } catch (error) {
    throw new ConfigurationError(`the repository directory '${root}' cannot be used: ${errorMessage(error)}`)
  }
}

interface NamedPath {
  real: string
  isDirectory: boolean
}

async function resolvePaths(root: string, paths: readonly string[]): Promise<NamedPath[]> {
  const entries = paths.map(p => p.trim().replace(/\\/g, '/')).filter(p => p !== '')
  if (entries.length === 0)
    throw new ConfigurationError(
      "paths is empty: name the files or directories to edit, e.g. 'overlays/prod'"
    )
  const named: NamedPath[] = []
  for (const entry of entries) {
    if (entry.includes('\0')) throw new ConfigurationError(`paths entry '${entry}' contains a NUL character`)
    if (entry.split('/').some(isGitDirName)) {
      throw new ConfigurationError(
        `paths entry '${entry}' names git's own directory (.git), which is never edited: name files of the working tree`
      )
    }
    const lexical = path.resolve(root, entry)
    if (!isUnder(lexical, root)) {
      throw new ConfigurationError(
        `paths entry '${entry}' leads outside the repository: paths are relative to its root`
      )
    }
    if (hasGlob(entry)) {
      const matches = await expandGlob(root, entry)
      if (matches.length === 0)
        throw new ConfigurationError(`paths entry '${entry}' matches nothing in the repository`)
      named.push(...matches)
      continue
    }
    let stats: Stats
    let real: string
    try {
      real = await fs.realpath(lexical)
      stats = await fs.stat(real)
    } catch {
      throw new ConfigurationError(`paths entry '${entry}' does not exist in the repository`)
    }
    if (!isUnder(real, root)) {
      throw new ConfigurationError(
        `paths entry '${entry}' is a symlink that leads outside the repository (to ${real})`
      )
    }
    refuseGitDir(root, real, `paths entry '${entry}'`)
    if (!stats.isDirectory() && !stats.isFile()) {
      // A FIFO would block the read for ever, a device would never end.
      throw new ConfigurationError(`paths entry '${entry}' is neither a regular file nor a directory`)
    }
    named.push({ real, isDirectory: stats.isDirectory() })
  }
  return named
}

/** `.git`, however a case-insensitive file system (macOS runners) would spell it. */
function isGitDirName(name: string): boolean {
  return name.toLowerCase() === '.git'
}

function inGitDir(root: string, real: string): boolean {
  return isUnder(real, path.join(root, '.git'))
}

function refuseGitDir(root: string, real: string, what: string): void {
  if (inGitDir(root, real)) {
    throw new ConfigurationError(
      `${what} leads into git's own directory (.git), which is never edited: name files of the working tree`
    )
  }
}

async function expandGlob(root: string, pattern: string): Promise<NamedPath[]> {
  const regex = globToRegExp(pattern)
  const depth = globDepth(pattern)
  const start = path.resolve(root, staticPrefix(pattern))
  const found: NamedPath[] = []
  const visited = new Set<string>()
  const visit = async (dir: string, rel: string, level: number): Promise<void> => {
    if (visited.has(dir) || level >= depth) return
    visited.add(dir)
    let entries
    try {
      entries = await fs.readdir(dir, { withFileTypes: true })
    } catch {
      return
    }
    for (const dirent of entries.sort((a, b) => compare(a.name, b.name))) {
      if (isGitDirName(dirent.name)) continue
      const childRel = rel === '' ? dirent.name : `${rel}/${dirent.name}`
      let real = path.join(dir, dirent.name)
      let isDirectory = dirent.isDirectory()
      let isFile = dirent.isFile()
      if (dirent.isSymbolicLink()) {
        const resolved = await followLink(real)
        if (!resolved) continue
        if (!isUnder(resolved.real, root)) {
          if (regex.test(childRel)) {
            throw new ConfigurationError(
              `'${childRel}' is a symlink that leads outside the repository (to ${resolved.real})`
            )
          }
          continue
        }
        if (regex.test(childRel)) refuseGitDir(root, resolved.real, `'${childRel}'`)
        else if (inGitDir(root, resolved.real)) continue
        real = resolved.real
        isDirectory = resolved.isDirectory
        isFile = resolved.isFile
      }
      if (regex.test(childRel) && (isDirectory || isFile)) found.push({ real, isDirectory })
      if (isDirectory) await visit(real, childRel, level + 1)
    }
  }
  const prefix = staticPrefix(pattern)
  try {
    const real = await fs.realpath(start)
    if (!isUnder(real, root))
      throw new ConfigurationError(`paths entry '${pattern}' leads outside the repository`)
    await visit(real, prefix, prefix === '' ? 0 : prefix.split('/').length)
  } catch (error) {
    if (error instanceof ConfigurationError) throw error
    return []
  }
  return found
}

async function followLink(
  link: string
): Promise<{ real: string; isDirectory: boolean; isFile: boolean } | undefined> {
  try {
    const real = await fs.realpath(link)
    const stats = await fs.stat(real)
    return { real, isDirectory: stats.isDirectory(), isFile: stats.isFile() }
  } catch {
    return undefined // dangling: nothing to read
  }
}

function writeAtomically(candidate: Candidate, text: string): void {
  const temporary = path.join(
    path.dirname(candidate.real),
    `.${path.basename(candidate.real)}.${randomBytes(6).toString('hex')}.tmp`
  )
  try {
    const { mode } = statSync(candidate.real)
    writeFileSync(temporary, text, { flag: 'wx', mode: mode & 0o777 })
    chmodSync(temporary, mode & 0o7777)
    renameSync(temporary, candidate.real)
  } catch (error) {
    rmSync(temporary, { force: true })
    throw new ExternalError(`could not write ${candidate.rel}: ${errorMessage(error)}`)
  }
}

/** The kustomization file of `dir` (real path), if it has one inside the repository. */
async function kustomizationIn(root: string, dir: string): Promise<string | undefined> {
  for (const name of KUSTOMIZATION_NAMES) {
    const found = await followLink(path.join(dir, name))
    if (found?.isFile && isUnder(found.real, root) && !inGitDir(root, found.real)) return found.real
  }
  return undefined
}

/**
 * The `images:` entries an overlay needs: one per spelling under which its bases (read, never written) reference
 * the image, with what they rendered before. When a base cannot be read (remote, outside the repository), the
 * request's own spelling is used; when every base was read and none references the image, nothing is added.
 */
async function entriesFromBases(
  root: string,
  overlay: string,
  kustomization: string,
  target: PinTarget,
  maxBytes: number
): Promise<ImagesEntryToAdd[]> {
  const found = new Map<string, Previous>()
  let unresolved = false
  const queue = [kustomization]
  const seenDirs = new Set([overlay])
  const seenFiles = new Set<string>()
  const scan = async (file: string): Promise<string | undefined> => {
    if (seenFiles.has(file) || seenFiles.size >= MAX_BASE_FILES) return undefined
    seenFiles.add(file)
    const candidate = { real: file, rel: relative(root, file) }
    const read = readText(candidate, maxBytes)
    if ('kind' in read) {
      unresolved = true
      return undefined
    }
    // Files inside the overlay were searched already; only its bases can add spellings.
    if (!isUnder(file, overlay)) {
      const session = analyseText(read.text, candidate.rel, target)
      if (session instanceof EditSession) {
        for (const change of session.changes) remember(found, change.old, change.previous)
        for (const ref of session.unchanged)
          remember(found, ref.value, { file: ref.file, line: ref.line, old: ref.value })
      }
    }
    return read.text
  }
  while (queue.length > 0 && seenDirs.size <= MAX_BASE_DIRS) {
    const file = queue.shift()!
    const text = await scan(file)
    if (text === undefined) continue
    const yaml = parseYamlFile(text)
    if (isParseFailure(yaml)) {
      unresolved = true
      continue
    }
    const dir = path.dirname(file)
    for (const doc of yaml.docs) {
      for (const key of ['resources', 'bases', 'components', 'patchesStrategicMerge', 'patches']) {
        const list = dig(yaml, doc.contents, key)
        for (const item of list && 'items' in list ? list.items : []) {
          const reference = stringValue(item) ?? stringValue(dig(yaml, item, 'path'))
          if (reference === undefined) continue
          if (/^[a-z]+:\/\/|^git@|^github\.com\/|\?ref=|\/\//.test(reference)) {
            unresolved = true
            continue
          }
          const lexical = path.resolve(dir, reference)
          const resolved = await followLink(lexical)
          if (!resolved || !isUnder(resolved.real, root)) {
            unresolved = true
            continue
          }
          if (resolved.isDirectory) {
            if (seenDirs.has(resolved.real)) continue
            seenDirs.add(resolved.real)
            const next = await kustomizationIn(root, resolved.real)
            if (next) queue.push(next)
            else unresolved = true
          } else if (resolved.isFile && !inGitDir(root, resolved.real)) {
            await scan(resolved.real)
          } else {
            unresolved = true
          }
        }
      }
    }
  }
  // Without a name of its own, `anyImageRequest` has none to add for a base it could not read.
  if (found.size === 0) return unresolved && !target.anyImage ? [{ name: target.request.image }] : []
  return [...found].map(([name, previous]) => ({ name, previous }))
}

function remember(found: Map<string, Previous>, reference: string, previous: Previous | undefined): void {
  const name = nameOf(reference)
  if (name !== undefined && !found.has(name) && previous) found.set(name, previous)
}

function nameOf(reference: string): string | undefined {
  try {
    return parseImageRef(reference).name
  } catch {
    return undefined
  }
}

/** Whether a reference (`name[:tag][@digest]`) and a name spell the same repository. */
function sameName(reference: string, name: string): boolean {
  try {
    return sameRepository(parseImageRef(reference), parseImageRef(name))
  } catch {
    return false
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
