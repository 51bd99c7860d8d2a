import { randomBytes } from 'node:crypto'
import {
  closeSync,
  fstatSync,
  openSync,
  promises as fs,
  readdirSync,
  readFileSync,
  readSync,
  realpathSync,
  statSync,
  type Stats
} from 'node:fs'
import path from 'node:path'
import { ConfigurationError, errorMessage, ExternalError } from '../errors.js'
import { parseImageRef } from '../image-ref.js'
import { globDepth, globToRegExp, hasGlob, staticPrefix } from './glob.js'
import { isValuesFile } from './helm-values.js'
import { analyseText, pinText } from './pin-text.js'
import { EditSession } from './session.js'
import { preparePin, type PinTarget } from './target.js'
import type {
  FileError,
  ImagesEntryToAdd,
  PinTextResult,
  PinTreeOptions,
  PinTreeResult,
  Previous
} from './types.js'
import { isParseFailure, parseYamlFile, stringValue, dig } from './yaml-tree.js'

/** The default per-file size limit: larger files are reported, not read. */
export const DEFAULT_MAX_FILE_BYTES = 5 * 1024 * 1024

const KUSTOMIZATION_NAMES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization']
// Bounds on the read-only walk through an overlay's bases, so a cycle or a huge graph cannot run away.
const MAX_BASE_DIRS = 200
const MAX_BASE_FILES = 2000

/** A file to search: its real path, and its path relative to the root with '/' separators. */
interface Candidate {
  real: string
  rel: string
}

interface Walk {
  root: string
  files: Map<string, Candidate>
  visitedDirs: Set<string>
}

/**
 * Pin the image in every file under `paths` of the repository at `root`. Throws ConfigurationError for a bad
 * request or a path (or symlink) leading outside the repository; everything about single files is in the result.
 * Writes (atomically) only with `write: true`, and only files whose edit read back as intended.
 */
export async function pinTree(options: PinTreeOptions): Promise<PinTreeResult> {
  const target = preparePin(options.request)
  const maxBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES
  const root = await realRoot(options.root)
  const named = await resolvePaths(root, options.paths)
  const walk: Walk = { root, files: new Map(), visitedDirs: new Set() }
  for (const entry of named) {
    if (entry.isDirectory) walkDirectory(walk, entry.real)
    else addCandidate(walk, entry.real)
  }
  const candidates = [...walk.files.values()].sort((a, b) => compare(a.rel, b.rel))

  const results = new Map<string, { candidate: Candidate; original: string; result: PinTextResult }>()
  const errors: FileError[] = []
  let searched = 0
  for (const candidate of candidates) {
    const bytes = readBytes(candidate, maxBytes, target)
    if (bytes !== 'skip' && !Buffer.isBuffer(bytes)) {
      errors.push(bytes)
      continue
    }
    searched++
    if (bytes === 'skip') continue
    // The prefilter runs on bytes: only the few files that may mention the image are decoded and parsed.
    if (!mayMention(bytes, candidate.rel, target)) continue
    const read = decode(candidate, bytes)
    if ('kind' in read) {
      errors.push(read)
      continue
    }
    results.set(candidate.real, {
      candidate,
      original: read.text,
      result: pinText(read.text, candidate.rel, options.request)
    })
  }
  const parsed = results.size

  // An overlay named in `paths` with no reference of its own gets an `images:` entry (never an edit of its base).
  for (const entry of named) {
    if (!entry.isDirectory) continue
    const kustomization = await kustomizationIn(root, entry.real)
    if (!kustomization) continue
    const inside = [...results.values()].some(
      ({ candidate, result }) =>
        isUnder(candidate.real, entry.real) && (result.changes.length > 0 || result.unchanged.length > 0)
    )
    if (inside) continue
    const entries = await entriesFromBases(root, entry.real, kustomization, target, maxBytes)
    if (entries.length === 0) continue
    const candidate = { real: kustomization, rel: relative(root, kustomization) }
    // A kustomization need not mention the image, so even an oversized one is an error here.
    const read = readText(candidate, maxBytes, { ...target, needles: [''] })
    if (read === 'skip') continue
    if ('kind' in read) {
      if (!errors.some(e => e.file === read.file)) errors.push(read)
      continue
    }
    results.set(kustomization, {
      candidate,
      original: read.text,
      result: pinText(read.text, candidate.rel, options.request, { addImagesEntries: entries })
    })
  }

  const ordered = [...results.values()].sort((a, b) => compare(a.candidate.rel, b.candidate.rel))
  const edited = ordered.filter(({ result, original }) => result.text !== original)
  if (options.write) {
    for (const { candidate, result } of edited) await writeAtomically(candidate, result.text)
  }
  const all = ordered.map(r => r.result)
  return {
    changes: all.flatMap(r => r.changes),
    unchanged: all.flatMap(r => r.unchanged),
    notManaged: all.flatMap(r => r.notManaged),
    errors: [...errors, ...all.flatMap(r => r.errors)].sort((a, b) => compare(a.file, b.file)),
    previous: all.flatMap(r => r.previous),
    edited: edited.map(({ candidate, result }) => ({ file: candidate.rel, text: result.text })),
    searched,
    parsed,
    written: Boolean(options.write) && edited.length > 0
  }
}

/** Cheap text test: could this file hold a reference the request pins? Only those are parsed. */
export function mayMention(text: string | Buffer, file: string, target: PinTarget): boolean {
  if (target.needles.some(needle => text.includes(needle))) return true
  if (target.policy && text.includes('$imagepolicy') && text.includes(target.policy.name)) return true
  if (target.helmPaths.length === 0) return false
  return (
    isValuesFile(file) || ['HelmRelease', 'valuesObject', 'valuesInline'].some(word => text.includes(word))
  )
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
    named.push({ real, isDirectory: stats.isDirectory() })
  }
  return named
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
      if (dirent.name === '.git') continue
      const childRel = rel === '' ? dirent.name : `${rel}/${dirent.name}`
      let real = path.join(dir, dirent.name)
      let isDirectory = dirent.isDirectory()
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
        real = resolved.real
        isDirectory = resolved.isDirectory
      }
      if (regex.test(childRel)) found.push({ real, isDirectory })
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

async function followLink(link: string): Promise<{ real: string; isDirectory: boolean } | undefined> {
  try {
    const real = await fs.realpath(link)
    return { real, isDirectory: (await fs.stat(real)).isDirectory() }
  } catch {
    return undefined // dangling: nothing to read
  }
}

function followLinkSync(link: string): { real: string; isDirectory: boolean } | undefined {
  try {
    const real = realpathSync.native(link)
    return { real, isDirectory: statSync(real).isDirectory() }
  } catch {
    return undefined // dangling: nothing to read
  }
}

function isCandidateName(name: string): boolean {
  return /\.ya?ml$/i.test(name) || name === 'Kustomization'
}

function addCandidate(walk: Walk, real: string): void {
  if (!walk.files.has(real)) walk.files.set(real, { real, rel: relative(walk.root, real) })
}

function walkDirectory(walk: Walk, dir: string): void {
  if (walk.visitedDirs.has(dir)) return
  walk.visitedDirs.add(dir)
  // Synchronous, like the reads: a tree of thousands of small directories walks several times faster so.
  const entries = readdirSync(dir, { withFileTypes: true })
  // `dir` is a real path, so joining needs no normalising.
  const prefix = dir.endsWith(path.sep) ? dir : dir + path.sep
  for (const dirent of entries) {
    if (dirent.name === '.git') continue
    const full = prefix + dirent.name
    if (dirent.isSymbolicLink()) {
      const resolved = followLinkSync(full)
      if (!resolved) continue
      if (!resolved.isDirectory && !isCandidateName(dirent.name)) continue
      if (!isUnder(resolved.real, walk.root)) {
        throw new ConfigurationError(
          `'${relative(walk.root, full)}' is a symlink that leads outside the repository (to ${resolved.real}): remove it or leave its directory out of paths`
        )
      }
      if (resolved.isDirectory) walkDirectory(walk, resolved.real)
      else addCandidate(walk, resolved.real)
    } else if (dirent.isDirectory()) {
      walkDirectory(walk, full)
    } else if (dirent.isFile() && isCandidateName(dirent.name)) {
      addCandidate(walk, full)
    }
  }
}

/**
 * The file's bytes; 'skip' for a file over the size limit that cannot mention the image (scanned in chunks, not
 * read whole), an error for one that may. Synchronous: thousands of small reads are faster so.
 */
function readBytes(candidate: Candidate, maxBytes: number, target: PinTarget): Buffer | 'skip' | FileError {
  let fd: number | undefined
  try {
    fd = openSync(candidate.real, 'r')
    const { size } = fstatSync(fd)
    if (size <= maxBytes) return readInto(fd, size)
    if (!largeFileMayMention(fd, candidate.rel, target)) return 'skip'
    return {
      file: candidate.rel,
      kind: 'too-large',
      message: `${candidate.rel} mentions the image but is ${size} bytes, over the limit of ${maxBytes} bytes per file: it was not edited (split it, or raise the limit)`
    }
  } catch (error) {
    return {
      file: candidate.rel,
      kind: 'unreadable',
      message: `${candidate.rel} cannot be read: ${errorMessage(error)}`
    }
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

let scratch = Buffer.alloc(64 * 1024)

/**
 * Reads a whole file into one reused buffer: most files are only searched, never kept, so allocating a buffer per
 * file would mostly feed the garbage collector. The view is valid until the next read; callers copy what they keep.
 */
function readInto(fd: number, size: number): Buffer {
  if (scratch.length < size + 1) scratch = Buffer.alloc(Math.max(size + 1, scratch.length * 2))
  let length = 0
  for (;;) {
    const read = readSync(fd, scratch, length, scratch.length - length, null)
    if (read === 0) break
    length += read
    // The file grew while being read: fall back to a plain read of whatever it now holds.
    if (length === scratch.length) return Buffer.concat([scratch, readFileSync(fd)])
  }
  return scratch.subarray(0, length)
}

function largeFileMayMention(fd: number, file: string, target: PinTarget): boolean {
  const chunk = Buffer.alloc(1024 * 1024)
  // Consecutive chunks overlap by more than any needle, so none is missed at a boundary.
  const overlap = 1024
  let position = 0
  for (;;) {
    const read = readSync(fd, chunk, 0, chunk.length, position)
    if (read === 0) return false
    if (mayMention(chunk.subarray(0, read), file, target)) return true
    if (read < chunk.length) return false
    position += read - overlap
  }
}

/** The file's text; a file that is not UTF-8 is an error, since writing it back would corrupt it. */
function decode(candidate: Candidate, bytes: Buffer): { text: string } | FileError {
  try {
    return { text: new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes) }
  } catch {
    return {
      file: candidate.rel,
      kind: 'encoding',
      message: `${candidate.rel} is not UTF-8 text: it was not searched`
    }
  }
}

function readText(
  candidate: Candidate,
  maxBytes: number,
  target: PinTarget
): { text: string } | 'skip' | FileError {
  const bytes = readBytes(candidate, maxBytes, target)
  return Buffer.isBuffer(bytes) ? decode(candidate, bytes) : bytes
}

async function writeAtomically(candidate: Candidate, text: string): Promise<void> {
  const temporary = path.join(
    path.dirname(candidate.real),
    `.${path.basename(candidate.real)}.${randomBytes(6).toString('hex')}.tmp`
  )
  try {
    const { mode } = await fs.stat(candidate.real)
    await fs.writeFile(temporary, text, { flag: 'wx', mode: mode & 0o777 })
    await fs.chmod(temporary, mode & 0o7777)
    await fs.rename(temporary, candidate.real)
  } catch (error) {
    await fs.rm(temporary, { force: true })
    throw new ExternalError(`could not write ${candidate.rel}: ${errorMessage(error)}`)
  }
}

/** The kustomization file of `dir` (real path), if it has one inside the repository. */
async function kustomizationIn(root: string, dir: string): Promise<string | undefined> {
  for (const name of KUSTOMIZATION_NAMES) {
    const found = await followLink(path.join(dir, name))
    if (found && !found.isDirectory && isUnder(found.real, root)) return found.real
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
    const read = readText(candidate, maxBytes, { ...target, needles: [''] })
    if (read === 'skip' || 'kind' in read) {
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
          } else {
            await scan(resolved.real)
          }
        }
      }
    }
  }
  if (found.size === 0) return unresolved ? [{ name: target.request.image }] : []
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

function isUnder(child: string, parent: string): boolean {
  const rel = path.relative(parent, child)
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel))
}

function relative(root: string, file: string): string {
  // The walk asks for thousands of these, nearly all for a path inside the root.
  const prefix = root.endsWith(path.sep) ? root : root + path.sep
  const rel = file.startsWith(prefix) ? file.slice(prefix.length) : path.relative(root, file)
  return path.sep === '/' ? rel : rel.split(path.sep).join('/')
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
