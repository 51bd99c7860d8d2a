import * as core from '@actions/core'
import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { ConfigurationError, errorMessage, ExternalError } from '../../lib/errors.js'
import { createCommandRunner, type CommandRunner } from '../../lib/exec.js'
import { createGit, type GitCommandManager } from '../../lib/git/index.js'
import { createGitHubApi, parseRepoName, type GitHubApi } from '../../lib/github/index.js'
import { runAction } from '../../lib/action.js'
import { runnerInputs, type InputSource } from '../../lib/inputs.js'
import {
  pinTree,
  type FileError,
  type PinRequest,
  type PinTreeResult,
  type WalkWorkerSource
} from '../../lib/manifest/index.js'
import { appendSummary, cell, code, table } from '../../lib/summary.js'
import { commitMessage, sourceContext } from './commit-message.js'
import { readInputs, type BumpInputs, type OutputName } from './inputs.js'
import { publish, type Published } from './publish.js'

/** Under GitHub's 1 MiB per output, with room for the file command's delimiter lines. */
export const MAX_OUTPUT_BYTES = 1024 * 1024 - 4096
// GitHub shows only the first annotations of a step, and drops a job summary over 1 MiB.
const MAX_ANNOTATIONS = 50
const MAX_SUMMARY_ROWS = 200

export interface Collaborators {
  inputs: InputSource
  env: NodeJS.ProcessEnv
  runner: CommandRunner
  github(token: string, apiUrl: string | undefined): GitHubApi
  setOutput(name: OutputName, value: string): void
  writeSummary(markdown: string): Promise<void>
  sleep?: (ms: number) => Promise<void>
  /** Worker threads that walk large trees while the main thread parses; without them one thread does all. */
  walkWorker?: WalkWorkerSource
}

export function defaultCollaborators(walkWorker?: WalkWorkerSource): Collaborators {
  return {
    inputs: runnerInputs,
    env: process.env,
    runner: createCommandRunner(),
    github: (token, apiUrl) => createGitHubApi({ token, apiUrl, userAgent: 'digest-delivery/bump-manifest' }),
    setOutput: (name, value) => core.setOutput(name, value),
    writeSummary: appendSummary,
    walkWorker
  }
}

/** The action's entry. */
export async function run(deps: Collaborators = defaultCollaborators()): Promise<void> {
  await runAction(() => bumpManifest(deps))
}

/** Pins the image to the digest in the GitOps repository and commits the change (or only edits, with push: none). */
export async function bumpManifest(deps: Collaborators): Promise<void> {
  const inputs = readInputs(deps.inputs, deps.env)
  const serverUrl = (deps.env.GITHUB_SERVER_URL || 'https://github.com').replace(/\/+$/, '')
  const tempDir = inputs.checkout
    ? undefined
    : await fs.mkdtemp(path.join(deps.env.RUNNER_TEMP || os.tmpdir(), 'bump-manifest-'))
  try {
    const tree = tempDir
      ? await cloneInto(deps, inputs, serverUrl, tempDir)
      : await useCheckout(deps, inputs, serverUrl, inputs.checkout as string)
    const { git, cwd, repository, branch } = tree
    const repo = parseRepoName(repository)
    if (inputs.push === 'branch' && inputs.headBranch === branch) {
      throw new ConfigurationError(
        `input 'head-branch' is '${branch}', the branch it would be based on: name a branch of its own (e.g. promote/${branch})`
      )
    }

    const request: PinRequest = {
      image: inputs.image,
      aliases: inputs.aliases,
      digest: inputs.digest,
      tag: inputs.tag,
      helmPaths: inputs.helmPaths,
      imagePolicy: inputs.imagePolicy
    }
    let result: PinTreeResult | undefined
    const apply = async (): Promise<string[]> => {
      // A file that blocks the run fails it before anything is written, so no other file is left edited.
      result = await pinTree({
        root: cwd,
        paths: inputs.paths,
        request,
        write: true,
        check: checked => checkResult(checked, inputs),
        maxFileBytes: inputs.maxFileBytes,
        worker: deps.walkWorker
      })
      return result.edited.map(file => file.file)
    }

    let published: Published
    if (inputs.push === 'none') {
      const files = await apply()
      published = { changed: files.length > 0, branch, attempts: 1, files }
    } else {
      const message = commitMessage(inputs.commitMessage, {
        image: inputs.image,
        digest: inputs.digest,
        tag: inputs.tag,
        paths: inputs.paths,
        ...sourceContext(deps.env)
      })
      published = await publish({
        git,
        api: inputs.commitVia === 'api' ? deps.github(inputs.token, deps.env.GITHUB_API_URL) : undefined,
        repo,
        mode: inputs.push,
        commitVia: inputs.commitVia,
        branch,
        headBranch: inputs.headBranch,
        message,
        author: inputs.author,
        maxAttempts: inputs.maxAttempts,
        maxWaitMs: inputs.maxWaitMs,
        apply,
        sleep: deps.sleep,
        log: line => core.info(line)
      })
    }
    const final = result as PinTreeResult
    core.info(
      `Searched ${final.searched} file(s) under ${inputs.paths.join(', ')}: ${final.parsed} mentioned the image ` +
        `(${final.threads} thread(s))`
    )
    // A dry run on a temporary clone leaves nothing behind: the diff in the summary is its result.
    const diff = tempDir && inputs.push === 'none' && published.changed ? await dryRunDiff(git) : undefined
    await setOutputs(deps, repository, final, published)
    await deps.writeSummary(summaryOf(inputs, repository, final, published, serverUrl, diff))
    core.info(
      published.changed
        ? `${final.changes.length} reference(s) pinned to ${inputs.digest}` +
            (published.commitSha
              ? ` in commit ${published.commitSha} on ${published.branch} (attempt ${published.attempts})`
              : ' (not committed: push: none)')
        : found(final)
          ? `Every reference already points at ${inputs.digest}: nothing to commit`
          : `No reference to ${inputs.image} found (allow-no-match): nothing to commit`
    )
  } finally {
    if (tempDir) await fs.rm(tempDir, { recursive: true, force: true })
  }
}

interface WorkingTree {
  git: GitCommandManager
  cwd: string
  repository: string
  branch: string
}

/** A shallow clone of the GitOps repository in a temporary directory, at `branch` or its default branch. */
async function cloneInto(
  deps: Collaborators,
  inputs: BumpInputs,
  serverUrl: string,
  dir: string
): Promise<WorkingTree> {
  const repository = inputs.repository ?? deps.env.GITHUB_REPOSITORY
  if (!repository) {
    throw new ConfigurationError(
      "input 'repository' is empty and GITHUB_REPOSITORY is not set: name the GitOps repository"
    )
  }
  const git = createGit({ runner: deps.runner, cwd: dir, token: inputs.token || undefined, serverUrl })
  await git.clone(`${serverUrl}/${repository}.git`, inputs.branch)
  const branch = inputs.branch ?? (await git.currentBranch())
  if (!branch) throw new ExternalError(`the clone of ${repository} has no branch checked out`)
  return { git, cwd: dir, repository, branch }
}

/**
 * An existing checkout (e.g. actions/checkout's). Its origin names the repository; credentials it persisted are used
 * as they are (our token only when it has none); it must be on the branch to update with no uncommitted changes,
 * since each attempt resets it to the remote branch.
 */
async function useCheckout(
  deps: Collaborators,
  inputs: BumpInputs,
  serverUrl: string,
  dir: string
): Promise<WorkingTree> {
  const plain = createGit({ runner: deps.runner, cwd: dir, serverUrl })
  // Independent local reads, run at once, and only those this run needs: credentials matter only to a push, the
  // current branch only when no branch is named or a direct push must start from it. With push: none the directory
  // need not be a git checkout at all: only its files are edited.
  const [origin, persisted, current] = await Promise.all([
    inputs.push === 'none'
      ? plain.originRepository(serverUrl).catch(() => undefined)
      : plain.originRepository(serverUrl),
    inputs.push === 'none' ? false : plain.hasPersistedCredentials(serverUrl),
    inputs.branch === undefined || inputs.push === 'direct' ? plain.currentBranch() : undefined
  ])
  if (inputs.repository && origin && inputs.repository.toLowerCase() !== origin.toLowerCase()) {
    throw new ConfigurationError(
      `input 'repository' is ${inputs.repository} but the checkout at ${dir} is a clone of ${origin}: ` +
        "leave 'repository' empty to use the checkout's, or point 'path' at a checkout of the right repository"
    )
  }
  const repository = inputs.repository ?? origin ?? ''
  if (!repository && inputs.push !== 'none') {
    throw new ConfigurationError(`the checkout at ${dir} has no origin on ${serverUrl}: set 'repository'`)
  }
  const git = persisted
    ? plain
    : createGit({ runner: deps.runner, cwd: dir, token: inputs.token || undefined, serverUrl })
  const branch = inputs.branch ?? current ?? ''
  if (!branch && inputs.push !== 'none') {
    throw new ConfigurationError(
      `the checkout at ${dir} is on a detached HEAD: set 'branch' to the branch to update`
    )
  }
  if (inputs.push !== 'none' && (await git.hasChanges())) {
    throw new ConfigurationError(
      `the checkout at ${dir} has uncommitted changes to tracked files: commit or stash them first ` +
        '(each attempt resets the checkout to the remote branch, which would drop them)'
    )
  }
  if (inputs.push === 'direct' && current !== branch) {
    throw new ConfigurationError(
      `the checkout at ${dir} is on ${current ? `'${current}'` : 'a detached HEAD'}, not '${branch}': ` +
        `check out '${branch}' first (each attempt resets the checkout to the remote branch)`
    )
  }
  // Work on the head branch must not move the checkout's local branch: detach first.
  if (inputs.push === 'branch') await git.detach()
  return { git, cwd: dir, repository, branch }
}

/** Refuses partial or empty results: a file that mentions the image but could not be edited fails the run. */
function checkResult(result: PinTreeResult, inputs: BumpInputs): void {
  for (const item of result.notManaged.slice(0, MAX_ANNOTATIONS)) {
    core.warning(`${item.message} (not managed: ${item.reason})`, {
      file: item.file,
      startLine: item.line
    })
  }
  if (result.notManaged.length > MAX_ANNOTATIONS) {
    core.warning(
      `and ${result.notManaged.length - MAX_ANNOTATIONS} more mention(s) not managed (the job summary lists the first ${MAX_SUMMARY_ROWS})`
    )
  }
  // Every file error blocks, a file that is not UTF-8 too: it mentions the image, and it would stay on the old one.
  const blocking: FileError[] = result.errors
  for (const error of blocking.slice(0, MAX_ANNOTATIONS)) {
    core.error(error.message, { file: error.file, startLine: error.line })
  }
  if (blocking.length > 0) {
    const shown = blocking.slice(0, 5).map(e => e.message)
    if (blocking.length > shown.length)
      shown.push(`and ${blocking.length - shown.length} more (see the annotations)`)
    throw new ConfigurationError(
      `${blocking.length} file(s) mention the image but could not be updated, so nothing was changed: ${shown.join('; ')}`
    )
  }
  if (!found(result) && !inputs.allowNoMatch) {
    const names = [inputs.image, ...inputs.aliases].join(', ')
    const skipped = result.notManaged.length
      ? `; ${result.notManaged.length} mention(s) not managed (see warnings)`
      : ''
    throw new ConfigurationError(
      `no reference to ${names} found in ${inputs.paths.join(', ')} (${result.searched} file(s) searched, ` +
        `${result.parsed} mentioned the image${skipped}). Check 'paths' and 'image' (or add 'aliases'), ` +
        'or set allow-no-match: true if this is expected'
    )
  }
}

/** True when any reference to the image was found, changed or already pinned. */
function found(result: PinTreeResult): boolean {
  return result.changes.length + result.unchanged.length > 0
}

async function dryRunDiff(git: GitCommandManager): Promise<string> {
  const result = await git.diff()
  return result.length > 60_000 ? `${result.slice(0, 60_000)}\n… (cut)` : result
}

async function setOutputs(
  deps: Collaborators,
  repository: string,
  result: PinTreeResult,
  published: Published
): Promise<void> {
  const changes = result.changes.map(change => ({
    file: change.file,
    line: change.line,
    old: change.old,
    new: change.new
  }))
  const file = await writeChangesFile(deps.env, { changes, previous: result.previous })
  const cutChanges = jsonListWithin(changes, MAX_OUTPUT_BYTES)
  const cutPrevious = jsonListWithin(result.previous, MAX_OUTPUT_BYTES)
  const truncated = cutChanges.kept < changes.length || cutPrevious.kept < result.previous.length
  if (truncated) {
    core.warning(
      `outputs 'changes' and 'previous' hold the first ${cutChanges.kept} of ${changes.length} change(s) and ` +
        `${cutPrevious.kept} of ${result.previous.length} previous reference(s), to stay under GitHub's 1 MiB per ` +
        `output: the full lists are in the file named by output 'changes-file' (${file})`
    )
  }
  deps.setOutput('changed', String(published.changed))
  deps.setOutput('changes', cutChanges.json)
  deps.setOutput('changes-truncated', String(truncated))
  deps.setOutput('changes-file', file)
  deps.setOutput('commit-sha', published.commitSha ?? '')
  deps.setOutput('branch', published.branch)
  deps.setOutput('previous', cutPrevious.json)
  deps.setOutput('repository', repository)
}

/** The JSON of as many leading items as fit in `maxBytes` (UTF-8), and how many that is. */
export function jsonListWithin(items: readonly unknown[], maxBytes: number): { json: string; kept: number } {
  const parts: string[] = []
  let bytes = 2
  for (const item of items) {
    const part = JSON.stringify(item)
    const size = Buffer.byteLength(part) + (parts.length > 0 ? 1 : 0)
    if (bytes + size > maxBytes) break
    parts.push(part)
    bytes += size
  }
  return { json: `[${parts.join(',')}]`, kept: parts.length }
}

/** The full lists, in a new file of its own under RUNNER_TEMP (never an existing one, so never a planted symlink). */
async function writeChangesFile(env: NodeJS.ProcessEnv, lists: object): Promise<string> {
  const dir = env.RUNNER_TEMP || os.tmpdir()
  const file = path.join(dir, `bump-manifest-changes-${randomBytes(8).toString('hex')}.json`)
  try {
    await fs.writeFile(file, JSON.stringify(lists), { flag: 'wx', mode: 0o644 })
  } catch (error) {
    throw new ExternalError(`could not write the list of changes to ${file}: ${errorMessage(error)}`)
  }
  return file
}

function more(count: number, what: string): string {
  return count > MAX_SUMMARY_ROWS
    ? `\nand ${count - MAX_SUMMARY_ROWS} more ${what}: every one is in the file named by output ${code('changes-file')}.\n`
    : ''
}

function summaryOf(
  inputs: BumpInputs,
  repository: string,
  result: PinTreeResult,
  published: Published,
  serverUrl: string,
  diff: string | undefined
): string {
  const target = `${inputs.image}${inputs.tag ? `:${inputs.tag}` : ''}@${inputs.digest}`
  const heading = published.changed
    ? 'Pinned'
    : found(result)
      ? 'Already pinned:'
      : 'No reference found to pin to'
  let text = `### ${heading} ${code(target)}\n\n`
  if (published.commitSha) {
    const url = `${serverUrl}/${repository}/commit/${published.commitSha}`
    text += `Commit [${published.commitSha.slice(0, 12)}](${url}) on ${code(published.branch)} of ${code(repository)}`
    text +=
      published.attempts > 1
        ? ` (after ${published.attempts} attempts in ${((published.elapsedMs ?? 0) / 1000).toFixed(1)} s: ` +
          `the branch moved ${published.moves ?? published.attempts - 1} time(s) meanwhile)`
        : ''
    text += '.\n\n'
  } else if (published.changed) {
    text += `Not committed (push: none).\n\n`
  }
  if (result.changes.length > 0) {
    text += table(
      ['Where', 'Before', 'After'],
      result.changes
        .slice(0, MAX_SUMMARY_ROWS)
        .map(change => [
          code(`${change.file}:${change.line}`),
          code(change.old || '(added)'),
          code(change.new)
        ])
    )
    text += more(result.changes.length, 'change(s)')
  }
  if (result.notManaged.length > 0) {
    text += `\nNot managed (left as is):\n\n`
    text += table(
      ['Where', 'Why'],
      result.notManaged
        .slice(0, MAX_SUMMARY_ROWS)
        .map(item => [code(`${item.file}:${item.line}`), cell(item.message)])
    )
    text += more(result.notManaged.length, 'mention(s) not managed')
  }
  if (diff) text += `\n<details><summary>Diff</summary>\n\n\`\`\`diff\n${diff}\n\`\`\`\n</details>\n`
  return text
}
