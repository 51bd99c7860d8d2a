import { readdirSync, realpathSync, statSync } from 'node:fs'
import path from 'node:path'
import { ConfigurationError } from '../errors.js'
import type { Candidate } from './files.js'

/**
 * A walk through the repository's directories, as plain data so that it can be handed to another thread half-way:
 * the directories still to list, and what was seen (real paths), so that a symlink loop or a second way to the same
 * file is followed once.
 */
export interface WalkState {
  root: string
  pending: string[]
  visitedDirs: string[]
  files: string[]
}

/** A walk in progress: its state, and what to do with each file found. */
export class Walk {
  private readonly pending: string[]
  private readonly visitedDirs: Set<string>
  private readonly files: Set<string>
  readonly root: string

  constructor(
    state: WalkState,
    private readonly visit: (candidate: Candidate) => void
  ) {
    this.root = state.root
    this.pending = [...state.pending]
    this.visitedDirs = new Set(state.visitedDirs)
    this.files = new Set(state.files)
  }

  /** A walk of nothing yet under `root` (a real path). */
  static of(root: string, visit: (candidate: Candidate) => void): Walk {
    return new Walk({ root, pending: [], visitedDirs: [], files: [] }, visit)
  }

  /** Queue a directory (a real path inside the root) to be listed. */
  addDirectory(dir: string): void {
    this.pending.push(dir)
  }

  /** A file (a real path inside the root) found: visited once, however many ways lead to it. */
  addFile(real: string): void {
    if (this.files.has(real)) return
    this.files.add(real)
    this.visit({ real, rel: relative(this.root, real) })
  }

  /**
   * List directories until none is left (true) or `pause` says to stop (false, the walk can go on elsewhere from
   * `state()`). Throws ConfigurationError for a symlink that leads outside the repository.
   */
  run(pause?: () => boolean): boolean {
    while (this.pending.length > 0) {
      if (pause?.()) return false
      this.listDirectory(this.pending.pop()!)
    }
    return true
  }

  state(): WalkState {
    return {
      root: this.root,
      pending: [...this.pending],
      visitedDirs: [...this.visitedDirs],
      files: [...this.files]
    }
  }

  private listDirectory(dir: string): void {
    if (this.visitedDirs.has(dir)) return
    this.visitedDirs.add(dir)
    // Synchronous, like the reads: a tree of thousands of small directories walks several times faster so.
    const entries = readdirSync(dir, { withFileTypes: true })
    // `dir` is a real path, so joining needs no normalising.
    const prefix = dir.endsWith(path.sep) ? dir : dir + path.sep
    const subdirectories: string[] = []
    for (const dirent of entries) {
      if (dirent.name.toLowerCase() === '.git') continue
      const full = prefix + dirent.name
      if (dirent.isSymbolicLink()) {
        const resolved = followLinkSync(full)
        if (!resolved) continue
        if (!resolved.isDirectory && !isCandidateName(dirent.name)) continue
        if (!isUnder(resolved.real, this.root)) {
          throw new ConfigurationError(
            `'${relative(this.root, full)}' is a symlink that leads outside the repository (to ${resolved.real}): remove it or leave its directory out of paths`
          )
        }
        if (isUnder(resolved.real, path.join(this.root, '.git'))) {
          throw new ConfigurationError(
            `'${relative(this.root, full)}' is a symlink into git's own directory (.git), which is never edited: remove it or leave its directory out of paths`
          )
        }
        if (resolved.isDirectory) subdirectories.push(resolved.real)
        else if (resolved.isFile) this.addFile(resolved.real)
      } else if (dirent.isDirectory()) {
        subdirectories.push(full)
      } else if (dirent.isFile() && isCandidateName(dirent.name)) {
        this.addFile(full)
      }
    }
    // Depth first, in listing order.
    for (let i = subdirectories.length - 1; i >= 0; i--) this.pending.push(subdirectories[i]!)
  }
}

function followLinkSync(link: string): { real: string; isDirectory: boolean; isFile: boolean } | undefined {
  try {
    const real = realpathSync.native(link)
    const stats = statSync(real)
    // Anything else (a FIFO, a device) is never read: it could block or never end.
    return { real, isDirectory: stats.isDirectory(), isFile: stats.isFile() }
  } catch {
    return undefined // dangling: nothing to read
  }
}

function isCandidateName(name: string): boolean {
  return /\.ya?ml$/i.test(name) || name === 'Kustomization'
}

/** Whether `child` is `parent` or inside it (both absolute). */
export function isUnder(child: string, parent: string): boolean {
  const rel = path.relative(parent, child)
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel))
}

/** `file`'s path relative to `root`, with '/' separators. */
export function relative(root: string, file: string): string {
  // The walk asks for thousands of these, nearly all for a path inside the root.
  const prefix = root.endsWith(path.sep) ? root : root + path.sep
  const rel = file.startsWith(prefix) ? file.slice(prefix.length) : path.relative(root, file)
  return path.sep === '/' ? rel : rel.split(path.sep).join('/')
}
