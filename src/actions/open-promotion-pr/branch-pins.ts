// Mode 1: what the head branch proposes and what base runs, read from the files the branch changes against base.
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { ConfigurationError } from '../../lib/errors.js'
import type { GitCommandManager } from '../../lib/git/index.js'
import { hasGlob } from '../../lib/manifest/glob.js'
import { fileOf, readPins, type Pin, type PinsRead } from './pins.js'
import type { Context } from './promotion.js'

/** How far back a shallow clone is deepened to find where the head branch left base. */
export const MAX_MERGE_BASE_DEPTH = 1000
/** More changed files than this are found by reading the whole tree (or `paths`) rather than naming each. */
const MAX_NAMED_FILES = 500
/** A promotion branch changes a few manifests: past this many files it is a mistake, or hostile, and is refused. */
export const MAX_CHANGED_FILES = 10_000

export interface BranchPins {
  /** The files the head branch changes that pin the image there, sorted. */
  files: string[]
  /** What the head branch pins in them. */
  proposed: Pin
  /** What base pins in those files, one entry per digest (locations as `file:line`). */
  running: Pin[]
  /** References to the image by tag only on base, in those files. */
  unpinned: string[]
  /** Base already pins the proposed digest in every one of those files, and nothing else there. */
  alreadyPinned: boolean
  /** Merging the branch would change nothing on base: every change it holds (of any image, any file) is there. */
  mergeChangesNothing: boolean
  /** The head branch's commit all this was read from. */
  headSha: string
}

/**
 * Reads both sides in `git`'s working tree (a clone of base): the files the head branch changes against its merge
 * base with base (narrowed to `paths` when given), then what base and the head branch pin in them.
 */
export async function readBranchPins(context: Context, git: GitCommandManager): Promise<BranchPins> {
  const { inputs, base } = context
  const head = inputs.headBranch
  const headSha = await git.fetch(head)
  if (!headSha) {
    throw new ConfigurationError(
      `branch '${head}' does not exist in ${inputs.repository}: the branch must exist and hold commits '${base}' ` +
        `lacks. Run bump-manifest with push: branch and head-branch: ${head} first, or check head-branch`
    )
  }
  const found = await git.tryChangedFiles(base, head, MAX_MERGE_BASE_DEPTH, MAX_CHANGED_FILES)
  if (!found) {
    throw new ConfigurationError(
      `branch '${head}' shares no commit with '${base}' in the last ${MAX_MERGE_BASE_DEPTH} commits, so what it ` +
        `changes cannot be told: delete it and run bump-manifest with push: branch again, or check head-branch and base`
    )
  }
  const changed = found.files
  if (!changed) {
    throw new ConfigurationError(
      `branch '${head}' changes ${found.count} files against '${base}', more than the ${MAX_CHANGED_FILES} a ` +
        `promotion branch may change: it should hold the pins bump-manifest commits; check head-branch and base`
    )
  }

  await git.resetHard(`refs/remotes/origin/${base}`)
  // Base is read unnarrowed: a `paths` entry new on the branch is not there, and only the files where the branch pins
  // the image count below anyway.
  const onBase = await readSide(context, git.cwd, changed, [])
  await git.resetHard(`refs/remotes/origin/${head}`)
  const onHead = await readSide(context, git.cwd, changed, inputs.paths)

  if (onHead.pins.length === 0) {
    const shown = changed.slice(0, 10).join(', ') + (changed.length > 10 ? ', …' : '')
    throw new ConfigurationError(
      `branch '${head}' changes no digest of ${inputs.image} against '${base}'` +
        (changed.length ? ` (it changes ${shown})` : ' (it changes nothing)') +
        `${inputs.paths.length ? ` in paths (${inputs.paths.join(', ')})` : ''}, so there is nothing to propose: ` +
        `run bump-manifest with push: branch and head-branch: ${head} first, or check image, aliases and paths`
    )
  }
  if (onHead.pins.length > 1) {
    throw new ConfigurationError(
      `branch '${head}' pins ${inputs.image} to ${onHead.pins.length} different digests in the files it changes ` +
        `(${describePins(onHead.pins)}): a pull request proposes one; give 'paths' to narrow it to one environment`
    )
  }
  const proposed = onHead.pins[0] as Pin
  const files = [...new Set(proposed.where.map(fileOf))].sort()
  const proposedIn = new Set(files)
  const inFiles = (where: string) => proposedIn.has(fileOf(where))
  const running = onBase.pins
    .map(pin => ({ ...pin, where: pin.where.filter(inFiles) }))
    .filter(pin => pin.where.length > 0)
  const unpinned = onBase.unpinned.filter(inFiles)
  const pinnedThere = new Set(running.flatMap(pin => pin.where.map(fileOf)))
  const alreadyPinned =
    running.length === 1 &&
    running[0]?.digest === proposed.digest &&
    unpinned.length === 0 &&
    files.every(file => pinnedThere.has(file))
  return {
    files,
    proposed,
    running,
    unpinned,
    alreadyPinned,
    mergeChangesNothing: found.mergeChangesNothing,
    headSha
  }
}

/** `digest in file:line, …; digest in …`, for messages and the body; bounded, as a repository may pin thousands. */
export function describePins(pins: Pin[], max = 5): string {
  const some = (items: string[]) =>
    items.slice(0, max).join(', ') + (items.length > max ? ` and ${items.length - max} more` : '')
  return (
    pins
      .slice(0, max)
      .map(pin => `${pin.digest} in ${some(pin.where)}`)
      .join('; ') + (pins.length > max ? `; and ${pins.length - max} more digests` : '')
  )
}

/** What one side pins in the changed files (those it has), as the engine reads them. */
async function readSide(
  context: Context,
  root: string,
  changed: string[],
  narrow: string[]
): Promise<Pick<PinsRead, 'pins' | 'unpinned'>> {
  const { inputs } = context
  const present: string[] = []
  for (const file of changed) {
    const stat = await fs.lstat(path.join(root, file)).catch(() => undefined)
    if (stat?.isFile()) present.push(file)
  }
  if (present.length === 0) return { pins: [], unpinned: [] }
  // `paths` narrows; otherwise the changed files are named, unless there are too many or a name would not be read as
  // itself (a glob, or a name `paths` entries are trimmed or have backslashes turned in).
  const paths =
    narrow.length > 0
      ? narrow
      : present.length > MAX_NAMED_FILES || present.some(name => !readAsItself(name))
        ? ['.']
        : present
  const read = await readPins({
    root,
    paths,
    image: inputs.image,
    aliases: inputs.aliases,
    helmPaths: inputs.helmPaths,
    input: narrow.length > 0 ? 'paths' : 'head-branch'
  })
  const wanted = new Set(present)
  const keep = (where: string) => wanted.has(fileOf(where))
  return {
    pins: read.pins
      .map(pin => ({ ...pin, where: pin.where.filter(keep) }))
      .filter(pin => pin.where.length > 0),
    unpinned: read.unpinned.filter(keep)
  }
}

function readAsItself(name: string): boolean {
  return !hasGlob(name) && !name.includes('\\') && name === name.trim()
}
