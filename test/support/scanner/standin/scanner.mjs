#!/usr/bin/env node
/* global process, console, URL, setInterval */
// Stand-in for the trivy and grype executables (the test machine cannot download the real ones nor their
// databases): it reads the command line the real tool reads and writes a report in the real tool's format for the
// image it was asked to scan. Which tool it plays is the name it is installed under.
// STANDIN_MODE: crash (exit 3, no report), truncated (half a report, exit 1), exit-1 (full report, exit 1),
// hang (never finishes: for the gate's time bound).
// STANDIN_LOG: file to append {tool, argv, credentials-in-env} to, so tests see how it was called.
// Like the real tools it filters by the settings it inherits: trivy keeps the severities listed in --severity, else
// TRIVY_SEVERITY, and with --ignore-unfixed or TRIVY_IGNORE_UNFIXED=true drops findings without a fix; grype drops
// those with GRYPE_ONLY_FIXED=true.
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'

const tool = path.basename(process.argv[1])
const args = process.argv.slice(2)
const value = flag => {
  const at = args.indexOf(flag)
  return at >= 0 ? args[at + 1] : undefined
}
const mode = process.env.STANDIN_MODE ?? ''
const severities = (value('--severity') ?? process.env.TRIVY_SEVERITY)?.toUpperCase().split(',')
const onlyFixed =
  tool === 'trivy'
    ? args.includes('--ignore-unfixed') || process.env.TRIVY_IGNORE_UNFIXED === 'true'
    : process.env.GRYPE_ONLY_FIXED === 'true'
const findings = JSON.parse(readFileSync(new URL('./findings.json', import.meta.url), 'utf8')).filter(
  f =>
    (tool !== 'trivy' || !severities || severities.includes(f.severity.toUpperCase())) &&
    (!onlyFixed || f.fixed)
)

// The vulnerability database, as each tool keeps it in its cache: Trivy's db/metadata.json under --cache-dir
// (shown by `trivy version --format json`), Grype's status under GRYPE_DB_CACHE_DIR (`grype db status -o json`).
// STANDIN_DB_UPDATE=fail makes updates fail; STANDIN_DB_BUILT sets the build time an update writes.
const cacheDir = tool === 'trivy' ? value('--cache-dir') : process.env.GRYPE_DB_CACHE_DIR
const dbFile = cacheDir && path.join(cacheDir, tool === 'trivy' ? 'db/metadata.json' : 'standin-status.json')
const readDb = () => {
  try {
    return JSON.parse(readFileSync(dbFile, 'utf8'))
  } catch {
    return undefined
  }
}
const isUpdate =
  (tool === 'trivy' && args.includes('--download-db-only')) ||
  (tool === 'grype' && args[0] === 'db' && args[1] === 'update')
const isStatus =
  (tool === 'trivy' && args[0] === 'version') ||
  (tool === 'grype' && args[0] === 'db' && args[1] === 'status')

if (process.env.STANDIN_LOG) {
  const credentials =
    tool === 'trivy'
      ? { username: process.env.TRIVY_USERNAME, password: process.env.TRIVY_PASSWORD }
      : {
          username: process.env.GRYPE_REGISTRY_AUTH_USERNAME,
          password: process.env.GRYPE_REGISTRY_AUTH_PASSWORD
        }
  appendFileSync(
    process.env.STANDIN_LOG,
    JSON.stringify({
      tool,
      argv: args,
      cwd: process.cwd(),
      credentials,
      db: Object.fromEntries(
        [
          'GRYPE_DB_CACHE_DIR',
          'GRYPE_DB_AUTO_UPDATE',
          'GRYPE_DB_MAX_ALLOWED_BUILT_AGE',
          'GRYPE_DB_UPDATE_URL'
        ].flatMap(name => (process.env[name] === undefined ? [] : [[name, process.env[name]]]))
      )
    }) + '\n'
  )
}
if (isStatus) {
  const db = readDb()
  if (tool === 'trivy') {
    console.log(JSON.stringify({ Version: 'stand-in', ...(db ? { VulnerabilityDB: db } : {}) }))
    process.exit(0)
  }
  if (!db) {
    console.error('grype stand-in: no database installed')
    process.exit(1)
  }
  console.log(
    JSON.stringify({ schemaVersion: 'v6.0.2', from: db.from, built: db.built, path: dbFile, valid: true })
  )
  process.exit(0)
}
if (isUpdate) {
  if (process.env.STANDIN_DB_UPDATE === 'fail') {
    console.error(`${tool} stand-in: failed to download the vulnerability database: TOOMANYREQUESTS`)
    process.exit(1)
  }
  const built = process.env.STANDIN_DB_BUILT ?? new Date().toISOString()
  mkdirSync(path.dirname(dbFile), { recursive: true })
  const from =
    tool === 'trivy'
      ? (value('--db-repository') ?? 'default')
      : (process.env.GRYPE_DB_UPDATE_URL ?? 'default')
  writeFileSync(
    dbFile,
    JSON.stringify(
      tool === 'trivy'
        ? { Version: 2, UpdatedAt: built, NextUpdate: built, DownloadedAt: new Date().toISOString(), from }
        : { built, from }
    )
  )
  console.log(`${tool} stand-in: database built ${built} downloaded from ${from}`)
  process.exit(0)
}
if (cacheDir && !readDb()) {
  // Both tools refuse to scan without a database when told not to download one.
  console.error(`${tool} stand-in: no vulnerability database in ${cacheDir} and updates are off`)
  process.exit(1)
}
if (mode === 'hang') {
  setInterval(() => {}, 1000)
  await new Promise(() => {})
}
if (mode === 'crash') {
  console.error(
    `${tool}: FATAL fatal error: image scan error: unable to initialize a scanner (stand-in crash)`
  )
  process.exit(3)
}

let output
let report
if (tool === 'trivy') {
  if (args[0] !== 'image' || value('--format') !== 'json') {
    console.error(`trivy stand-in: expected 'image --format json', got ${args.join(' ')}`)
    process.exit(2)
  }
  output = value('--output')
  const image = args.at(-1)
  report = {
    SchemaVersion: 2,
    CreatedAt: '2026-01-10T09:00:00Z',
    ArtifactName: image,
    ArtifactType: 'container_image',
    Metadata: { OS: { Family: 'debian', Name: '12.5' }, RepoDigests: [image] },
    Results: [
      {
        Target: `${image} (debian 12.5)`,
        Class: 'os-pkgs',
        Type: 'debian',
        Vulnerabilities: findings.map(f => ({
          VulnerabilityID: f.id,
          PkgName: f.package,
          InstalledVersion: f.installed,
          ...(f.fixed ? { FixedVersion: f.fixed, Status: 'fixed' } : { Status: 'affected' }),
          PrimaryURL: `https://avd.aquasec.com/nvd/${f.id.toLowerCase()}`,
          Title: f.title,
          Severity: f.severity.toUpperCase()
        }))
      }
    ]
  }
} else {
  output = value('--file')
  const target = args[0].replace(/^registry:/, '')
  report = {
    matches: findings.map(f => ({
      vulnerability: {
        id: f.id,
        dataSource: `https://security-tracker.debian.org/tracker/${f.id}`,
        severity: f.severity[0].toUpperCase() + f.severity.slice(1),
        urls: [],
        fix: { versions: f.fixed ? [f.fixed] : [], state: f.fixed ? 'fixed' : 'not-fixed' }
      },
      relatedVulnerabilities: [],
      matchDetails: [],
      artifact: {
        name: f.package,
        version: f.installed,
        type: 'deb',
        locations: [{ path: '/var/lib/dpkg/status' }]
      }
    })),
    source: {
      type: 'image',
      target: { userInput: target, manifestDigest: target.split('@')[1], repoDigests: [target] }
    },
    distro: { name: 'debian', version: '12' },
    descriptor: { name: 'grype', version: 'stand-in' }
  }
}
if (!output) {
  console.error(`${tool} stand-in: no output file on the command line: ${args.join(' ')}`)
  process.exit(2)
}
const text = JSON.stringify(report, null, 2)
writeFileSync(output, mode === 'truncated' ? text.slice(0, Math.floor(text.length / 2)) : text)
console.log(`${tool} stand-in: ${findings.length} vulnerabilities written to ${output}`)
process.exit(mode === 'truncated' || mode === 'exit-1' ? 1 : 0)
