// The head branch: the new pin on top of it, or the branch rebuilt from base; never a commit of someone else lost.
import * as core from '@actions/core'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { ConfigurationError, ExternalError } from '../../lib/errors.js'
import type { GitCommandManager } from '../../lib/git/index.js'
import type { GitHubApi, PullRequest } from '../../lib/github/index.js'
import { pinTree, type PinTreeResult } from '../../lib/manifest/index.js'
import { commitMessage, sourceContext } from '../bump-manifest/commit-message.js'
import { publish } from '../bump-manifest/publish.js'
import type { Context } from './promotion.js'

/** An `Image:` trailer: the commit was made by this action or bump-manifest. */
export const OUR_TRAILER = /^Image: \S+@sha(256|512):[0-9a-f]+$/m

/**
 * How the head branch takes the new pin: on top of what it holds, or rebuilt from base when it conflicts with base
 * and every commit on it is ours. A foreign commit on a conflicting branch stops the run: rebuilding would lose it.
 */
export async function planHead(
  context: Context,
  git: GitCommandManager,
  kept: PullRequest | undefined
): Promise<{ rebuildFrom?: string }> {
  const { inputs } = context
  const head = await git.fetch(inputs.headBranch)
  if (!head || !kept) return {}
  if ((await context.api.mergeable(context.repo, kept.number)) !== false) return {}
  const comparison = await context.api.compare(context.repo, context.base, head)
  if (comparison.totalCommits > comparison.commits.length) {
    throw new ConfigurationError(
      `branch '${inputs.headBranch}' conflicts with '${context.base}' and holds ${comparison.totalCommits} commits, ` +
        `more than the ${comparison.commits.length} GitHub lists, so this action cannot tell that every one is ` +
        `its own and will not rebuild the branch: resolve the conflict on #${kept.number} (merge ${context.base} ` +
        'into it), or delete the branch if nothing on it is needed, then re-run'
    )
  }
  const foreign = comparison.commits.find(commit => !OUR_TRAILER.test(commit.message))
  if (foreign) {
    throw new ConfigurationError(
      `branch '${inputs.headBranch}' conflicts with '${context.base}' and holds commit ${foreign.sha} ` +
        `("${foreign.message.split('\n')[0]}" by ${foreign.author || 'someone'}) that this action did not make, so it ` +
        `will not rebuild the branch: resolve the conflict on #${kept.number} (merge ${context.base} into it), or ` +
        'move that commit elsewhere and delete the branch, then re-run'
    )
  }
  return { rebuildFrom: head }
}

/** What landed on the head branch: the files of the promotion, and the commit pushed (none when it was there already). */
export interface Pushed {
  files: string[]
  sha?: string
}

/** Pins `paths` to the digest on the head branch through bump-manifest's commit path. */
export async function pinOnHead(
  context: Context,
  git: GitCommandManager,
  commitApi: GitHubApi,
  target: { digest: string; tag?: string }
): Promise<Pushed> {
  const { inputs, deps } = context
  const edit = editPaths(context, git, target)
  const published = await publish({
    git,
    api: inputs.commitVia === 'api' ? commitApi : undefined,
    repo: context.repo,
    mode: 'branch',
    commitVia: inputs.commitVia,
    branch: context.base,
    headBranch: inputs.headBranch,
    message: promotionMessage(context, target),
    author: inputs.author,
    // No count of attempts: publish's max-wait bounds the retries, as for bump-manifest (issue 15).
    apply: edit.apply,
    sleep: deps.sleep,
    log: line => core.info(line)
  })
  return { files: edit.files(published.files), sha: published.commitSha }
}

/**
 * Rebuilds the head branch from base with one commit, replacing the branch only while it still points at `expected`
 * (the commit it was read at): someone else's push in between is never overwritten.
 */
export async function rebuildHead(
  context: Context,
  git: GitCommandManager,
  commitApi: GitHubApi,
  target: { digest: string; tag?: string },
  expected: string
): Promise<Pushed> {
  const { inputs } = context
  core.info(
    `${inputs.headBranch} conflicts with ${context.base} and holds only our commits: rebuilding it from ${context.base}`
  )
  if (inputs.commitVia === 'api') return rebuildThroughApi(context, git, commitApi, target, expected)
  await git.resetHard(`refs/remotes/origin/${context.base}`)
  const edit = editPaths(context, git, target)
  const changed = await edit.apply()
  if (changed.length === 0) throw baseChanged(context)
  const sha = await git.commit(promotionMessage(context, target), inputs.author, changed)
  const pushed = await git.tryPushWithLease(inputs.headBranch, expected)
  if (pushed === 'protected') throw headProtected(context)
  if (pushed === 'rejected') throw headMoved(context)
  return { files: edit.files(changed), sha }
}

/** Where a rebuild through the API makes its commit: a branch of its own, unlike any a user names. */
export function temporaryBranch(expected: string): string {
  return `digest-delivery-rebuild/${expected}`
}

/**
 * The rebuild for `commit-via: api`, so that GitHub signs the commit: createCommitOnBranch only adds to a branch, so
 * the commit is made on a temporary branch at base, then one atomic updateRefs moves the head branch to it (under the
 * lease `expected`) and deletes the temporary branch. On any failure the temporary branch is deleted.
 */
async function rebuildThroughApi(
  context: Context,
  git: GitCommandManager,
  api: GitHubApi,
  target: { digest: string; tag?: string },
  expected: string
): Promise<Pushed> {
  const { inputs, repo } = context
  const start = await git.fetch(context.base)
  if (!start)
    throw new ExternalError(`${context.base} was deleted while rebuilding ${inputs.headBranch}: re-run`)
  await git.resetHard(start)
  const edit = editPaths(context, git, target)
  const changed = await edit.apply()
  if (changed.length === 0) throw baseChanged(context)
  const temporary = temporaryBranch(expected)
  if (!(await api.createBranch(repo, temporary, start))) {
    throw new ConfigurationError(
      `branch '${temporary}' exists: this action rebuilds ${inputs.headBranch} through it, so another run is ` +
        'rebuilding the same branch now, or one that stopped left it behind: once no run is rebuilding, delete ' +
        `'${temporary}' and re-run`
    )
  }
  let replaced = false
  try {
    const additions = await Promise.all(
      changed.map(async file => ({ path: file, contents: await fs.readFile(path.join(git.cwd, file)) }))
    )
    const commit = await api.createCommitOnBranch({
      repo,
      branch: temporary,
      expectedHeadOid: start,
      message: promotionMessage(context, target),
      additions
    })
    if (commit.kind === 'protected') {
      throw new ConfigurationError(
        `GitHub refused the rebuilt commit on the temporary branch '${temporary}' (${commit.message}): let the ` +
          "token create and commit to branches named 'digest-delivery-rebuild/*', or use commit-via: git"
      )
    }
    if (commit.kind === 'head-moved') {
      throw new ExternalError(
        `the temporary branch '${temporary}' moved while rebuilding (another run?): re-run`
      )
    }
    const swapped = await api.updateBranches(repo, [
      { branch: inputs.headBranch, before: expected, after: commit.oid, force: true },
      { branch: temporary, before: commit.oid, after: null }
    ])
    if (swapped.kind === 'moved') {
      throw swapped.branch === inputs.headBranch
        ? headMoved(context)
        : new ExternalError(
            `the temporary branch '${temporary}' moved while rebuilding (another run?): re-run`
          )
    }
    if (swapped.kind === 'refused') {
      if (/protected branch|GH006|GH013|Repository rule violations/i.test(swapped.message)) {
        throw headProtected(context)
      }
      throw new ExternalError(
        `GitHub refused to move ${inputs.headBranch} to the rebuilt commit ${commit.oid}: ${swapped.message}`
      )
    }
    replaced = true
    return { files: edit.files(changed), sha: commit.oid }
  } finally {
    if (!replaced) await deleteTemporary(context, temporary)
  }
}

async function deleteTemporary(context: Context, temporary: string): Promise<void> {
  const deleted = await context.api.deleteBranch(context.repo, temporary).catch(() => false)
  if (!deleted) {
    core.warning(
      `could not delete the temporary branch '${temporary}' of a failed rebuild: delete it by hand`
    )
  }
}

const baseChanged = (context: Context): Error =>
  new ExternalError(`${context.base} changed while rebuilding ${context.inputs.headBranch}: re-run`)

const headProtected = (context: Context): Error =>
  new ConfigurationError(`branch '${context.inputs.headBranch}' is protected: name a head-branch of its own`)

const headMoved = (context: Context): Error =>
  new ExternalError(
    `${context.inputs.headBranch} moved while it was being rebuilt (someone pushed to it): nothing was ` +
      'overwritten; re-run'
  )

function promotionMessage(context: Context, target: { digest: string; tag?: string }): string {
  const { inputs, deps } = context
  return commitMessage(inputs.commitMessage, {
    image: inputs.image,
    digest: target.digest,
    tag: target.tag,
    paths: inputs.paths,
    ...sourceContext(deps.env)
  })
}

/** The edit of `paths` (re-applied from scratch on each attempt), and the files it concerns. */
function editPaths(
  context: Context,
  git: GitCommandManager,
  target: { digest: string; tag?: string }
): { apply: () => Promise<string[]>; files: (changed: string[]) => string[] } {
  const { inputs } = context
  let result: PinTreeResult | undefined
  const apply = async (): Promise<string[]> => {
    result = await pinTree({
      root: git.cwd,
      paths: inputs.paths,
      request: {
        image: inputs.image,
        aliases: inputs.aliases,
        digest: target.digest,
        tag: target.tag,
        helmPaths: inputs.helmPaths
      },
      write: true,
      check: checked => {
        const blocking = checked.errors.filter(error => error.kind !== 'encoding')
        if (blocking.length > 0) {
          throw new ConfigurationError(
            `input 'paths': ${blocking.length} file(s) mention the image but could not be updated, so nothing was ` +
              `changed: ${blocking
                .slice(0, 5)
                .map(error => error.message)
                .join('; ')}`
          )
        }
      }
    })
    return result.edited.map(file => file.file)
  }
  const files = (changed: string[]): string[] =>
    [...new Set([...changed, ...(result?.unchanged ?? []).map(ref => ref.file)])].sort()
  return { apply, files }
}

/**
 * Takes commit `sha`, which this run pushed, back off the head branch: the branch goes back to its parent under a
 * lease on `sha`. Returns the branch's commit after, or undefined when the branch moved on or git could not.
 */
export async function withdrawHead(
  context: Context,
  git: GitCommandManager,
  sha: string
): Promise<string | undefined> {
  const branch = context.inputs.headBranch
  if ((await git.fetch(branch)) !== sha) return undefined
  // A shallow fetch stops at `sha`: one commit more brings its parent.
  const parent =
    (await git.tryResolveCommit(`${sha}^`)) ??
    ((await git.tryDeepen(branch, 1)) ? await git.tryResolveCommit(`${sha}^`) : undefined)
  if (!parent) return undefined
  await git.resetHard(parent)
  return (await git.tryPushWithLease(branch, sha)) === 'pushed' ? parent : undefined
}
