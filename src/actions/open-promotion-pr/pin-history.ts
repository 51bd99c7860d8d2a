// What from-paths pinned at earlier commits of base: the clone deepened as far as needed, files read read-only.
import * as core from '@actions/core'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { ExternalError } from '../../lib/errors.js'
import type { GitCommandManager } from '../../lib/git/index.js'
import { readPins } from './pins.js'
import type { Context } from './promotion.js'
import type { PinningCommit } from './pull-request.js'
import { cleanPath, type PinHistory } from './verification.js'

/** The history of `from-paths` in the clone of base at `git.cwd` (shallow or not), from the commit it has out. */
export async function pinHistory(git: GitCommandManager, context: Context): Promise<PinHistory> {
  const { inputs } = context
  const tip = await git.tryResolveCommit('HEAD')
  if (!tip) throw new ExternalError(`the clone of ${context.base} has no commit checked out`)
  // The clone holds `depth` commits from the tip; it starts with one (a shallow clone has only that).
  let depth = 1
  /** What from-paths pin at `ref`, with `needed` commits in the clone, reading the files under `paths` only. */
  const pinnedIn = async (ref: string, needed: number, paths: string[]): Promise<string[] | undefined> => {
    // Deepened at least twofold each time: a walk down the history fetches a handful of times, not once a commit.
    if (needed > depth) {
      const more = Math.max(needed, depth * 2) - depth
      if (!(await git.tryDeepen(context.base, more))) return undefined
      depth += more
    }
    const into = await fs.mkdtemp(path.join(path.dirname(git.cwd), 'from-paths-'))
    try {
      if (!(await git.tryExportTree(ref, paths, into))) return undefined
      const read = await readPins({
        root: into,
        paths: inputs.fromPaths,
        image: inputs.image,
        aliases: inputs.aliases,
        helmPaths: inputs.helmPaths,
        input: 'from-paths'
      })
      return read.pins.map(pin => pin.digest)
    } catch (error) {
      // Paths missing before the commit that created them, or a file the engine refuses there: not this run.
      core.debug(`from-paths at ${ref}: ${(error as Error).message}`)
      return undefined
    } finally {
      await fs.rm(into, { recursive: true, force: true })
      await fs.rm(`${into}.index`, { force: true })
    }
  }
  return {
    tip,
    pinnedBefore: (commit, index) =>
      pinnedIn(`${commit}^`, index + 2, [...new Set(inputs.fromPaths.map(cleanPath))]),
    // The whole tree: the bases an overlay inherits the pin from may lie anywhere in the repository.
    pinnedAt: (commit, index) => pinnedIn(commit, index + 1, [''])
  }
}

/** How many commits of base are searched for the one that pinned a digest, at most. */
export const MAX_PINNING_SEARCH = 100

/**
 * The commit of base that pinned `digest` in `files` (the newest one adding it), from the clone deepened up to
 * MAX_PINNING_SEARCH commits; undefined when it is not found there.
 */
export async function pinningCommit(
  git: GitCommandManager,
  context: Context,
  digest: string,
  files: string[]
): Promise<PinningCommit | undefined> {
  if (!(await git.tryDeepen(context.base, MAX_PINNING_SEARCH))) return undefined
  const found = await git.tryFindAddition(`refs/remotes/origin/${context.base}`, digest, files)
  return found && { ...found, url: `${context.serverUrl}/${context.inputs.repository}/commit/${found.sha}` }
}
