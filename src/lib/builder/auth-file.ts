import { promises as fs } from 'node:fs'
import path from 'node:path'
import { ConfigurationError } from '../errors.js'
import { DOCKER_HUB } from '../image-ref.js'
import type { RegistryLogin } from './types.js'

// The Docker CLI keys Docker Hub credentials by its legacy index URL; other tools accept the plain host.
const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/'

/** The `auths` key a Docker-style config uses for a registry host. */
export function authKey(registry: string, flavour: 'docker' | 'containers'): string {
  return registry === DOCKER_HUB && flavour === 'docker' ? DOCKER_HUB_AUTH_KEY : registry
}

/** Adds an inline `auths` entry to a Docker-style config object (config.json or containers auth.json). */
export function withLogin(
  config: Record<string, unknown>,
  login: RegistryLogin,
  flavour: 'docker' | 'containers'
): Record<string, unknown> {
  const key = authKey(login.registry, flavour)
  const auths = { ...((config.auths as Record<string, unknown> | undefined) ?? {}) }
  auths[key] = { auth: Buffer.from(`${login.username}:${login.password}`).toString('base64') }
  const result: Record<string, unknown> = { ...config, auths }
  // A credential helper for this host would win over the inline entry; so would a global store.
  const helpers = { ...((config.credHelpers as Record<string, string> | undefined) ?? {}) }
  if (flavour === 'docker') {
    // The docker CLI reads an empty helper as "the file itself" for this host alone: the store keeps serving
    // the others (private base images).
    helpers[key] = ''
  } else {
    delete helpers[key]
    delete result.credsStore
  }
  result.credHelpers = helpers
  return result
}

/** Writes a JSON file only the current user can read. */
export async function writePrivateJson(file: string, value: unknown): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 })
  await fs.writeFile(file, JSON.stringify(value, null, 2), { mode: 0o600 })
}

/** Reads a JSON object, or `{}` when the file does not exist. */
export async function readJsonObject(file: string): Promise<Record<string, unknown>> {
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw new ConfigurationError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    // The parser's message quotes the text, and a Docker config holds credentials.
    throw new ConfigurationError(`${file} is not valid JSON: fix or remove it`)
  }
  return parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {}
}
