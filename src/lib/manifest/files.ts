import { closeSync, constants, fstatSync, openSync, readFileSync, readSync } from 'node:fs'
import path from 'node:path'
import { errorMessage } from '../errors.js'
import type { PinTarget } from './pin-target.js'
import type { FileError } from './request-and-changes.js'

/** A file to search: its real path, and its path relative to the root with '/' separators. */
export interface Candidate {
  real: string
  rel: string
}

/**
 * Read a candidate and decide whether to parse it: its text when it may mention the image, 'no-mention' when it
 * cannot (or is over the size limit and cannot), or why it could not be read.
 */
export function readCandidate(
  candidate: Candidate,
  maxBytes: number,
  target: PinTarget
): { text: string } | 'no-mention' | FileError {
  const bytes = readBytes(candidate, maxBytes, target)
  if (bytes === 'skip') return 'no-mention'
  if (!Buffer.isBuffer(bytes)) return bytes
  // The prefilter runs on bytes: only the few files that may mention the image are decoded and parsed.
  if (!mayMention(bytes, candidate.rel, target)) return 'no-mention'
  return decode(candidate, bytes)
}

/** values.yaml, values-prod.yaml, prod.values.yml, …: every document is Helm values. */
export function isValuesFile(file: string): boolean {
  return /^(?:.*[._-])?values(?:[._-].*)?\.ya?ml$/i.test(path.basename(file))
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

/**
 * The file's bytes; 'skip' for a file over the size limit that cannot mention the target's image (scanned in chunks,
 * not read whole), an error for one that may; without a target, an error for any. Synchronous: thousands of small
 * reads are faster so.
 */
function readBytes(candidate: Candidate, maxBytes: number, target?: PinTarget): Buffer | 'skip' | FileError {
  let fd: number | undefined
  try {
    // Non-blocking, and checked: a file swapped for a FIFO after the walk saw it must not hang the step.
    fd = openSync(candidate.real, constants.O_RDONLY | constants.O_NONBLOCK)
    if (!fstatSync(fd).isFile()) throw new Error('not a regular file')
    // Most files fit the buffer: a read that leaves room in it has reached the end (a regular file's read returns
    // all it can), so the size is asked again only of the few that fill it.
    const first = readSync(fd, scratch, 0, scratch.length, 0)
    if (first < scratch.length && first <= maxBytes) return scratch.subarray(0, first)
    const { size } = fstatSync(fd)
    if (size <= maxBytes) return readInto(fd, size)
    if (target && !largeFileMayMention(fd, candidate.rel, target)) return 'skip'
    return {
      file: candidate.rel,
      kind: 'too-large',
      message: `${candidate.rel} mentions the image but is ${size} bytes, over the limit of ${maxBytes} bytes per file: it was not edited (split it, or raise the limit: bump-manifest's max-file-size)`
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
    const read = readSync(fd, scratch, length, scratch.length - length, length)
    if (read === 0) break
    length += read
    // The file grew while being read: read whatever it now holds (the reads above name their positions, so the
    // descriptor's own position is still at the start).
    if (length === scratch.length) return readFileSync(fd)
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

/** A file's whole text, whatever it mentions (a kustomization, a base): one over the size limit is an error. */
export function readText(candidate: Candidate, maxBytes: number): { text: string } | FileError {
  const bytes = readBytes(candidate, maxBytes)
  if (bytes === 'skip') throw new Error(`${candidate.rel} was skipped though no image was looked for`)
  return Buffer.isBuffer(bytes) ? decode(candidate, bytes) : bytes
}
