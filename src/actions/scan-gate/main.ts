import * as core from '@actions/core'
import { appendSummary } from '../../lib/summary.js'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createCommandRunner, type CommandRunner } from '../../lib/exec.js'
import { formatImageRef } from '../../lib/image-ref.js'
import { runAction } from '../../lib/action.js'
import { runnerInputs, type InputSource } from '../../lib/inputs.js'
import {
  baselineKey,
  evaluate,
  policyDigest,
  type Evaluation,
  type Policy
} from '../../lib/policy/evaluate.js'
import { loadPolicy } from '../../lib/policy/load.js'
import {
  createRegistryClient,
  platformManifests,
  readDockerConfigCredentials,
  type CredentialsResolver,
  type RegistryClient
} from '../../lib/registry/index.js'
import { readReport } from '../../lib/scanner/detect.js'
import { sha256File } from '../../lib/scanner/file-digest.js'
import type { ScanReport } from '../../lib/scanner/finding.js'
import { installScanner, type InstalledScanner, type InstallOptions } from '../../lib/scanner/install.js'
import { formatAge, prepareDatabase, type DatabaseUsed } from '../../lib/scanner/database.js'
import { scanImage, type ScanLog } from '../../lib/scanner/run.js'
import { sarifChunks } from '../../lib/scanner/sarif-output.js'
import { attachVerdict, type AttachedVerdict, type Verdict } from '../../lib/verdict/index.js'
import { readInputs, type OutputName } from './inputs.js'
import { writeNormalisedReport } from './normalised-report.js'
import { openOutputFile } from './output-file.js'
import { checkReportSubject } from './report-subject.js'
import { summaryOf } from './summary.js'

/** What the gate needs from a registry: resolving tags, reading manifests, and attaching a verdict. */
export type GateRegistry = Pick<
  RegistryClient,
  'resolveDigest' | 'getManifest' | 'getBlob' | 'putBlob' | 'putManifest' | 'putReferrer' | 'getReferrers'
>

export interface Collaborators {
  inputs: InputSource
  env: NodeJS.ProcessEnv
  runner: CommandRunner
  /** A client for the image's registry and a baseline's; `credentials` chooses per host (undefined: the Docker config). */
  registry(credentials: CredentialsResolver): GateRegistry
  install(options: InstallOptions): Promise<InstalledScanner>
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
      createRegistryClient({
        credentials,
        userAgent: 'digest-delivery/scan-gate',
        debug: line => core.debug(line)
      }),
    install: options => installScanner({ ...options, log: line => core.info(line) }),
    setOutput: (name, value) => core.setOutput(name, value),
    writeSummary: appendSummary,
    now: () => Date.now()
  }
}

const scanLog: ScanLog = { info: line => core.info(line), warning: line => core.warning(line) }

/** The gate decided `fail` (with `fail: true`): outputs and evidence are already written. */
export class GateFailure extends Error {
  override name = 'GateFailure'
}

/** The action's entry. */
export async function run(deps: Collaborators = defaultCollaborators()): Promise<void> {
  await runAction(() => scanGate(deps))
}

/** Scans exactly the image digest (or reads a report of it), decides by policy, and leaves the evidence. */
export async function scanGate(deps: Collaborators): Promise<Evaluation> {
  const workspace = deps.env.GITHUB_WORKSPACE || process.cwd()
  const inputs = await readInputs(deps.inputs, workspace, deps.env.RUNNER_TEMP, deps.env)
  const registry = deps.registry(inputs.credentialsFor)
  // The scanner gets the credentials in its environment: the inputs' for the image's registry, else the Docker
  // config's, credential helpers included (a helper that fails stops the run, naming it: never an anonymous pull).
  const scannerCredentials = async (host: string) =>
    inputs.credentialsFor(host) ?? (await readDockerConfigCredentials(host, deps.env))
  const now = deps.now()

  const digest = inputs.imageRef.digest ?? (await registry.resolveDigest(inputs.imageRef))
  if (!inputs.imageRef.digest) {
    core.warning(
      `${inputs.image} carries no digest (allow-mutable: true): gating ${digest}, what the tag points at now`
    )
  }
  const subject = { registry: inputs.imageRef.registry, repository: inputs.imageRef.repository, digest }
  const imageName = formatImageRef({ registry: subject.registry, repository: subject.repository })
  const pinned = `${imageName}@${digest}`

  const loaded = await loadPolicy({ workspace, policyFile: inputs.policy, vexFiles: inputs.vex })
  const policy: Policy = {
    severity: inputs.severity ?? loaded.file?.severity ?? 'high',
    ignoreUnfixed: inputs.ignoreUnfixed ?? loaded.file?.ignoreUnfixed ?? false,
    max: loaded.file?.max ?? {},
    failOnExpiredIgnore: loaded.file?.failOnExpiredIgnore ?? false,
    ignores: loaded.ignores,
    vex: loaded.vex
  }
  for (const [name, input, file] of [
    ['severity', inputs.severity, loaded.file?.severity],
    ['ignore-unfixed', inputs.ignoreUnfixed, loaded.file?.ignoreUnfixed]
  ] as const) {
    if (input !== undefined && file !== undefined && input !== file) {
      core.notice(`input '${name}: ${input}' overrides the policy file's ${name}: ${file}`)
    }
  }

  const workDir = await fs.mkdtemp(path.join(deps.env.RUNNER_TEMP || os.tmpdir(), 'scan-gate-'))
  let installed: InstalledScanner | undefined
  let database: DatabaseUsed | undefined
  // The scanner, with a database young enough in its cache: installed and prepared once, when first needed.
  const scanner = async (): Promise<InstalledScanner> => {
    installed ??= await deps.install({
      scanner: inputs.scanner,
      version: inputs.scannerVersion,
      mirror: inputs.scannerUrl
    })
    if (!database) {
      database = await prepareDatabase(deps.runner, installed, inputs.database, now)
      core.info(
        `${installed.name} vulnerability database built ${database.built} (${formatAge(database.ageMs)} old), ` +
          `${database.state === 'updated' ? `updated now from ${database.source}` : `from the cache ${inputs.database.cacheDir}${database.state === 'stale' ? ' (its update failed)' : ''}`}`
      )
    }
    return installed
  }

  let report: ScanReport
  let reportFile: string
  let source: string
  if (inputs.report) {
    reportFile = inputs.report
    source = `file ${path.relative(workspace, inputs.report) || inputs.report}`
    report = await readReport(inputs.report, `input 'report' (${source})`)
  } else {
    const tool = await scanner()
    const scanDir = await fs.mkdtemp(path.join(workDir, 'scan-'))
    const scanned = await scanImage(
      deps.runner,
      {
        scanner: tool.name,
        binary: tool.binary,
        image: pinned,
        registry: subject.registry,
        credentials: await scannerCredentials(subject.registry),
        workDir: scanDir,
        timeoutMs: inputs.timeoutMs,
        database: inputs.database
      },
      scanLog
    )
    report = scanned.report
    reportFile = scanned.reportPath
    report.scanner.version ??= tool.version
    source = `${tool.name} ${tool.version} run by this action${tool.fromCache ? ' (from the tool cache)' : ''}`
  }
  const subjectCheck = await checkReportSubject(report, subject, inputs.reportSubject, async () =>
    platformManifests(await registry.getManifest({ ...subject, tag: undefined })).map(p => p.digest)
  )
  if (subjectCheck.how === 'trusted') core.warning(`the report's subject was ${subjectCheck.text}`)
  if (subjectCheck.how === 'repository') core.warning(`the report ${subjectCheck.text}`)

  let baselineKeys: Set<string> | undefined
  let baselineText: string | undefined
  if (inputs.baseline) {
    const baseline = inputs.baseline
    let baselineReport: ScanReport
    if (baseline.kind === 'report') {
      baselineText = `report ${baseline.text}`
      baselineReport = await readReport(baseline.path, `input 'baseline' (${baseline.text})`)
    } else {
      const baselineDigest = baseline.ref.digest ?? (await registry.resolveDigest(baseline.ref))
      const baselineImage = `${formatImageRef({ registry: baseline.ref.registry, repository: baseline.ref.repository })}@${baselineDigest}`
      baselineText = `image ${baselineImage}`
      const tool = await scanner()
      const scanDir = await fs.mkdtemp(path.join(workDir, 'baseline-'))
      baselineReport = (
        await scanImage(
          deps.runner,
          {
            scanner: tool.name,
            binary: tool.binary,
            image: baselineImage,
            registry: baseline.ref.registry,
            credentials: await scannerCredentials(baseline.ref.registry),
            workDir: scanDir,
            timeoutMs: inputs.timeoutMs,
            database: inputs.database
          },
          scanLog
        )
      ).report
    }
    baselineKeys = new Set(
      [...baselineReport.findings, ...baselineReport.suppressed.map(s => s.finding)].map(baselineKey)
    )
  }

  const evaluation = evaluate(report, policy, { now, subject, baseline: baselineKeys })
  const digestOfPolicy = policyDigest(policy)

  const normalised = path.join(workDir, 'scan-gate-report.json')
  await writeNormalisedReport(normalised, {
    image: pinned,
    report,
    evaluation,
    policy,
    policyDigest: digestOfPolicy,
    subject: subjectCheck
  })

  if (inputs.sarif) {
    const chunks = sarifChunks(
      evaluation.judgements.map(({ finding, disposition, reason }) => ({
        finding,
        blocking: disposition === 'blocking',
        suppression: disposition === 'suppressed' || disposition === 'baseline' ? reason : undefined
      })),
      { image: pinned, imageName, digest, scanner: report.scanner }
    )
    const handle = await openOutputFile(inputs.sarif, "input 'sarif'")
    try {
      // writeFile at the current position writes the whole chunk (write() may write part of it).
      for (const chunk of chunks) await handle.writeFile(chunk)
    } finally {
      await handle.close()
    }
  }

  let attached: AttachedVerdict | undefined
  if (inputs.attach) {
    const verdict: Verdict = {
      schemaVersion: 1,
      decision: evaluation.decision,
      subject: { name: imageName, digest },
      reportSubject: subjectCheck.how,
      blocking: evaluation.blocking,
      counts: evaluation.counts,
      policy: {
        digest: digestOfPolicy,
        severity: policy.severity,
        ignoreUnfixed: policy.ignoreUnfixed,
        failOnExpiredIgnore: policy.failOnExpiredIgnore,
        max: policy.max,
        ...(baselineText ? { baseline: baselineText } : {})
      },
      scanner: {
        name: report.scanner.name,
        version: report.scanner.version,
        reportFormat: report.format,
        reportDigest: `sha256:${await sha256File(reportFile)}`
      },
      ...(database ? { database: databaseEvidence(database) } : {}),
      expiredIgnores: evaluation.expiredIgnores.length,
      time: new Date(now).toISOString()
    }
    attached = await attachVerdict(registry, subject, verdict)
    core.info(
      `Verdict attached to ${pinned} as ${attached.ref} (${attached.via}${attached.tag ? ` ${attached.tag}` : ''})`
    )
  }

  deps.setOutput('decision', evaluation.decision)
  deps.setOutput('blocking', String(evaluation.blocking))
  deps.setOutput('counts', JSON.stringify(evaluation.counts))
  deps.setOutput('report', normalised)
  deps.setOutput('sarif', inputs.sarif?.path ?? '')
  deps.setOutput('expired-ignores', JSON.stringify(evaluation.expiredIgnores))
  deps.setOutput('verdict-ref', attached?.ref ?? '')
  await deps.writeSummary(
    summaryOf({
      image: imageName,
      digest,
      report,
      evaluation,
      policy,
      policyDigest: digestOfPolicy,
      policySources: loaded.read,
      source,
      fail: inputs.fail,
      verdictRef: attached?.ref,
      baseline: baselineText,
      subjectCheck,
      database: database && databaseEvidence(database)
    })
  )

  for (const expired of evaluation.expiredIgnores) {
    core.warning(
      `ignore entry ${expired.id}${expired.package ? ` (${expired.package})` : ''} at ${expired.source} expired on ${expired.expires}: it no longer applies`
    )
  }
  const headline = `${pinned}: ${evaluation.decision}${evaluation.reasons.length ? ` (${evaluation.reasons.join('; ')})` : ''}`
  if (evaluation.decision === 'pass') {
    core.info(`scan-gate: ${headline}`)
  } else if (inputs.fail) {
    throw new GateFailure(`scan-gate blocked ${headline}: see the job summary for the findings`)
  } else {
    core.warning(`scan-gate would block ${headline}; not failing the job because fail: false`)
  }
  return evaluation
}

/** The database facts that travel with the verdict and the summary. */
function databaseEvidence(database: DatabaseUsed): NonNullable<Verdict['database']> {
  return {
    built: database.built,
    age: formatAge(database.ageMs),
    state: database.state,
    source: database.source
  }
}
