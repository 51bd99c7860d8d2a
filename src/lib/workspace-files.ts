import { constants, realpathSync } from 'node:fs'
import * as fs from 'node:fs/promises'
import * as path from 'node:path'
import { ConfigurationError } from './errors.js'

// Every path an input, a repository or a report names is hostile until checked: it must stay inside the roots
// the action may touch once symlinks are resolved, and it must be a regular file (a FIFO would hang the read,
// a device or a /proc file would never end).

/**
 * `file` (relative to `workspace`) resolved through every symlink; refused unless it stays inside the workspace
 * or one of `alsoInside` (e.g. RUNNER_TEMP for files the action writes).
 */
export function resolveInside(
  workspace: string,
  file: string,
  what: string,
  alsoInside: readonly string[] = []
): string {
  const roots = [workspace, ...alsoInside]
  const absolute = path.resolve(workspace, file)
  let real: string
  try {
    real = realpathSync(absolute)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new ConfigurationError(`${what}: '${file}' does not exist`)
    throw new ConfigurationError(`${what}: '${file}' cannot be resolved (${code ?? 'error'})`)
  }
  requireInside(roots, real, file, what)
  return real
}

/** Where an output file may be written: its directory resolved inside a root, and the name not a symlink. */
export async function resolveOutputInside(
  workspace: string,
  file: string,
  what: string,
  alsoInside: readonly string[] = []
): Promise<string> {
  const absolute = path.resolve(workspace, file)
  const directory = resolveInside(workspace, path.dirname(absolute), what, alsoInside)
  const target = path.join(directory, path.basename(absolute))
  const existing = await fs.lstat(target).catch(() => undefined)
  if (existing && !existing.isFile()) {
    const kind = existing.isSymbolicLink() ? 'a symlink' : 'not a regular file'
    throw new ConfigurationError(`${what}: '${file}' is ${kind}; name a regular file to write`)
  }
  return target
}

/** Opens a regular file for reading without following a last-moment symlink or blocking on a FIFO. */
export async function openRegularFile(file: string, what: string): Promise<fs.FileHandle> {
  let handle: fs.FileHandle
  try {
    handle = await fs.open(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW)
  } catch (error) {
    throw new ConfigurationError(
      `${what}: '${file}' cannot be read (${(error as NodeJS.ErrnoException).code})`
    )
  }
  const stat = await handle.stat()
  if (!stat.isFile()) {
    await handle.close()
    throw new ConfigurationError(`${what}: '${file}' is not a regular file`)
  }
  return handle
}

/** A whole regular file, refused beyond `maxBytes` (a limit the caller names in its message). */
export async function readRegularFile(file: string, what: string, maxBytes: number): Promise<Buffer> {
  const handle = await openRegularFile(file, what)
  try {
    const buffer = Buffer.alloc(Math.min(maxBytes + 1, (await handle.stat()).size + 1))
    let length = 0
    for (;;) {
      if (length === buffer.length) break
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null)
      if (bytesRead === 0) break
      length += bytesRead
    }
    if (length > maxBytes) {
      throw new ConfigurationError(`${what}: '${file}' is larger than ${maxBytes} bytes`)
    }
    if (length === buffer.length) throw new ConfigurationError(`${what}: '${file}' grew while it was read`)
    return buffer.subarray(0, length)
  } finally {
    await handle.close()
  }
}

function requireInside(roots: readonly string[], real: string, file: string, what: string): void {
  for (const root of roots) {
    const realRoot = realOrSelf(root)
    const relative = path.relative(realRoot, real)
    const outside = relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative)
    if (!outside) return
  }
  throw new ConfigurationError(
    `${what}: '${file}' resolves outside the workspace (${real}); only files inside it are read or written`
  )
}

function realOrSelf(directory: string): string {
  try {
    return realpathSync(directory)
  } catch {
    return path.resolve(directory)
  }
}
