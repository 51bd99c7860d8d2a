import { spawn, type ChildProcess } from 'node:child_process'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

export interface TestDockerd {
  /** `unix:///…/docker.sock`: give it to the docker CLI as DOCKER_HOST. */
  host: string
  /** Makes the daemon trust a registry's CA the standard way (`/etc/docker/certs.d/<host>/ca.crt`). */
  trustRegistry(registryHost: string, caPem: string): Promise<void>
  stop(): Promise<void>
}

/**
 * Starts a private dockerd on its own unix socket (vfs storage, no iptables, no bridge: what works in an
 * unprivileged sandbox) and waits until it answers `docker version`.
 */
export async function startDockerd(): Promise<TestDockerd> {
  // Unix socket paths are limited to 108 bytes: keep the directory short.
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dd-'))
  const socket = path.join(dir, 'docker.sock')
  const host = `unix://${socket}`
  const logFile = path.join(dir, 'dockerd.log')
  const log = await fs.open(logFile, 'w')
  const child: ChildProcess = spawn(
    'dockerd',
    [
      '--host',
      host,
      '--data-root',
      path.join(dir, 'data'),
      '--exec-root',
      path.join(dir, 'exec'),
      '--pidfile',
      path.join(dir, 'docker.pid'),
      '--iptables=false',
      '--ip6tables=false',
      '--bridge=none',
      '--storage-driver=vfs'
    ],
    { stdio: ['ignore', log.fd, log.fd] }
  )
  let exited = false
  child.on('exit', () => (exited = true))
  const trusted: string[] = []

  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM')
      for (let i = 0; i < 100 && !exited; i++) await sleep(100)
      if (!exited) child.kill('SIGKILL')
    }
    await log.close().catch(() => undefined)
    for (const certDir of trusted) await fs.rm(certDir, { recursive: true, force: true })
    // vfs layers can hold read-only files; the daemon is gone, so a recursive force removal is safe.
    await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined)
  }

  const deadline = Date.now() + 60_000
  for (;;) {
    if (exited || Date.now() > deadline) {
      const text = await fs.readFile(logFile, 'utf8').catch(() => '')
      await stop()
      throw new Error(`dockerd did not start:\n${text.split('\n').slice(-20).join('\n')}`)
    }
    if (await answers(host)) break
    await sleep(250)
  }

  return {
    host,
    async trustRegistry(registryHost, caPem) {
      const certDir = path.join('/etc/docker/certs.d', registryHost)
      await fs.mkdir(certDir, { recursive: true })
      await fs.writeFile(path.join(certDir, 'ca.crt'), caPem)
      trusted.push(certDir)
    },
    stop
  }
}

async function answers(host: string): Promise<boolean> {
  return new Promise(resolve => {
    const probe = spawn('docker', ['version', '--format', '{{.Server.Version}}'], {
      env: { ...process.env, DOCKER_HOST: host },
      stdio: 'ignore'
    })
    probe.on('error', () => resolve(false))
    probe.on('exit', code => resolve(code === 0))
  })
}
