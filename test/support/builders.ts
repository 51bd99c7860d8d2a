import { execFile } from 'node:child_process'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { TestRegistry } from './registry.js'

const run = promisify(execFile)

/** buildah settings that work unprivileged in a sandbox: vfs storage, chroot isolation. */
export const BUILDAH_ENV = { STORAGE_DRIVER: 'vfs', BUILDAH_ISOLATION: 'chroot' } as const

/** Stand-in `docker` for the buildx path (buildx is not packaged for Debian). */
export const BUILDX_STANDIN_DIR = fileURLToPath(new URL('./buildx-standin', import.meta.url))

/** Makes buildah and skopeo trust a registry's CA the standard way (`/etc/containers/certs.d/<host>/ca.crt`). */
export async function trustForContainers(
  registry: Pick<TestRegistry, 'host' | 'caPem'>
): Promise<() => Promise<void>> {
  const dir = path.join('/etc/containers/certs.d', registry.host)
  await fs.mkdir(dir, { recursive: true })
  await fs.writeFile(path.join(dir, 'ca.crt'), registry.caPem)
  return () => fs.rm(dir, { recursive: true, force: true })
}

/** A `FROM scratch` build context (in `parent`: the workspace) with one file whose content makes the image unique. */
export async function scratchContext(
  content: string,
  dockerfile = 'FROM scratch\nCOPY hello.txt /hello.txt\n',
  parent = os.tmpdir()
): Promise<string> {
  const dir = await fs.mkdtemp(path.join(parent, 'ctx-'))
  await fs.writeFile(path.join(dir, 'hello.txt'), content)
  await fs.writeFile(path.join(dir, 'Dockerfile'), dockerfile)
  return dir
}

/**
 * A base image with a shell, made here (no base image can be pulled): Debian's static busybox as /bin/busybox and
 * /bin/sh, pushed to `registry` as `<host>/base/busybox:1` for `FROM` lines that need to `RUN`.
 */
export async function pushBusyboxBase(
  registry: Pick<TestRegistry, 'host' | 'username' | 'password'>
): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'busybox-base-'))
  const local = `localhost/busybox-base:${path.basename(dir).toLowerCase()}`
  const reference = `${registry.host}/base/busybox:1`
  try {
    await fs.mkdir(path.join(dir, 'bin'))
    await fs.copyFile('/bin/busybox', path.join(dir, 'bin', 'busybox'))
    await fs.chmod(path.join(dir, 'bin', 'busybox'), 0o755)
    await fs.symlink('busybox', path.join(dir, 'bin', 'sh'))
    await fs.writeFile(path.join(dir, 'Dockerfile'), 'FROM scratch\nCOPY bin /bin\n')
    const env = { ...process.env, ...BUILDAH_ENV }
    await run('buildah', ['build', '--quiet', '--tag', local, dir], { env })
    const creds = registry.username ? ['--creds', `${registry.username}:${registry.password}`] : []
    await run('buildah', ['push', '--quiet', ...creds, local, `docker://${reference}`], { env })
    await run('buildah', ['rmi', local], { env })
    return reference
  } finally {
    await fs.rm(dir, { recursive: true, force: true })
  }
}

/** Environment for buildah with storage of its own, empty as on a fresh runner; `cleanup` removes it. */
export async function freshBuildahStorage(): Promise<{
  env: Record<string, string>
  cleanup(): Promise<void>
}> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'buildah-storage-'))
  const conf = path.join(dir, 'storage.conf')
  await fs.writeFile(conf, `[storage]\ndriver = "vfs"\ngraphroot = "${dir}/graph"\nrunroot = "${dir}/run"\n`)
  return {
    env: { CONTAINERS_STORAGE_CONF: conf },
    cleanup: async () => {
      // vfs layers can be read-only directories: let buildah remove what it made, then the rest.
      await run('buildah', ['rmi', '--all', '--force'], {
        env: { ...process.env, CONTAINERS_STORAGE_CONF: conf }
      }).catch(() => undefined)
      await fs.rm(dir, { recursive: true, force: true })
    }
  }
}
