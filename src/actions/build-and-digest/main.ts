import * as core from '@actions/core'
import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {
  formatCacheEntry,
  QUICK_COMMAND_TIMEOUT_MS,
  selectBuilder,
  type Builder
} from '../../lib/builder/index.js'
import { createCommandRunner, type CommandRunner } from '../../lib/exec.js'
import { tryCommitTime } from '../../lib/git/commit-time.js'
import { runAction } from '../../lib/action.js'
import { runnerInputs, type InputSource } from '../../lib/inputs.js'
import { createRegistryClient, readDockerConfigCredentials } from '../../lib/registry/index.js'
import { appendSummary, code, keyValueTable } from '../../lib/summary.js'
import { confirmPush, type Confirmed, type RegistryView } from './confirm.js'
import { readInputs, type BuildInputs, type OutputName } from './inputs.js'
import { buildLabels, sourceUrl } from './labels.js'

export interface Collaborators {
  inputs: InputSource
  env: NodeJS.ProcessEnv
  runner: CommandRunner
  /** A registry client for the pushed-to registry, with the action's credentials when it has them. */
  registry(credentials: BuildInputs['credentials']): RegistryView & {
    checkPushAccess(ref: BuildInputs['imageRef']): Promise<void>
    usesPlainHttp(registry: string): boolean
  }
  setOutput(name: OutputName, value: string): void
  writeSummary(markdown: string): Promise<void>
  now(): number
}

export function defaultCollaborators(): Collaborators {
  return {
    inputs: runnerInputs,
    env: process.env,
    runner: createCommandRunner(),
    registry: credentials =>
      createRegistryClient({ credentials, userAgent: 'digest-delivery/build-and-digest' }),
    setOutput: (name, value) => core.setOutput(name, value),
    writeSummary: appendSummary,
    now: () => Date.now()
  }
}

/** The action's entry. */
export async function run(deps: Collaborators = defaultCollaborators()): Promise<void> {
  await runAction(() => buildAndDigest(deps))
}

/** Builds, pushes, and reports the digest only once the registry serves it under every tag. */
export async function buildAndDigest(deps: Collaborators): Promise<void> {
  const started = deps.now()
  const workspace = deps.env.GITHUB_WORKSPACE || process.cwd()
  const inputs = await readInputs(deps.inputs, workspace, deps.env)
  // Without inputs, the Docker config's (its credential helper's included) for the push check.
  const credentials =
    inputs.credentials ?? (await readDockerConfigCredentials(inputs.imageRef.registry, deps.env))
  const registry = deps.registry(credentials)
  const builder = await selectBuilder(inputs.builder, {
    runner: withCommandsStopped(deps.runner),
    timeoutMs: inputs.buildTimeoutMs
  })

  // Fail before a long build when the push could not succeed anyway.
  if (inputs.push) await registry.checkPushAccess(inputs.imageRef)

  const created = await tryCommitTime(
    withTimeout(deps.runner, QUICK_COMMAND_TIMEOUT_MS),
    workspace,
    inputs.sourceRevision,
    deps.env.GITHUB_EVENT_PATH
  )
  if (!created) {
    core.warning(
      `the time of commit ${inputs.sourceRevision} is unknown (no checkout of it in ${workspace}): ` +
        'the org.opencontainers.image.created label is left out rather than set to the wall clock'
    )
  }
  const labels = buildLabels(
    { sourceUrl: sourceUrl(deps.env), revision: inputs.sourceRevision, created, version: inputs.versionTag },
    inputs.labels
  )

  // The docker CLI reads its own config, helpers included; buildah runs no credsStore, so it gets them resolved.
  const login = inputs.credentials ?? (builder.name === 'buildah' ? credentials : undefined)
  const workDir = await fs.mkdtemp(path.join(deps.env.RUNNER_TEMP || os.tmpdir(), 'build-and-digest-'))
  let confirmed: Confirmed | undefined
  try {
    const outcome = await builder.build({
      image: inputs.image,
      tags: inputs.tags,
      context: inputs.context,
      file: inputs.file,
      target: inputs.target,
      buildArgs: inputs.buildArgs,
      labels,
      platforms: inputs.platforms,
      push: inputs.push,
      login: login && { registry: inputs.imageRef.registry, ...login },
      // Known from the push check: the client found the loopback registry speaking plain HTTP.
      plainHttp: registry.usesPlainHttp(inputs.imageRef.registry),
      cacheFrom: inputs.cacheFrom,
      cacheTo: inputs.cacheTo,
      workDir
    })
    if (inputs.push)
      confirmed = await confirmPush(registry, inputs.imageRef, inputs.tags, outcome.reportedDigest)
  } finally {
    await fs.rm(workDir, { recursive: true, force: true })
  }

  const seconds = ((deps.now() - started) / 1000).toFixed(1)
  setOutputs(deps, inputs, builder, labels, confirmed)
  await deps.writeSummary(summaryOf(inputs, builder, confirmed, seconds))
  if (confirmed)
    core.info(`Pushed ${inputs.image}@${confirmed.digest} (confirmed by the registry for every tag)`)
  else core.info(`Built ${inputs.image} without pushing: no digest is claimed (push: false)`)
}

/**
 * The builders' output is the repository's (a Dockerfile's RUN prints what it likes): the runner must not take a
 * line of it for a workflow command (`::error::`, `::add-mask::`), so commands are stopped while one runs.
 */
function withCommandsStopped(runner: CommandRunner): CommandRunner {
  return {
    run: async (command, args, options) => {
      const token = randomBytes(16).toString('hex')
      process.stdout.write(`::stop-commands::${token}\n`)
      try {
        return await runner.run(command, args, options)
      } finally {
        // On a line of its own, even after output that did not end one.
        process.stdout.write(`\n::${token}::\n`)
      }
    }
  }
}

/** Every command of `runner` stopped after `timeoutMs` unless the caller says otherwise. */
function withTimeout(runner: CommandRunner, timeoutMs: number): CommandRunner {
  return { run: (command, args, options) => runner.run(command, args, { timeoutMs, ...options }) }
}

function setOutputs(
  deps: Collaborators,
  inputs: BuildInputs,
  builder: Builder,
  labels: Map<string, string>,
  confirmed: Confirmed | undefined
): void {
  const digest = confirmed?.digest ?? ''
  deps.setOutput('digest', digest)
  deps.setOutput('image-ref', digest ? `${inputs.image}@${digest}` : '')
  deps.setOutput('tagged-ref', digest ? `${inputs.image}:${inputs.versionTag}@${digest}` : '')
  deps.setOutput('tags', inputs.tags.map(tag => `${inputs.image}:${tag}`).join('\n'))
  deps.setOutput('platform-digests', JSON.stringify(confirmed?.platformDigests ?? {}))
  deps.setOutput(
    'metadata',
    JSON.stringify({
      image: inputs.image,
      digest: digest || null,
      mediaType: confirmed?.mediaType ?? null,
      tags: inputs.tags,
      platforms: inputs.platforms,
      platformDigests: confirmed?.platformDigests ?? {},
      labels: confirmed?.labels ?? Object.fromEntries(labels),
      builder: builder.name,
      sourceRevision: inputs.sourceRevision,
      pushed: Boolean(confirmed)
    })
  )
  deps.setOutput('pushed', String(Boolean(confirmed)))
}

function cacheSummary(inputs: BuildInputs): string | undefined {
  const entries = [
    ...inputs.cacheFrom.map(entry => `from ${code(formatCacheEntry(entry))}`),
    ...inputs.cacheTo.map(entry => `to ${code(formatCacheEntry(entry))}`)
  ]
  return entries.length ? entries.join('<br>') : undefined
}

function summaryOf(
  inputs: BuildInputs,
  builder: Builder,
  confirmed: Confirmed | undefined,
  seconds: string
): string {
  const platforms = confirmed
    ? Object.entries(confirmed.platformDigests)
        .map(([platform, digest]) => `${platform} ${code(digest)}`)
        .join('<br>')
    : inputs.platforms.join(', ')
  const heading = confirmed
    ? `### Built and pushed ${code(inputs.image)}\n\nThe registry serves this digest under every tag below.\n\n`
    : `### Built ${code(inputs.image)} (not pushed)\n\nNo digest is reported: nothing was pushed (push: false).\n\n`
  return (
    heading +
    keyValueTable([
      ['Image', code(inputs.image)],
      ['Digest', confirmed && code(confirmed.digest)],
      ['Reference', confirmed && code(`${inputs.image}@${confirmed.digest}`)],
      ['Tags', inputs.tags.map(code).join(' ')],
      ['Platforms', platforms || 'builder default'],
      ['Source commit', code(inputs.sourceRevision)],
      ['Builder', builder.name],
      ['Cache', cacheSummary(inputs)],
      ['Duration', `${seconds} s`]
    ])
  )
}
