import * as core from '@actions/core'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { runAction } from '../../lib/action.js'
import { ConfigurationError, ExternalError } from '../../lib/errors.js'
import { createCommandRunner, type CommandRunner } from '../../lib/exec.js'
import { createGit, type GitCommandManager } from '../../lib/git/index.js'
import {
  createGitHubApi,
  createPullRequestApi,
  lazyOctokit,
  parseRepoName,
  type GitHubApi,
  type PullRequestApi
} from '../../lib/github/index.js'
import { runnerInputs, type InputSource } from '../../lib/inputs.js'
import { createRegistryClient } from '../../lib/registry/index.js'
import { appendSummary } from '../../lib/summary.js'
import { sourceContext } from '../bump-manifest/commit-message.js'
import { describePins, readBranchPins, type BranchPins } from './branch-pins.js'
import { readVerdict, readVersion, type ImageRegistry } from './image-facts.js'
import { planHead, pinOnHead, rebuildHead, withdrawHead } from './head-branch.js'
import type { Context, Result } from './promotion.js'
import {
  closeDuplicates,
  closeUnneeded,
  holdAsDraft,
  propose,
  noticeDraft,
  stillNeeded,
  unchanged
} from './pull-request.js'
import { sourceCommits } from './source-commits.js'
import {
  chooseImage,
  forImage,
  MAX_IMAGES,
  readInputs,
  refuseForSeveral,
  refuseSharedBranches,
  type ActionInputs,
  type ImageChoice,
  type OutputName,
  type PromotionInputs
} from './inputs.js'
import { listPinnedImages, pinFiles, readPins } from './pins.js'
import { promoteEach, reportPromotions } from './promotions.js'
import { pinHistory, pinningCommit } from './pin-history.js'
import {
  readStateBlock,
  type ImageVersion,
  type PromotionState,
  type VerdictState,
  type VerificationState
} from './state-block.js'
import { cleanPath, verifyUpstream } from './verification.js'

export interface GitHubClients {
  pulls: PullRequestApi
  /** Commits through the API (`commit-via: api`). */
  commits: GitHubApi
}

export interface Collaborators {
  inputs: InputSource
  env: NodeJS.ProcessEnv
  runner: CommandRunner
  github(token: string, apiUrl: string | undefined): GitHubClients
  /** `credentials` chooses per host (undefined: the Docker config). */
  registry(credentials: PromotionInputs['credentialsFor']): ImageRegistry
  setOutput(name: OutputName, value: string): void
  writeSummary(markdown: string): Promise<void>
  now(): Date
  sleep?: (ms: number) => Promise<void>
}

export function defaultCollaborators(): Collaborators {
  return {
    inputs: runnerInputs,
    env: process.env,
    runner: createCommandRunner(),
    github: (token, apiUrl) => {
      const options = { token, apiUrl, userAgent: 'digest-delivery/open-promotion-pr' }
      return { pulls: createPullRequestApi(lazyOctokit(options)), commits: createGitHubApi(options) }
    },
    registry: credentials =>
      createRegistryClient({
        credentials,
        userAgent: 'digest-delivery/open-promotion-pr',
        debug: message => core.debug(message)
      }),
    setOutput: (name, value) => core.setOutput(name, value),
    writeSummary: appendSummary,
    now: () => new Date()
  }
}

/** The action's entry. */
export async function run(deps: Collaborators = defaultCollaborators()): Promise<void> {
  await runAction(() => openPromotionPr(deps))
}

/**
 * Opens or updates the one pull request for this environment and each image (the one named, or every image
 * `from-paths` pin), or closes it when it is no longer needed.
 */
export async function openPromotionPr(deps: Collaborators): Promise<void> {
  const inputs = readInputs(deps.inputs, deps.env)
  const serverUrl = (deps.env.GITHUB_SERVER_URL || 'https://github.com').replace(/\/+$/, '')
  const repo = parseRepoName(inputs.repository)
  const clients = deps.github(inputs.token, deps.env.GITHUB_API_URL)
  const api = clients.pulls
  const base = inputs.base ?? (await api.defaultBranch(repo))
  const shared = { deps, repo, api, commitApi: clients.commits, base, serverUrl }
  const images = inputs.images.length > 0 ? inputs.images : await listFromPaths(shared, inputs)
  // One image after another, each in its own clone, so that one image's failure leaves the others' pull requests.
  const promotions = await promoteEach(images, async image => {
    if (base === image.headBranch) {
      throw new ConfigurationError(
        `input 'head-branch' is '${base}', the base branch itself: name a branch of its own (or leave it empty)`
      )
    }
    const context: Context = { ...shared, inputs: forImage(inputs, image) }
    return inputs.fromPaths.length > 0
      ? await promote(context, clients.commits)
      : await openForBranch(context)
  })
  await reportPromotions(deps, { environment: inputs.environment, base }, promotions)
}

/** Mode 2 with no image named: every image `from-paths` pin by digest on base (and `paths` reference). */
async function listFromPaths(shared: Omit<Context, 'inputs'>, inputs: ActionInputs): Promise<ImageChoice[]> {
  return withBaseClone({ ...shared, inputs }, async git => {
    const listed = await listPinnedImages({
      root: git.cwd,
      fromPaths: inputs.fromPaths,
      paths: inputs.paths,
      helmPaths: inputs.helmPaths,
      base: shared.base,
      maxImages: MAX_IMAGES
    })
    if (listed.notInPaths.length > 0) {
      core.notice(
        `Not promoted: ${listed.notInPaths.join(', ')}, pinned in from-paths but not referenced in paths ` +
          `(${inputs.paths.join(', ')}); name it in 'images' to be told what is missing`
      )
    }
    if (listed.images.length > 1)
      refuseForSeveral(inputs, `input 'from-paths' pins ${listed.images.join(', ')}: this`)
    core.info(`Promoting what from-paths pin on ${shared.base}: ${listed.images.join(', ')}`)
    const chosen = listed.images.map(image => chooseImage(inputs, image))
    refuseSharedBranches(chosen, "input 'from-paths' pins")
    return chosen
  })
}

/**
 * Mode 1: bump-manifest committed to `head-branch`; open or update the pull request for it. What base runs is read
 * from the files the branch changes; when base already pins what the branch proposes, the pull request is closed.
 */
async function openForBranch(context: Context): Promise<Result> {
  const { inputs, deps } = context
  const pulls = await context.api.listOpenPulls(context.repo, inputs.headBranch, context.base)
  const { branch, pinnedBy } = await withBaseClone(context, async git => {
    const branch = await readBranchPins(context, git)
    const closing = branch.alreadyPinned && branch.mergeChangesNothing && pulls.length > 0
    return {
      branch,
      pinnedBy: closing ? await pinningCommit(git, context, branch.proposed.digest, branch.files) : undefined
    }
  })
  // The branch is what the pull request merges: it is described, whatever image-ref says (another run may have
  // pushed a newer digest to it since this one's bump-manifest did).
  const digest = branch.proposed.digest
  if (digest !== inputs.digest) {
    core.warning(
      `${inputs.headBranch} pins ${inputs.image} to ${describePins([branch.proposed])}, not to the ` +
        `${inputs.digest} of image-ref: the pull request proposes what the branch holds`
    )
  }
  if (branch.alreadyPinned) {
    return branch.mergeChangesNothing
      ? closeUnneeded(context, pulls, digest, { files: branch.files, headSha: branch.headSha, pinnedBy })
      : stillNeeded(context, pulls, digest, branch.files)
  }

  const kept = pulls[0]
  const previous = kept ? readStateBlock(kept.body) : undefined
  if (kept && previous?.to.digest === digest && previous.environment === inputs.environment) {
    const closed = await closeDuplicates(context, kept, pulls.slice(1))
    return unchanged(kept, digest, previous, closed)
  }
  const registry = deps.registry(inputs.credentialsFor)
  const tag = digest === inputs.digest ? (inputs.tag ?? branch.proposed.tag) : branch.proposed.tag
  const to = await readVersion(registry, inputs.imageRef, { digest, tag }, 'the image')
  const running = branch.running.length === 1 && branch.unpinned.length === 0 ? branch.running[0] : undefined
  const from = running && (await readRunning(registry, inputs, running))
  const verdict = await checkVerdict(context, registry, digest)
  const state = newState(context, { from, to, files: branch.files, verification: noneRequired(), verdict })
  const source = from
    ? await sourceCommits(context, from, to)
    : ({ kind: 'unavailable', reason: unknownRunning(context, branch) } as const)
  return propose(context, { pulls, state, source, draft: inputs.draft })
}

/** Why the image running before is not one digest, said plainly (several overlays may run several). */
function unknownRunning(context: Context, branch: BranchPins): string {
  const { base, inputs } = context
  const { unpinned } = branch
  const tagOnly = unpinned.length
    ? ` and by tag only in ${unpinned.slice(0, 5).join(', ')}${unpinned.length > 5 ? ', …' : ''}`
    : ''
  if (branch.running.length === 0) {
    return (
      `${base} pins no digest of ${inputs.image} in the files this branch changes${tagOnly || ' (they are new there)'}, ` +
      'so the image running before is not known and no source commits are listed.'
    )
  }
  return (
    `${base} runs ${inputs.image} at more than one version in the files this branch changes: ` +
    `${describePins(branch.running)}${tagOnly}. No source commits are listed against any one of them; reverting the ` +
    'merge commit restores each.'
  )
}

/** Mode 2: promote what `from-paths` pin on base to `paths`, once the environment before verified it. */
async function promote(context: Context, commitApi: GitHubApi): Promise<Result> {
  const { inputs, deps } = context
  return withBaseClone(context, async git => {
    const read = (paths: string[], input: string) =>
      readPins({
        root: git.cwd,
        paths,
        image: inputs.image,
        aliases: inputs.aliases,
        helmPaths: inputs.helmPaths,
        input
      })
    const upstream = await read(inputs.fromPaths, 'from-paths')
    if (upstream.pins.length > 1) {
      throw new ConfigurationError(
        `input 'from-paths' pins ${inputs.image} to ${upstream.pins.length} different digests on ${context.base} ` +
          `(${upstream.pins.map(pin => `${pin.digest} in ${pin.where.join(', ')}`).join('; ')}): ` +
          'narrow from-paths to one environment, or give image-ref to choose'
      )
    }
    const pinned = upstream.pins[0]
    if (!pinned && !inputs.digest) {
      throw new ConfigurationError(
        `input 'from-paths' (${inputs.fromPaths.join(', ')}) pins no digest of ${inputs.image} on ${context.base}` +
          (upstream.unpinned.length ? ` (by tag only at ${upstream.unpinned.join(', ')})` : '') +
          ': pin it there first with bump-manifest, or check image and from-paths'
      )
    }
    const digest = inputs.digest ?? (pinned?.digest as string)
    const tag = inputs.tag ?? (digest === pinned?.digest ? pinned.tag : undefined)
    const here = await read(inputs.paths, 'paths')
    if (here.pins.length === 0 && here.unpinned.length === 0) {
      throw new ConfigurationError(
        `input 'paths' (${inputs.paths.join(', ')}) has no reference to ${inputs.image} on ${context.base}: check paths`
      )
    }
    const running = here.pins.length === 1 ? here.pins[0] : undefined

    const pulls = await context.api.listOpenPulls(context.repo, inputs.headBranch, context.base)
    const kept = pulls[0]
    const previous = kept ? readStateBlock(kept.body) : undefined

    if (here.unpinned.length === 0 && here.pins.length === 1 && running?.digest === digest) {
      const pinnedBy = pulls.length ? await pinningCommit(git, context, digest, pinFiles(running)) : undefined
      return closeUnneeded(context, pulls, digest, { pinnedBy })
    }
    if (kept && previous?.to.digest === digest && previous.verification.verified) {
      const closed = await closeDuplicates(context, kept, pulls.slice(1))
      if (kept.draft && !inputs.draft) noticeDraft(context, kept, digest)
      return unchanged(kept, digest, previous, closed)
    }

    const fromEnvironment =
      inputs.fromEnvironment ??
      (cleanPath(inputs.fromPaths[0] as string)
        .split('/')
        .pop() ||
        'upstream')
    const verification = await verifyUpstream({
      api: context.api,
      history: await pinHistory(git, context),
      repo: context.repo,
      base: context.base,
      fromPaths: inputs.fromPaths,
      image: inputs.image,
      aliases: inputs.aliases,
      digest,
      pinned: pinned?.digest,
      pinFiles: pinned ? pinFiles(pinned) : [],
      required: inputs.requireStatus,
      minSoakMs: inputs.minSoakMs,
      now: deps.now()
    })
    const unverified =
      `${inputs.image}@${digest} is not verified upstream (${fromEnvironment}): ${verification.reason ?? ''}` +
      (verification.commit ? ` (looked at ${verification.commit}, pinned by ${verification.pinnedBy})` : '')
    const skipped = (): Result => ({
      operation: 'skipped',
      pull: kept ? { number: kept.number, url: kept.url } : undefined,
      headSha: kept?.headSha ?? '',
      verified: false,
      from: running?.digest,
      to: digest,
      files: [],
      autoMerge: false
    })
    if (!verification.verified) {
      if (inputs.whenUnverified === 'fail') {
        throw new ExternalError(`${unverified}; when-unverified is fail`)
      }
      if (inputs.whenUnverified === 'skip') {
        core.notice(`${unverified}: no pull request opened (when-unverified: skip)`)
        return skipped()
      }
      if (kept && previous?.to.digest === digest && !previous.verification.verified) {
        const closed = await closeDuplicates(context, kept, pulls.slice(1))
        return unchanged(kept, digest, previous, closed)
      }
    }

    const registry = deps.registry(inputs.credentialsFor)
    const to = await readVersion(registry, inputs.imageRef, { digest, tag }, 'the digest to promote')
    const from = running && (await readRunning(registry, inputs, running))
    const verdict = await checkVerdict(context, registry, digest)

    const plan = await planHead(context, git, kept)
    let open = pulls
    // An unverified digest never lands on a pull request that could be merged (by a person or by auto-merge).
    if (!verification.verified && kept && !kept.draft) {
      const held = await holdAsDraft(context, kept)
      if (!held.ok) {
        core.notice(
          `${unverified}: not pushed, because #${kept.number} is ready for review and could not be made a draft ` +
            `(${held.message}); convert it to a draft (and disable its auto-merge) or close it, then re-run`
        )
        return skipped()
      }
      open = [{ ...kept, draft: true, autoMerge: false }, ...pulls.slice(1)]
    }
    const pushed = plan.rebuildFrom
      ? await rebuildHead(context, git, commitApi, { digest, tag }, plan.rebuildFrom)
      : await pinOnHead(context, git, commitApi, { digest, tag })
    const state = newState(context, { from, to, files: pushed.files, verification, verdict, fromEnvironment })
    const source = await sourceCommits(context, from, to)
    return await propose(context, {
      pulls: open,
      state,
      source,
      draft: inputs.draft || !verification.verified,
      headSha: pushed.sha,
      withdraw: sha => withdrawHead(context, git, sha)
    })
  })
}

/** The running image's facts, or only its digest and tag when its labels cannot be read (a warning says so). */
async function readRunning(
  registry: ImageRegistry,
  inputs: PromotionInputs,
  running: { digest: string; tag?: string }
): Promise<ImageVersion> {
  const version = { digest: running.digest, tag: running.tag }
  return readVersion(registry, inputs.imageRef, version, 'the running digest').catch((error: Error) => {
    core.warning(`Could not read the running image's labels: ${error.message}`)
    return version
  })
}

/** Runs `body` with a shallow clone of base in a temporary directory, removed afterwards. */
async function withBaseClone<T>(
  context: Pick<Context, 'deps' | 'serverUrl' | 'base'> & {
    inputs: Pick<PromotionInputs, 'repository' | 'token'>
  },
  body: (git: GitCommandManager) => Promise<T>
): Promise<T> {
  const { deps, inputs } = context
  const tempDir = await fs.mkdtemp(path.join(deps.env.RUNNER_TEMP || os.tmpdir(), 'open-promotion-pr-'))
  try {
    const git = createGit({
      runner: deps.runner,
      cwd: tempDir,
      token: inputs.token,
      serverUrl: context.serverUrl
    })
    try {
      await git.clone(`${context.serverUrl}/${inputs.repository}.git`, context.base)
    } catch (error) {
      if (/Remote branch .* not found/i.test((error as Error).message)) {
        throw new ConfigurationError(
          `branch '${context.base}' does not exist in ${inputs.repository}: check 'base'`
        )
      }
      throw error
    }
    return await body(git)
  } finally {
    await fs.rm(tempDir, { recursive: true, force: true })
  }
}

async function checkVerdict(
  context: Context,
  registry: ImageRegistry,
  digest: string
): Promise<VerdictState | null> {
  const verdict = await readVerdict(registry, context.inputs.imageRef, digest)
  if (context.inputs.requireVerdict && verdict?.decision !== 'pass') {
    throw new ConfigurationError(
      `${context.inputs.image}@${digest} has ${verdict ? 'a failing' : 'no'} scan-gate verdict attached, and ` +
        'require-verdict is pass: scan it with scan-gate (attach: true) and fix what it finds, or clear require-verdict'
    )
  }
  if (!verdict) core.warning(`No scan-gate verdict is attached to ${context.inputs.image}@${digest}`)
  return verdict
}

function noneRequired(): VerificationState {
  return { required: [], verified: true, statuses: [], minSoakMs: 0 }
}

function newState(
  context: Context,
  parts: Pick<PromotionState, 'to' | 'files' | 'verification' | 'verdict'> &
    Partial<Pick<PromotionState, 'from' | 'fromEnvironment'>>
): PromotionState {
  return {
    v: 1,
    environment: context.inputs.environment,
    image: context.inputs.image,
    ...parts,
    proposedBy: sourceContext(context.deps.env).workflowRun,
    proposedAt: context.deps
      .now()
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z')
  }
}
