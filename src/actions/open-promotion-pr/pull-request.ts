// The pull request: opened, updated, decorated, closed; duplicates closed keeping the oldest.
import * as core from '@actions/core'
import { ConfigurationError, ExternalError } from '../../lib/errors.js'
import type { PullRequest, Refusable } from '../../lib/github/index.js'
import { parseImageRef, sameRepository, shortDigest, type ImageRef } from '../../lib/image-ref.js'
import { reference, renderBody, type SourceCommits } from './body.js'
import type { PromotionInputs } from './inputs.js'
import { code, link, text } from './markdown.js'
import { readStateBlock, type PromotionState } from './state-block.js'
import { cleanPath } from './verification.js'
import type { Context, Operation, Result } from './promotion.js'
import { OUR_TRAILER } from './head-branch.js'

/** The commit of base that pinned a digest, found in the clone's history. */
export interface PinningCommit {
  sha: string
  subject: string
  url: string
}

/**
 * Base already pins the digest (in `files`, default `paths`) and merging the head branch (at `headSha` when it was
 * read) would change nothing: the pull request is not needed any more. The comment names `pinnedBy`, the commit that
 * pinned the digest, or else the newest commit of base touching the first file.
 */
export async function closeUnneeded(
  context: Context,
  pulls: PullRequest[],
  digest: string,
  found: { files?: string[]; headSha?: string; pinnedBy?: PinningCommit } = {}
): Promise<Result> {
  const { inputs, api, repo } = context
  const { files = inputs.paths, headSha } = found
  if (pulls.length === 0) {
    core.info(
      `${context.base} already pins ${inputs.image}@${digest} in ${files.join(', ')}: nothing to promote`
    )
    return {
      operation: 'unchanged',
      headSha: '',
      verified: true,
      to: digest,
      from: digest,
      files: [],
      autoMerge: false
    }
  }
  const latest =
    found.pinnedBy ??
    (await api
      .listCommits(repo, context.base, { path: cleanPath(files[0] as string), max: 1 })
      .then(([commit]) =>
        commit
          ? { sha: commit.sha, subject: commit.message.split('\n')[0] ?? '', url: commit.url }
          : undefined
      ))
  const by = latest ? ` by ${latest.sha} (${latest.subject})` : ''
  for (const pull of pulls) {
    await api.comment(
      repo,
      pull.number,
      `Closing: ${code(context.base)} already pins ${code(`${inputs.image}@${digest}`)} in ${text(inputs.environment)}` +
        `${latest ? `, since commit ${link(latest.sha.slice(0, 12), latest.url)} (${text(latest.subject)})` : ''}. ` +
        'This pull request is no longer needed.'
    )
    await api.updatePull(repo, pull.number, { state: 'closed' })
  }
  core.info(
    `Closed ${pulls.map(pull => `#${pull.number}`).join(', ')}: ${context.base} already pins ${digest}${by}`
  )
  await deleteOurBranch(context, headSha)
  const kept = pulls[0] as PullRequest
  return {
    operation: 'closed',
    pull: { number: kept.number, url: kept.url },
    headSha: kept.headSha,
    verified: true,
    from: digest,
    to: digest,
    files: [],
    autoMerge: false
  }
}

/**
 * Deletes the head branch when every commit on it is one pinning this image, under a lease on the commit looked at:
 * a commit pushed meanwhile (a newer digest, someone's fix) keeps the branch.
 */
async function deleteOurBranch(context: Context, headSha: string | undefined): Promise<void> {
  const { inputs, api, repo } = context
  const branch = inputs.headBranch
  const head = headSha ?? (await context.commitApi.branchHead(repo, branch))
  if (!head) return
  const comparison = await api.compare(repo, context.base, head).catch(() => undefined)
  // Someone else's commit, another image's, or one not listed keeps the branch.
  if (
    !comparison ||
    comparison.totalCommits !== comparison.commits.length ||
    !comparison.commits.every(commit => pinsOnly(commit.message, inputs.imageRef))
  ) {
    return
  }
  const deleted = await context.commitApi.updateBranches(repo, [{ branch, before: head, after: null }])
  if (deleted.kind === 'moved') {
    core.notice(`${branch} moved on from ${head} meanwhile: it is kept, with what was pushed to it`)
  } else if (deleted.kind === 'refused') {
    core.warning(
      `Could not delete ${branch}: ${deleted.message}. Delete it by hand if nothing on it is needed.`
    )
  }
}

/** The commit carries `Image:` trailers (this action's or bump-manifest's), and each names `image`. */
function pinsOnly(message: string, image: ImageRef): boolean {
  const named = [...message.matchAll(/^Image: (\S+)$/gm)].map(match => match[1] as string)
  return (
    named.length > 0 &&
    named.every(ref => {
      if (!OUR_TRAILER.test(`Image: ${ref}`)) return false
      try {
        return sameRepository(parseImageRef(ref), image)
      } catch {
        return false
      }
    })
  )
}

/**
 * Base already pins the digest, but the head branch still changes what base lacks (another image's pin, someone's
 * fix): its pull request stays as it is, and the branch with it.
 */
export function stillNeeded(context: Context, pulls: PullRequest[], digest: string, files: string[]): Result {
  const { inputs, base } = context
  const kept = pulls[0]
  core.notice(
    `${base} already pins ${inputs.image}@${digest} in ${files.join(', ')}, but ${inputs.headBranch} still changes ` +
      `other things ${base} lacks: ${kept ? `#${kept.number} stays open, untouched` : 'no pull request is opened for this image'}`
  )
  return {
    operation: 'unchanged',
    pull: kept ? { number: kept.number, url: kept.url } : undefined,
    headSha: kept?.headSha ?? '',
    verified: true,
    from: digest,
    to: digest,
    files: [],
    autoMerge: false
  }
}

/**
 * A verified promotion found as a draft though none was asked for: a person may have made it one on purpose, or a
 * concurrent run did when its head moved as it was made ready. Which, GitHub does not say cheaply, so it is not undone
 * here (a person's decision would be overridden): a notice says what to do.
 */
export function noticeDraft(context: Context, kept: PullRequest, digest: string): void {
  core.notice(
    `#${kept.number} proposes ${context.inputs.image}@${digest}, verified upstream, but is a draft: mark it ready ` +
      'for review if nobody made it a draft on purpose (a concurrent run does so when another digest lands on it ' +
      'as it is made ready)'
  )
}

export function unchanged(kept: PullRequest, digest: string, state: PromotionState, closed: number): Result {
  core.info(
    `#${kept.number} already proposes ${digest}: nothing to change${closed ? ` (closed ${closed} duplicate(s))` : ''}`
  )
  return {
    operation: 'unchanged',
    pull: { number: kept.number, url: kept.url },
    headSha: kept.headSha,
    verified: state.verification.verified,
    from: state.from?.digest,
    to: digest,
    files: state.files,
    autoMerge: false
  }
}

function renderTitle(inputs: PromotionInputs, state: PromotionState): string {
  const values: Record<string, string> = {
    environment: inputs.environment,
    image: inputs.image,
    tag: state.to.tag ?? shortDigest(state.to.digest),
    'short-digest': shortDigest(state.to.digest),
    'from-environment': state.fromEnvironment ?? ''
  }
  return inputs.title.replace(/\{([a-z-]+)\}/g, (_whole, name: string) => values[name] ?? '').slice(0, 256)
}

/** Creates the pull request, or updates the one there is; labels, reviewers and auto-merge on creation. */
export async function propose(
  context: Context,
  plan: {
    pulls: PullRequest[]
    state: PromotionState
    source: SourceCommits
    draft: boolean
    /** The commit this run pushed to the head branch, if it pushed one. */
    headSha?: string
    /**
     * Takes the pushed commit back off the head branch (to its parent, under a lease on it); resolves to the
     * branch's commit after, or undefined when it could not.
     */
    withdraw?: (sha: string) => Promise<string | undefined>
  }
): Promise<Result> {
  const { inputs, api, repo } = context
  const title = renderTitle(inputs, plan.state)
  const body = renderBody(plan.state, {
    header: inputs.bodyHeader,
    footer: inputs.bodyFooter,
    source: plan.source
  })
  const result = (operation: Operation, pull: PullRequest, autoMerge = false): Result => ({
    operation,
    pull: { number: pull.number, url: pull.url },
    headSha: plan.headSha ?? pull.headSha,
    verified: plan.state.verification.verified,
    from: plan.state.from?.digest,
    to: plan.state.to.digest,
    files: plan.state.files,
    autoMerge
  })

  let kept = plan.pulls[0]
  // Whether `kept` was read after this run pushed (listed again once another run's pull request was found).
  let readSincePush = false
  if (!kept) {
    const outcome = await api.createPull(repo, {
      head: inputs.headBranch,
      base: context.base,
      title,
      body,
      draft: plan.draft
    })
    if (outcome.kind === 'actions-not-permitted') {
      throw new ConfigurationError(
        `GitHub refused to open the pull request: ${outcome.message} Turn on "Allow GitHub Actions to create and ` +
          `approve pull requests" (Settings → Actions → General → Workflow permissions of ${inputs.repository}, or ` +
          'of its organization), or pass a GitHub App token (actions/create-github-app-token) or a fine-grained ' +
          `personal access token as 'token'. Branch ${inputs.headBranch} is pushed: a re-run opens the pull request ` +
          'without committing again.'
      )
    }
    if (outcome.kind === 'invalid-base') {
      throw new ConfigurationError(
        `branch '${context.base}' does not exist in ${inputs.repository} (${outcome.message}): check 'base'`
      )
    }
    if (outcome.kind === 'invalid-head') {
      throw new ConfigurationError(
        `GitHub refused to open a pull request from '${inputs.headBranch}' into '${context.base}' (${outcome.message}): ` +
          `the branch must exist and hold commits '${context.base}' lacks. Run bump-manifest with push: branch and ` +
          `head-branch: ${inputs.headBranch} first, or check head-branch`
      )
    }
    if (outcome.kind === 'created') {
      const pull = outcome.pull
      core.info(`Opened #${pull.number}: ${pull.url}`)
      const autoMerge = await decorate(context, pull, plan.draft)
      return result('created', pull, autoMerge)
    }
    // Another run opened it between our list and our create: update that one.
    const again = await api.listOpenPulls(repo, inputs.headBranch, context.base)
    kept = again[0]
    readSincePush = true
    if (!kept)
      throw new ExternalError(`GitHub said a pull request from ${inputs.headBranch} exists, but lists none`)
    plan = { ...plan, pulls: again }
    const theirs = readStateBlock(kept.body)
    if (theirs?.to.digest === plan.state.to.digest) {
      const closed = await closeDuplicates(context, kept, again.slice(1))
      return unchanged(kept, plan.state.to.digest, theirs, closed)
    }
    // That run may have opened it ready for review, or set it to merge itself: our unverified digest is on it now.
    if (!plan.state.verification.verified && (!kept.draft || kept.autoMerge)) {
      const held = await holdAsDraft(context, kept)
      if (!held.ok) return withdraw(context, plan, kept, held.message)
      kept = { ...kept, draft: true, autoMerge: false }
      plan = { ...plan, pulls: [kept, ...again.slice(1)] }
    }
  }

  // Another run may have made the pull request ready for review (or set it to merge itself) since it was listed:
  // the unverified digest is on it now, so it is held again, or the commit goes back off.
  if (!plan.state.verification.verified && !readSincePush) {
    const now = await api.readPull(repo, kept.number)
    if (!now.draft || now.autoMerge) {
      const held = await holdAsDraft(context, now)
      if (!held.ok) return withdraw(context, plan, now, held.message)
      kept = { ...kept, draft: true, autoMerge: false }
    }
  }

  const before = readStateBlock(kept.body)
  // A draft that waited for the upstream verification is ready once it passed (a draft asked for stays one). Ready
  // first: a body saying "verified" saved before a failed markReady would make the next run see nothing to do.
  const nowReady = kept.draft && !plan.draft && before?.verification.verified === false
  if (nowReady) {
    // Ready only with the verified commit on it: another run may have pushed an unverified digest on top.
    const verifiedHead = plan.headSha ?? kept.headSha
    const moved = await headMoved(context, verifiedHead)
    if (moved) return notReady(context, plan, kept, moved)
    await api.markReady(kept)
    // A push between that read and markReady: the run that pushed may have seen the draft and not held it.
    const after = await headMoved(context, verifiedHead)
    if (after) {
      const held = await holdAsDraft(context, { ...kept, draft: false, autoMerge: false })
      if (!held.ok) {
        throw new ExternalError(
          `#${kept.number} was made ready for review for ${verifiedHead}, but its head moved to ${after} meanwhile ` +
            `and it could not be made a draft again (${held.message}): convert it to a draft and check what ` +
            `${inputs.headBranch} holds`
        )
      }
      return notReady(context, plan, kept, after)
    }
  }
  await api.updatePull(repo, kept.number, { title, body })
  await api.comment(repo, kept.number, updateComment(before, plan.state))
  await closeDuplicates(context, kept, plan.pulls.slice(1))
  return result('updated', kept)
}

/**
 * The head branch's commit now, when it is no longer `expected`. Read from the branch, not the pull request: GitHub
 * updates a pull request's head a moment after a push, so it may still name the commit before.
 */
async function headMoved(context: Context, expected: string): Promise<string | undefined> {
  const now = await context.commitApi.branchHead(context.repo, context.inputs.headBranch)
  return now === expected ? undefined : (now ?? 'nothing (the branch is gone)')
}

/**
 * The verified commit is no longer the head of the draft (another run pushed on top): the draft stays one, and its
 * body is left to what is on it now.
 */
function notReady(
  context: Context,
  plan: { state: PromotionState; headSha?: string },
  kept: PullRequest,
  head: string
): Result {
  const { inputs } = context
  core.notice(
    `#${kept.number} stays a draft: ${inputs.image}@${plan.state.to.digest} is verified upstream, but ` +
      `${inputs.headBranch} moved to ${head} (another run?) since it held the verified commit ` +
      `${plan.headSha ?? kept.headSha}, so its head is not what was verified; re-run to promote what it holds`
  )
  return {
    operation: 'skipped',
    pull: { number: kept.number, url: kept.url },
    headSha: head,
    verified: plan.state.verification.verified,
    from: plan.state.from?.digest,
    to: plan.state.to.digest,
    files: [],
    autoMerge: false
  }
}

/** Makes a pull request ready for review a draft, with auto-merge off, before an unverified digest lands on it. */
export async function holdAsDraft(context: Context, pull: PullRequest): Promise<Refusable> {
  const drafted = await context.api.convertToDraft(pull)
  if (!drafted.ok) return drafted
  if (pull.autoMerge) {
    const disabled = await context.api.disableAutoMerge(pull)
    if (!disabled.ok) return disabled
  }
  core.info(
    `#${pull.number} is a draft again${pull.autoMerge ? ', auto-merge off,' : ''} until the new digest is verified upstream`
  )
  return { ok: true }
}

/**
 * Our unverified digest landed on a pull request another run opened meanwhile, which could not be held as a draft:
 * our commit goes back off the head branch, under a lease, so the pull request again holds only what that run
 * proposed (and its body says). A commit pushed on top of ours meanwhile is never lost: then the run fails, saying so.
 */
async function withdraw(
  context: Context,
  plan: { state: PromotionState; headSha?: string; withdraw?: (sha: string) => Promise<string | undefined> },
  kept: PullRequest,
  refusal: string
): Promise<Result> {
  const { inputs } = context
  const problem =
    `${inputs.image}@${plan.state.to.digest} is not verified upstream, and #${kept.number}, opened or made ready by ` +
    `another run meanwhile, is ${kept.draft ? 'a draft' : 'ready for review'}${kept.autoMerge ? ' with auto-merge on' : ''} and ` +
    `could not be ${kept.draft ? 'held' : 'made a draft'} (${refusal})`
  const remedy = `convert #${kept.number} to a draft (and disable its auto-merge) or close it, then re-run`
  const back = plan.headSha ? await plan.withdraw?.(plan.headSha) : undefined
  if (!plan.headSha || !back) {
    throw new ExternalError(
      `${problem}; ` +
        (plan.headSha
          ? `commit ${plan.headSha} stays on ${inputs.headBranch}: it could not be taken back off under a lease ` +
            '(the branch moved on since)'
          : `${inputs.headBranch} pinned the digest already`) +
        `: ${remedy}`
    )
  }
  core.notice(
    `${problem}: took commit ${plan.headSha} back off ${inputs.headBranch} (now at ${back}, under a lease); ${remedy}`
  )
  return {
    operation: 'skipped',
    pull: { number: kept.number, url: kept.url },
    headSha: back,
    verified: false,
    from: plan.state.from?.digest,
    to: plan.state.to.digest,
    files: [],
    autoMerge: false
  }
}

function updateComment(before: PromotionState | undefined, after: PromotionState): string {
  if (before && before.to.digest === after.to.digest && after.verification.verified) {
    return `${code(reference(after.to))} is now verified upstream; this pull request is ready for review.`
  }
  const was = before ? ` (was ${code(reference(before.to))})` : ''
  return (
    `This pull request now proposes ${code(reference(after.to))}${was} for ${text(after.environment)}: ` +
    `${code(after.to.digest)}. Approvals given before this change were for ${before ? 'the previous digest' : 'other content'}; ` +
    'please review again.'
  )
}

/** Labels, assignees, reviewers and auto-merge of a new pull request; refusals are warnings. */
async function decorate(context: Context, pull: PullRequest, draft: boolean): Promise<boolean> {
  const { inputs, api, repo } = context
  if (inputs.labels.length > 0) await api.addLabels(repo, pull.number, inputs.labels)
  if (inputs.assignees.length > 0) await api.addAssignees(repo, pull.number, inputs.assignees)
  if (inputs.reviewers.length + inputs.teamReviewers.length > 0) {
    const asked = await api.requestReviewers(repo, pull.number, inputs.reviewers, inputs.teamReviewers)
    if (!asked.ok) {
      core.warning(
        `Could not request reviews from ${[...inputs.reviewers, ...inputs.teamReviewers.map(t => `team ${t}`)].join(', ')} ` +
          `on #${pull.number}: ${asked.message}. The pull request stays open; check that they are collaborators.`
      )
    }
  }
  if (!inputs.autoMerge) return false
  if (draft) {
    core.warning(`Auto-merge not enabled on #${pull.number}: it is a draft`)
    return false
  }
  const enabled = await api.enableAutoMerge(pull, inputs.autoMerge)
  if (!enabled.ok) {
    core.warning(
      `Auto-merge (${inputs.autoMerge}) was refused for #${pull.number}: ${enabled.message}. The pull request stays ` +
        'open for a person to merge; auto-merge needs "Allow auto-merge" in the repository settings and a branch ' +
        'protection rule on the base that is not yet satisfied.'
    )
    return false
  }
  return true
}

/** Closes duplicates (older tools, by hand), keeping the oldest; returns how many were closed. */
export async function closeDuplicates(
  context: Context,
  kept: PullRequest,
  others: PullRequest[]
): Promise<number> {
  if (!context.inputs.closeSuperseded || others.length === 0) return 0
  for (const other of others) {
    await context.api.comment(
      context.repo,
      other.number,
      `Closing as a duplicate of #${kept.number}, the promotion pull request for ${text(context.inputs.environment)} ` +
        `and ${code(context.inputs.image)}.`
    )
    await context.api.updatePull(context.repo, other.number, { state: 'closed' })
  }
  return others.length
}
