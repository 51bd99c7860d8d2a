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
  type PullRequest,
  type PullRequestApi,
  type RepoName
} from '../../lib/github/index.js'
import { shortDigest } from '../../lib/image-ref.js'
import { runnerInputs, type InputSource } from '../../lib/inputs.js'
import { createRegistryClient } from '../../lib/registry/index.js'
import { appendSummary } from '../../lib/summary.js'
import { commitMessage, sourceContext } from '../bump-manifest/commit-message.js'
import { publish } from '../bump-manifest/publish.js'
import { pinTree, type PinTreeResult } from '../../lib/manifest/index.js'
import { reference, renderBody, type SourceCommits } from './body.js'
import { readVerdict, readVersion, type ImageRegistry } from './image-facts.js'
import { readInputs, type OutputName, type PromotionInputs } from './inputs.js'
import { code, link, text } from './markdown.js'
import { readPins } from './pins.js'
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
  registry(credentials: PromotionInputs['registryCredentials']): ImageRegistry
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

type Operation = 'created' | 'updated' | 'unchanged' | 'closed' | 'skipped'

interface Result {
  operation: Operation
  pull?: { number: number; url: string }
  headSha: string
  verified: boolean
  from?: string
  to: string
  files: string[]
  autoMerge: boolean
}

interface Context {
  deps: Collaborators
  inputs: PromotionInputs
  repo: RepoName
  api: PullRequestApi
  base: string
  serverUrl: string
}

/** Opens or updates the one pull request for this environment and image, or closes it when it is no longer needed. */
export async function openPromotionPr(deps: Collaborators): Promise<void> {
  const inputs = readInputs(deps.inputs, deps.env)
  const serverUrl = (deps.env.GITHUB_SERVER_URL || 'https://github.com').replace(/\/+$/, '')
  const repo = parseRepoName(inputs.repository)
  const clients = deps.github(inputs.token, deps.env.GITHUB_API_URL)
  const api = clients.pulls
  const base = inputs.base ?? (await api.defaultBranch(repo))
  if (base === inputs.headBranch) {
    throw new ConfigurationError(
      `input 'head-branch' is '${base}', the base branch itself: name a branch of its own (or leave it empty)`
    )
  }
  const context: Context = { deps, inputs, repo, api, base, serverUrl }
  const result =
    inputs.fromPaths.length > 0 ? await promote(context, clients.commits) : await openForBranch(context)

  deps.setOutput('operation', result.operation)
  deps.setOutput('pull-request-number', result.pull ? String(result.pull.number) : '')
  deps.setOutput('pull-request-url', result.pull?.url ?? '')
  deps.setOutput('head-branch', inputs.headBranch)
  deps.setOutput('head-sha', result.headSha)
  deps.setOutput('verified', String(result.verified))
  deps.setOutput(
    'promoted',
    JSON.stringify({ image: inputs.image, from: result.from ?? null, to: result.to, files: result.files })
  )
  deps.setOutput('auto-merge', String(result.autoMerge))
  const where = result.pull ? ` ${link(`#${result.pull.number}`, result.pull.url)}` : ''
  await deps.writeSummary(
    `### Promotion of ${code(inputs.image)} to ${text(inputs.environment)}: ${result.operation}${where}\n\n` +
      `Proposes ${code(result.to)} on ${code(inputs.headBranch)} into ${code(base)}.\n`
  )
  core.info(
    `Promotion to ${inputs.environment}: ${result.operation}${result.pull ? ` (#${result.pull.number})` : ''}`
  )
}

/** Mode 1: bump-manifest committed to `head-branch`; open or update the pull request for it. */
async function openForBranch(context: Context): Promise<Result> {
  const { inputs, deps } = context
  const digest = inputs.digest as string
  const pulls = await context.api.listOpenPulls(context.repo, inputs.headBranch, context.base)
  const kept = pulls[0]
  const previous = kept ? readStateBlock(kept.body) : undefined
  if (kept && previous?.to.digest === digest && previous.environment === inputs.environment) {
    const closed = await closeDuplicates(context, kept, pulls.slice(1))
    return unchanged(kept, digest, previous, closed)
  }
  const registry = deps.registry(inputs.registryCredentials)
  const to = await readVersion(registry, inputs.imageRef, { digest, tag: inputs.tag }, 'the image')
  const verdict = await checkVerdict(context, registry, digest)
  const state = newState(context, { to, files: [], verification: noneRequired(), verdict })
  const source: SourceCommits = {
    kind: 'unavailable',
    reason:
      'The image running before is not known to this run (open with from-paths to list the source commits).'
  }
  return propose(context, { pulls, state, source, draft: inputs.draft })
}

/** Mode 2: promote what `from-paths` pin on base to `paths`, once the environment before verified it. */
async function promote(context: Context, commitApi: GitHubApi): Promise<Result> {
  const { inputs, deps } = context
  const tempDir = await fs.mkdtemp(path.join(deps.env.RUNNER_TEMP || os.tmpdir(), 'open-promotion-pr-'))
  try {
    const git = createGit({
      runner: deps.runner,
      cwd: tempDir,
      token: inputs.token,
      serverUrl: context.serverUrl
    })
    await cloneBase(git, context)
    const read = (paths: string[], input: string) =>
      readPins({
        root: tempDir,
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
      return closeUnneeded(context, pulls, digest)
    }
    if (kept && previous?.to.digest === digest && previous.verification.verified) {
      const closed = await closeDuplicates(context, kept, pulls.slice(1))
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
      repo: context.repo,
      base: context.base,
      fromPaths: inputs.fromPaths,
      image: inputs.image,
      aliases: inputs.aliases,
      digest,
      required: inputs.requireStatus,
      minSoakMs: inputs.minSoakMs,
      now: deps.now()
    })
    if (!verification.verified) {
      const what =
        `${inputs.image}@${digest} is not verified upstream (${fromEnvironment}): ${verification.reason ?? ''}` +
        (verification.commit ? ` (looked at ${verification.commit}, pinned by ${verification.pinnedBy})` : '')
      if (inputs.whenUnverified === 'fail') {
        throw new ExternalError(`${what}; when-unverified is fail`)
      }
      if (inputs.whenUnverified === 'skip') {
        core.notice(`${what}: no pull request opened (when-unverified: skip)`)
        return {
          operation: 'skipped',
          pull: kept ? { number: kept.number, url: kept.url } : undefined,
          headSha: kept?.headSha ?? '',
          verified: false,
          from: running?.digest,
          to: digest,
          files: [],
          autoMerge: false
        }
      }
      if (kept && previous?.to.digest === digest && !previous.verification.verified) {
        const closed = await closeDuplicates(context, kept, pulls.slice(1))
        return unchanged(kept, digest, previous, closed)
      }
    }

    const registry = deps.registry(inputs.registryCredentials)
    const to = await readVersion(registry, inputs.imageRef, { digest, tag }, 'the digest to promote')
    const from = running
      ? await readVersion(
          registry,
          inputs.imageRef,
          { digest: running.digest, tag: running.tag },
          'the running digest'
        ).catch((error: Error) => {
          core.warning(`Could not read the running image's labels: ${error.message}`)
          return { digest: running.digest, tag: running.tag } as ImageVersion
        })
      : undefined
    const verdict = await checkVerdict(context, registry, digest)

    const plan = await planHead(context, git, kept)
    const files = plan.rebuildFrom
      ? await rebuildHead(context, git, { digest, tag }, plan.rebuildFrom)
      : await pinOnHead(context, git, commitApi, { digest, tag })
    const state = newState(context, { from, to, files, verification, verdict, fromEnvironment })
    const source = await sourceCommits(context, from, to)
    return await propose(context, {
      pulls,
      state,
      source,
      draft: inputs.draft || !verification.verified
    })
  } finally {
    await fs.rm(tempDir, { recursive: true, force: true })
  }
}

async function cloneBase(git: GitCommandManager, context: Context): Promise<void> {
  try {
    await git.clone(`${context.serverUrl}/${context.inputs.repository}.git`, context.base)
  } catch (error) {
    if (/Remote branch .* not found/i.test((error as Error).message)) {
      throw new ConfigurationError(
        `branch '${context.base}' does not exist in ${context.inputs.repository}: check 'base'`
      )
    }
    throw error
  }
}

/** An `Image:` trailer: the commit was made by this action or bump-manifest. */
const OUR_TRAILER = /^Image: \S+@sha(256|512):[0-9a-f]+$/m

/**
 * How the head branch takes the new pin: on top of what it holds, or rebuilt from base when it conflicts with base
 * and every commit on it is ours. A foreign commit on a conflicting branch stops the run: rebuilding would lose it.
 */
async function planHead(
  context: Context,
  git: GitCommandManager,
  kept: PullRequest | undefined
): Promise<{ rebuildFrom?: string }> {
  const { inputs } = context
  const head = await git.fetch(inputs.headBranch)
  if (!head || !kept) return {}
  if ((await context.api.mergeable(context.repo, kept.number)) !== false) return {}
  const comparison = await context.api.compare(context.repo, context.base, head)
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

/** Pins `paths` to the digest on the head branch through bump-manifest's commit path; returns the files changed. */
async function pinOnHead(
  context: Context,
  git: GitCommandManager,
  commitApi: GitHubApi,
  target: { digest: string; tag?: string }
): Promise<string[]> {
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
    maxAttempts: 8,
    apply: edit.apply,
    sleep: deps.sleep,
    log: line => core.info(line)
  })
  return edit.files(published.files)
}

/**
 * Rebuilds the head branch from base with one commit: reset to base, edit, commit, push with a lease on the commit
 * the branch was read at. Always through git: the API cannot replace a branch under a lease.
 */
async function rebuildHead(
  context: Context,
  git: GitCommandManager,
  target: { digest: string; tag?: string },
  expected: string
): Promise<string[]> {
  const { inputs } = context
  core.info(
    `${inputs.headBranch} conflicts with ${context.base} and holds only our commits: rebuilding it from ${context.base}`
  )
  await git.resetHard(`refs/remotes/origin/${context.base}`)
  const edit = editPaths(context, git, target)
  const changed = await edit.apply()
  if (changed.length === 0) {
    throw new ExternalError(`${context.base} changed while rebuilding ${inputs.headBranch}: re-run`)
  }
  await git.commit(promotionMessage(context, target), inputs.author, changed)
  const pushed = await git.tryPushWithLease(inputs.headBranch, expected)
  if (pushed === 'protected') {
    throw new ConfigurationError(`branch '${inputs.headBranch}' is protected: name a head-branch of its own`)
  }
  if (pushed === 'rejected') {
    throw new ExternalError(
      `${inputs.headBranch} moved while it was being rebuilt (someone pushed to it): nothing was overwritten; re-run`
    )
  }
  return edit.files(changed)
}

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

/** Base already pins the digest: the pull request is not needed any more. */
async function closeUnneeded(context: Context, pulls: PullRequest[], digest: string): Promise<Result> {
  const { inputs, api, repo } = context
  if (pulls.length === 0) {
    core.info(
      `${context.base} already pins ${inputs.image}@${digest} in ${inputs.paths.join(', ')}: nothing to promote`
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
  const [latest] = await api.listCommits(repo, context.base, {
    path: cleanPath(inputs.paths[0] as string),
    max: 1
  })
  const by = latest ? ` by ${latest.sha} (${latest.message.split('\n')[0]})` : ''
  for (const pull of pulls) {
    await api.comment(
      repo,
      pull.number,
      `Closing: ${code(context.base)} already pins ${code(`${inputs.image}@${digest}`)} in ${text(inputs.environment)}` +
        `${latest ? `, since commit ${link(latest.sha.slice(0, 12), latest.url)} (${text(latest.message.split('\n')[0] ?? '')})` : ''}. ` +
        'This pull request is no longer needed.'
    )
    await api.updatePull(repo, pull.number, { state: 'closed' })
  }
  core.info(
    `Closed ${pulls.map(pull => `#${pull.number}`).join(', ')}: ${context.base} already pins ${digest}${by}`
  )
  const comparison = await api
    .compare(repo, context.base, `${repo.owner}:${inputs.headBranch}`)
    .catch(() => undefined)
  // Only a branch every commit of which is ours is deleted; someone else's commit keeps it.
  if (comparison && comparison.commits.every(commit => OUR_TRAILER.test(commit.message))) {
    await api.deleteBranch(repo, inputs.headBranch)
  }
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

function unchanged(kept: PullRequest, digest: string, state: PromotionState, closed: number): Result {
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
async function propose(
  context: Context,
  plan: { pulls: PullRequest[]; state: PromotionState; source: SourceCommits; draft: boolean }
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
    headSha: pull.headSha,
    verified: plan.state.verification.verified,
    from: plan.state.from?.digest,
    to: plan.state.to.digest,
    files: plan.state.files,
    autoMerge
  })

  let kept = plan.pulls[0]
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
    if (!kept)
      throw new ExternalError(`GitHub said a pull request from ${inputs.headBranch} exists, but lists none`)
    plan = { ...plan, pulls: again }
    const theirs = readStateBlock(kept.body)
    if (theirs?.to.digest === plan.state.to.digest) {
      const closed = await closeDuplicates(context, kept, again.slice(1))
      return unchanged(kept, plan.state.to.digest, theirs, closed)
    }
  }

  const before = readStateBlock(kept.body)
  await api.updatePull(repo, kept.number, { title, body })
  // A draft that waited for the upstream verification is ready once it passed (a draft asked for stays one).
  const nowReady = kept.draft && !plan.draft && before?.verification.verified === false
  if (nowReady) await api.markReady(kept)
  await api.comment(repo, kept.number, updateComment(before, plan.state))
  await closeDuplicates(context, kept, plan.pulls.slice(1))
  return result('updated', kept)
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
async function closeDuplicates(context: Context, kept: PullRequest, others: PullRequest[]): Promise<number> {
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

/** The source commits between the two images: their OCI labels, then the compare API of the source repository. */
async function sourceCommits(
  context: Context,
  from: ImageVersion | undefined,
  to: ImageVersion
): Promise<SourceCommits> {
  const unavailable = (reason: string): SourceCommits => ({ kind: 'unavailable', reason })
  if (!from)
    return unavailable('The image running before is not known: no single digest was pinned in paths.')
  if (!from.source || !to.source || !from.revision || !to.revision) {
    return unavailable(
      'The images do not both carry the org.opencontainers.image.source and .revision labels, so the source commits between them are not known.'
    )
  }
  const repository = githubRepository(to.source, context.serverUrl)
  if (!repository || githubRepository(from.source, context.serverUrl) !== repository) {
    return unavailable(
      `The source ${to.source} is not a repository on ${context.serverUrl}; its commits are not listed.`
    )
  }
  const revision = /^[0-9a-f]{7,40}$/
  if (!revision.test(from.revision) || !revision.test(to.revision)) {
    return unavailable('The revision labels are not commit hashes; the source commits are not listed.')
  }
  const sourceApi =
    context.inputs.sourceToken === context.inputs.token
      ? context.api
      : context.deps.github(context.inputs.sourceToken, context.deps.env.GITHUB_API_URL).pulls
  try {
    const comparison = await sourceApi.compare(parseRepoName(repository), from.revision, to.revision)
    return {
      kind: 'listed',
      repository,
      compareUrl: `${context.serverUrl}/${repository}/compare/${from.revision}...${to.revision}`,
      total: comparison.totalCommits,
      commits: comparison.commits
    }
  } catch (error) {
    core.warning(`Could not read the source commits of ${repository}: ${(error as Error).message}`)
    return unavailable(
      `The source repository ${repository} is not readable with the token given (source-token), so its commits are not listed.`
    )
  }
}

/** `owner/name` of a source label on this GitHub (`https://github.com/owner/name[.git]`), else undefined. */
function githubRepository(source: string, serverUrl: string): string | undefined {
  const prefix = `${serverUrl}/`
  if (!source.startsWith(prefix)) return undefined
  const match = /^([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+?)(?:\.git)?\/?$/.exec(source.slice(prefix.length))
  return match ? `${match[1]}/${match[2]}` : undefined
}
