import { constants, lstatSync, type Stats } from 'node:fs'
import * as fs from 'node:fs/promises'
import path from 'node:path'
import { ConfigurationError } from '../../lib/errors.js'
import { resolveInside, resolveOutputInside } from '../../lib/workspace-files.js'

/** A file the action will write, checked before any work: where it goes, and the roots it must stay in. */
export interface OutputFile {
  /** As the user wrote it, for messages. */
  text: string
  /** Absolute path, its existing part resolved through symlinks. */
  path: string
  roots: string[]
  workspace: string
}

/**
 * Checks an output path before the scan: its nearest existing directory must resolve inside the workspace or one
 * of `alsoInside` (RUNNER_TEMP), so a symlinked directory or a /proc path is refused at once, not after minutes.
 */
export function planOutputFile(
  workspace: string,
  text: string,
  what: string,
  alsoInside: readonly string[]
): OutputFile {
  const absolute = path.resolve(workspace, text)
  let existing = path.dirname(absolute)
  // lstat, not exists: a dangling symlink is there, and resolving it is refused below.
  while (!lstatOrUndefined(existing) && path.dirname(existing) !== existing) existing = path.dirname(existing)
  const real = resolveInside(workspace, existing, what, alsoInside)
  const target = path.join(real, path.relative(existing, absolute))
  const stat = lstatOrUndefined(target)
  if (stat && !stat.isFile()) {
    throw new ConfigurationError(
      `${what}: '${text}' is ${stat.isSymbolicLink() ? 'a symlink' : 'not a regular file'}; name a regular file to write`
    )
  }
  return {
    text,
    path: target,
    roots: [...alsoInside],
    workspace
  }
}

/**
 * Creates the file's missing directories and opens it for writing, refusing a symlink or anything but a regular
 * file at its name (checked again here: the workspace may have changed during the scan).
 */
export async function openOutputFile(file: OutputFile, what: string): Promise<fs.FileHandle> {
  await fs.mkdir(path.dirname(file.path), { recursive: true })
  const target = await resolveOutputInside(file.workspace, file.path, what, file.roots)
  try {
    return await fs.open(
      target,
      constants.O_WRONLY |
        constants.O_CREAT |
        constants.O_TRUNC |
        constants.O_NOFOLLOW |
        constants.O_NONBLOCK,
      0o644
    )
  } catch (error) {
    throw new ConfigurationError(
      `${what}: '${file.text}' cannot be written (${(error as NodeJS.ErrnoException).code ?? 'error'})`
    )
  }
}

function lstatOrUndefined(file: string): Stats | undefined {
  try {
    return lstatSync(file)
  } catch {
    return undefined
  }
}
