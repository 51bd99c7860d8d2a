import { readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { ConfigurationError, errorMessage } from '../errors.js'
import { getFromCredentialHelper, type CredentialHelperOptions } from './credential-helper.js'

/** A registry user name and password (or personal access token used as a password). */
export interface Credentials {
  username: string
  password: string
}

/** Credentials for one registry host ('docker.io', 'ghcr.io', '127.0.0.1:5000'), or undefined for anonymous. */
export type CredentialsResolver = (
  registry: string
) => Credentials | undefined | Promise<Credentials | undefined>

/** One challenge of a `WWW-Authenticate` header; scheme and parameter names are lower case. */
export interface AuthChallenge {
  scheme: string
  params: Record<string, string>
}

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/
const DOCKER_HUB_ALIASES = new Set([
  'docker.io',
  'index.docker.io',
  'registry-1.docker.io',
  'registry.hub.docker.com'
])

/** Parse a `WWW-Authenticate` header (RFC 9110 grammar): several challenges, quoted values holding commas. */
export function parseAuthenticate(header: string): AuthChallenge[] {
  const challenges: AuthChallenge[] = []
  const length = header.length
  let i = 0
  const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t'
  const skip = (chars: (c: string | undefined) => boolean): void => {
    while (i < length && chars(header[i])) i++
  }
  const readToken = (): string => {
    const start = i
    while (i < length && TOKEN_CHAR.test(header[i] ?? '')) i++
    return header.slice(start, i)
  }

  while (i < length) {
    skip(c => isSpace(c) || c === ',')
    const scheme = readToken()
    if (scheme === '') {
      // Not a token: skip the stray character rather than loop forever on malformed input.
      i++
      continue
    }
    const challenge: AuthChallenge = { scheme: scheme.toLowerCase(), params: {} }
    challenges.push(challenge)
    for (;;) {
      skip(c => isSpace(c) || c === ',')
      const start = i
      const name = readToken()
      if (name === '') break
      skip(isSpace)
      if (header[i] !== '=') {
        // A token without '=' starts the next challenge.
        i = start
        break
      }
      i++
      skip(isSpace)
      let value = ''
      if (header[i] === '"') {
        i++
        while (i < length && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < length) i++
          value += header[i]
          i++
        }
        i++
      } else {
        const valueStart = i
        while (i < length && header[i] !== ',' && !isSpace(header[i])) i++
        value = header.slice(valueStart, i)
      }
      challenge.params[name.toLowerCase()] = value
    }
  }
  return challenges
}

/** The `auths` key a Docker config uses for a registry, reduced to a bare host ('https://index.docker.io/v1/' → 'docker.io'). */
export function normaliseRegistryHost(key: string): string {
  const host = key
    .replace(/^[a-z]+:\/\//i, '')
    .split('/')[0]!
    .toLowerCase()
  return DOCKER_HUB_ALIASES.has(host) ? 'docker.io' : host
}

/** Credentials for `registry` from a parsed Docker config.json, accepting every key spelling docker login writes. */
export function credentialsFromDockerConfig(
  config: unknown,
  registry: string,
  source = 'the Docker config'
): Credentials | undefined {
  if (typeof config !== 'object' || config === null) return undefined
  const auths = (config as { auths?: unknown }).auths
  if (typeof auths !== 'object' || auths === null) return undefined
  const wanted = normaliseRegistryHost(registry)
  const keys = Object.keys(auths).filter(key => normaliseRegistryHost(key) === wanted)
  // An exact key wins over an alias spelling of the same host.
  keys.sort((a, b) => Number(b === registry) - Number(a === registry))
  for (const key of keys) {
    const credentials = parseAuthEntry((auths as Record<string, unknown>)[key], key, source)
    if (credentials) return credentials
  }
  return undefined
}

/** The credential helper the Docker config names for `registry` (`credHelpers`, else `credsStore`), and where. */
export function credentialHelperFor(
  config: unknown,
  registry: string
): { helper: string; key: string } | undefined {
  if (typeof config !== 'object' || config === null) return undefined
  const { credHelpers, credsStore } = config as { credHelpers?: unknown; credsStore?: unknown }
  if (typeof credHelpers === 'object' && credHelpers !== null) {
    const wanted = normaliseRegistryHost(registry)
    for (const [key, helper] of Object.entries(credHelpers)) {
      if (typeof helper === 'string' && helper !== '' && normaliseRegistryHost(key) === wanted) {
        return { helper, key: `credHelpers["${key}"]` }
      }
    }
  }
  if (typeof credsStore === 'string' && credsStore !== '') return { helper: credsStore, key: 'credsStore' }
  return undefined
}

/** The server address the docker CLI gives a credential helper: Docker Hub's legacy index URL, else the host. */
export function helperServerAddress(registry: string): string {
  return normaliseRegistryHost(registry) === 'docker.io' ? 'https://index.docker.io/v1/' : registry
}

/** The Docker config file: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
export function dockerConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DOCKER_CONFIG || join(env.HOME || homedir(), '.docker'), 'config.json')
}

/**
 * Credentials for `registry` from the Docker config, as the docker CLI finds them: its credential helper
 * (`credHelpers`, `credsStore`) first, then `auths`; undefined when there are none.
 */
export async function readDockerConfigCredentials(
  registry: string,
  env: NodeJS.ProcessEnv = process.env,
  helperOptions: CredentialHelperOptions = {}
): Promise<Credentials | undefined> {
  const file = dockerConfigFile(env)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new ConfigurationError(`cannot read Docker config ${file}: ${errorMessage(error)}`)
  }
  let config: unknown
  try {
    config = JSON.parse(text)
  } catch {
    // The parser's message can quote the file's text, which holds secrets.
    throw new ConfigurationError(`Docker config ${file} is not valid JSON: fix or remove it`)
  }
  const configured = credentialHelperFor(config, registry)
  if (configured) {
    const where = `Docker config ${file} (${configured.key})`
    const address = helperServerAddress(registry)
    const found = await getFromCredentialHelper(configured.helper, address, where, { env, ...helperOptions })
    if (found) return found
  }
  return credentialsFromDockerConfig(config, registry, file)
}

function parseAuthEntry(entry: unknown, key: string, source: string): Credentials | undefined {
  if (typeof entry !== 'object' || entry === null) return undefined
  const { auth, username, password } = entry as Record<string, unknown>
  if (typeof auth === 'string' && auth !== '') {
    const decoded = Buffer.from(auth, 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    if (colon <= 0) {
      throw new ConfigurationError(
        `${source}: auths["${key}"].auth is not base64 of 'username:password': run docker login again`
      )
    }
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
  }
  if (typeof username === 'string' && username !== '' && typeof password === 'string') {
    return { username, password }
  }
  return undefined
}
