import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { TestRegistry } from './registry.js'

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
