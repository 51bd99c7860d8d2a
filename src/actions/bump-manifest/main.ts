import * as core from '@actions/core'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { ConfigurationError } from '../../lib/errors.js'
import { createCommandRunner, type CommandRunner } from '../../lib/exec.js'
import { createGit, type GitCommandManager } from '../../lib/git/index.js'
import { createGitHubApi, parseRepoName, type GitHubApi } from '../../lib/github/index.js'
import { runAction, writeJobSummary } from '../../lib/action.js'
import { runnerInputs, type InputSource } from '../../lib/inputs.js'
import { pinTree, type FileError, type PinRequest, type PinTreeResult } from '../../lib/manifest/index.js'
import { cell, code, table } from '../../lib/summary.js'
import { commitMessage, sourceContext } from './commit-message.js'
import { readInputs, type BumpInputs, type OutputName } from './inputs.js'
import { publish, type Published } from './publish.js'

export interface Collaborators {
  inputs: InputSource
  env: NodeJS.ProcessEnv
  runner: CommandRunner
  github(token: string, apiUrl: string | undefined): GitHubApi
  setOutput(name: OutputName, value: string): void
  writeSummary(markdown: string): Promise<void>
  sleep?: (ms: number) => Promise<void>
}

export function defaultCollaborators(): Collaborators {
  return {
    inputs: runnerInputs,
    env: process.env,
    runner: createCommandRunner(),
    github: (token, apiUrl) => createGitHubApi({ token, apiUrl, userAgent: 'digest-delivery/bump-manifest' }),
    setOutput: (name, value) => core.setOutput(name, value),
    writeSummary: writeJobSummary
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
  const repo = parseRepoName(inputs.repository)
  const tempDir = inputs.checkout
    ? undefined
    : await fs.mkdtemp(path.join(deps.env.RUNNER_TEMP || os.tmpdir(), 'bump-manifest-'))
  try {
    const cwd = inputs.checkout ?? (tempDir as string)
    const git = createGit({ runner: deps.runner, cwd, token: inputs.token || undefined, serverUrl })
    if (tempDir) await git.clone(`${serverUrl}/${inputs.repository}.git`, inputs.branch)
    const branch = inputs.branch ?? (await git.currentBranch())
    if (!branch) {
      throw new ConfigurationError(
        `the checkout at ${cwd} is on a detached HEAD: set 'branch' to the branch to update`
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
      result = await pinTree({ root: cwd, paths: inputs.paths, request, write: true })
      checkResult(result, inputs)
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
        apply,
        sleep: deps.sleep,
        log: line => core.info(line)
      })
    }
    const final = result as PinTreeResult
    // A dry run on a temporary clone leaves nothing behind: the diff in the summary is its result.
    const diff = tempDir && inputs.push === 'none' && published.changed ? await dryRunDiff(git) : undefined
    setOutputs(deps, inputs, final, published)
    await deps.writeSummary(summaryOf(inputs, final, published, serverUrl, diff))
    core.info(
      published.changed
        ? `${final.changes.length} reference(s) pinned to ${inputs.digest}` +
            (published.commitSha
              ? ` in commit ${published.commitSha} on ${published.branch} (attempt ${published.attempts})`
              : ' (not committed: push: none)')
        : `Every reference already points at ${inputs.digest}: nothing to commit`
    )
  } finally {
    if (tempDir) await fs.rm(tempDir, { recursive: true, force: true })
  }
}

/** Refuses partial or empty results: a file that mentions the image but could not be edited fails the run. */
function checkResult(result: PinTreeResult, inputs: BumpInputs): void {
  for (const item of result.notManaged) {
    core.warning(`${item.message} (not managed: ${item.reason})`, { file: item.file, startLine: item.line })
  }
  const blocking: FileError[] = []
  for (const error of result.errors) {
    if (error.kind === 'encoding') core.warning(error.message, { file: error.file, startLine: error.line })
    else {
      core.error(error.message, { file: error.file, startLine: error.line })
      blocking.push(error)
    }
  }
  if (blocking.length > 0) {
    const shown = blocking.slice(0, 5).map(e => e.message)
    if (blocking.length > shown.length)
      shown.push(`and ${blocking.length - shown.length} more (see the annotations)`)
    throw new ConfigurationError(
      `${blocking.length} file(s) mention the image but could not be updated, so nothing was changed: ${shown.join('; ')}`
    )
  }
  const found = result.changes.length + result.unchanged.length
  if (found === 0 && !inputs.allowNoMatch) {
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

async function dryRunDiff(git: GitCommandManager): Promise<string> {
  const result = await git.diff()
  return result.length > 60_000 ? `${result.slice(0, 60_000)}\n… (cut)` : result
}

function setOutputs(
  deps: Collaborators,
  inputs: BumpInputs,
  result: PinTreeResult,
  published: Published
): void {
  deps.setOutput('changed', String(published.changed))
  deps.setOutput(
    'changes',
    JSON.stringify(
      result.changes.map(change => ({
        file: change.file,
        line: change.line,
        old: change.old,
        new: change.new
      }))
    )
  )
  deps.setOutput('commit-sha', published.commitSha ?? '')
  deps.setOutput('branch', published.branch)
  deps.setOutput('previous', JSON.stringify(result.previous))
  deps.setOutput('repository', inputs.repository)
}

function summaryOf(
  inputs: BumpInputs,
  result: PinTreeResult,
  published: Published,
  serverUrl: string,
  diff: string | undefined
): string {
  const target = `${inputs.image}${inputs.tag ? `:${inputs.tag}` : ''}@${inputs.digest}`
  let text = `### ${published.changed ? 'Pinned' : 'Already pinned:'} ${code(target)}\n\n`
  if (published.commitSha) {
    const url = `${serverUrl}/${inputs.repository}/commit/${published.commitSha}`
    text += `Commit [${published.commitSha.slice(0, 12)}](${url}) on ${code(published.branch)} of ${code(inputs.repository)}`
    text +=
      published.attempts > 1 ? ` (after ${published.attempts} attempts: the branch moved meanwhile)` : ''
    text += '.\n\n'
  } else if (published.changed) {
    text += `Not committed (push: none).\n\n`
  }
  if (result.changes.length > 0) {
    text += table(
      ['Where', 'Before', 'After'],
      result.changes.map(change => [
        code(`${change.file}:${change.line}`),
        code(change.old || '(added)'),
        code(change.new)
      ])
    )
  }
  if (result.notManaged.length > 0) {
    text += `\nNot managed (left as is):\n\n`
    text += table(
      ['Where', 'Why'],
      result.notManaged.map(item => [code(`${item.file}:${item.line}`), cell(item.message)])
    )
  }
  if (diff) text += `\n<details><summary>Diff</summary>\n\n\`\`\`diff\n${diff}\n\`\`\`\n</details>\n`
  return text
}
