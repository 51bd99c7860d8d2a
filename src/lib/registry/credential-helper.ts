import * as core from '@actions/core'
import { ConfigurationError, ExternalError } from '../errors.js'
import { createCommandRunner, type CommandRunner } from '../exec.js'
import type { Credentials } from './auth.js'

/** A helper that answers in neither time is broken, not slow: the docker CLI would hang the same way. */
export const CREDENTIAL_HELPER_TIMEOUT_MS = 30_000

// What every helper built on docker-credential-helpers prints when it has nothing for the server.
const NOT_FOUND = /credentials not found in native keychain/i

export interface CredentialHelperOptions {
  /** Runs the helper; the real one by default (tests pass another). */
  runner?: CommandRunner
  timeoutMs?: number
  /** Added to the process environment of the helper (PATH finds it; cloud helpers read their own variables). */
  env?: NodeJS.ProcessEnv
}

/**
 * Runs `docker-credential-<helper> get` as the docker CLI does: the server address on stdin, `{ServerURL, Username,
 * Secret}` on stdout. Undefined when the helper has no credentials for it; any other failure is an error naming the
 * helper, never an anonymous fallback. `where` says where the helper was configured, for messages.
 */
export async function getFromCredentialHelper(
  helper: string,
  serverAddress: string,
  where: string,
  options: CredentialHelperOptions = {}
): Promise<Credentials | undefined> {
  // The name becomes part of a program name: no path, no option.
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(helper)) {
    throw new ConfigurationError(`${where} names credential helper '${helper}', which is not a helper name`)
  }
  const program = `docker-credential-${helper}`
  const timeoutMs = options.timeoutMs ?? CREDENTIAL_HELPER_TIMEOUT_MS
  const runner = options.runner ?? createCommandRunner()
  let result
  try {
    const env = Object.fromEntries(
      Object.entries(options.env ?? {}).filter((entry): entry is [string, string] => entry[1] !== undefined)
    )
    result = await runner.run(program, ['get'], { input: serverAddress, silent: true, timeoutMs, env })
  } catch {
    throw new ConfigurationError(
      `${where} names credential helper '${helper}', but ${program} cannot be run: install it on the runner's PATH, ` +
        'or remove the entry and pass registry-username / registry-password'
    )
  }
  if (result.timedOut) {
    throw new ExternalError(`${program} get did not answer for ${serverAddress} within ${timeoutMs / 1000} s`)
  }
  // Only stderr is ever quoted: stdout may hold the secret.
  const said = result.stderr.trim().slice(0, 300)
  if (result.exitCode !== 0) {
    if (NOT_FOUND.test(`${result.stdout}\n${result.stderr}`)) return undefined
    throw new ExternalError(
      `${program} get failed for ${serverAddress} (exit code ${result.exitCode})${said ? `: ${said}` : ''}`
    )
  }
  let answer: { Username?: unknown; Secret?: unknown }
  try {
    answer = JSON.parse(result.stdout) as typeof answer
  } catch {
    throw new ExternalError(`${program} get answered for ${serverAddress} with something other than JSON`)
  }
  const { Username: username, Secret: secret } = answer ?? {}
  if (typeof secret !== 'string' || secret === '') {
    throw new ExternalError(`${program} get answered for ${serverAddress} without a Secret`)
  }
  core.setSecret(secret)
  if (username === '<token>') {
    throw new ConfigurationError(
      `${program} gave an identity token for ${serverAddress}, which digest-delivery cannot exchange: ` +
        'pass registry-username / registry-password (e.g. from the cloud provider’s login action)'
    )
  }
  if (typeof username !== 'string' || username === '') {
    throw new ExternalError(`${program} get answered for ${serverAddress} without a Username`)
  }
  return { username, password: secret }
}
