import { fallsBackToHttp } from '../../src/lib/registry/http.js'
import { afterEach, describe, expect, it } from '@jest/globals'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigurationError, ExternalError } from '../../src/lib/errors.js'
import {
  credentialsFromDockerConfig,
  normaliseRegistryHost,
  parseAuthenticate,
  readDockerConfigCredentials
} from '../../src/lib/registry/auth.js'
import { standInHelper, type StandInHelper } from '../support/credential-helper.js'

const base64 = (text: string): string => Buffer.from(text).toString('base64')

describe('parseAuthenticate', () => {
  it.each([
    ['Basic realm="Registry Realm"', [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]],
    ['Basic', [{ scheme: 'basic', params: {} }]],
    [
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/redis:pull"',
      [
        {
          scheme: 'bearer',
          params: {
            realm: 'https://auth.docker.io/token',
            service: 'registry.docker.io',
            scope: 'repository:library/redis:pull'
          }
        }
      ]
    ],
    [
      // a comma inside a quoted value is part of the value, not a separator
      'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:org/app:pull,push"',
      [
        {
          scheme: 'bearer',
          params: {
            realm: 'https://ghcr.io/token',
            service: 'ghcr.io',
            scope: 'repository:org/app:pull,push'
          }
        }
      ]
    ],
    [
      'bearer Realm = "https://t/x" , Service=plain-token,error="invalid_token"',
      [{ scheme: 'bearer', params: { realm: 'https://t/x', service: 'plain-token', error: 'invalid_token' } }]
    ],
    [
      'Bearer realm="https://a/token", Basic realm="fallback, with comma"',
      [
        { scheme: 'bearer', params: { realm: 'https://a/token' } },
        { scheme: 'basic', params: { realm: 'fallback, with comma' } }
      ]
    ],
    ['Basic realm="say \\"hi\\""', [{ scheme: 'basic', params: { realm: 'say "hi"' } }]],
    [
      'Negotiate, Basic realm=x',
      [
        { scheme: 'negotiate', params: {} },
        { scheme: 'basic', params: { realm: 'x' } }
      ]
    ],
    ['', []],
    ['Bearer realm="unterminated', [{ scheme: 'bearer', params: { realm: 'unterminated' } }]]
  ])('parses %j', (header, expected) => {
    expect(parseAuthenticate(header)).toEqual(expected)
  })
})

describe('normaliseRegistryHost', () => {
  it.each([
    ['https://index.docker.io/v1/', 'docker.io'],
    ['index.docker.io', 'docker.io'],
    ['registry-1.docker.io', 'docker.io'],
    ['docker.io', 'docker.io'],
    ['https://ghcr.io', 'ghcr.io'],
    ['http://localhost:5000/v2/', 'localhost:5000'],
    ['127.0.0.1:5000', '127.0.0.1:5000'],
    ['GHCR.IO', 'ghcr.io']
  ])('%s → %s', (key, host) => {
    expect(normaliseRegistryHost(key)).toBe(host)
  })
})

describe('credentialsFromDockerConfig', () => {
  const config = {
    auths: {
      'https://index.docker.io/v1/': { auth: base64('hubuser:hub:pass:with:colons') },
      'https://ghcr.io': { auth: base64('octo:ghp_token') },
      '127.0.0.1:5000': { username: 'plain', password: 'fields' },
      'quay.io': { identitytoken: 'refresh-token-only' },
      'broken.example': { auth: base64('no-colon-here') }
    },
    credHelpers: { 'gcr.io': 'gcloud' }
  }

  it.each([
    ['docker.io', { username: 'hubuser', password: 'hub:pass:with:colons' }],
    ['ghcr.io', { username: 'octo', password: 'ghp_token' }],
    ['127.0.0.1:5000', { username: 'plain', password: 'fields' }],
    ['quay.io', undefined],
    ['gcr.io', undefined],
    ['127.0.0.1:5001', undefined]
  ])('for %s', (registry, expected) => {
    expect(credentialsFromDockerConfig(config, registry)).toEqual(expected)
  })

  it('prefers the exact key over an alias of the same host', () => {
    const both = {
      auths: { 'https://ghcr.io/': { auth: base64('alias:a') }, 'ghcr.io': { auth: base64('exact:e') } }
    }
    expect(credentialsFromDockerConfig(both, 'ghcr.io')).toEqual({ username: 'exact', password: 'e' })
  })

  it('says which entry is broken without quoting it', () => {
    let thrown: unknown
    try {
      credentialsFromDockerConfig(config, 'broken.example', '/home/u/.docker/config.json')
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(ConfigurationError)
    expect((thrown as Error).message).toContain('auths["broken.example"].auth')
    expect((thrown as Error).message).not.toContain('no-colon-here')
    expect((thrown as Error).message).not.toContain(base64('no-colon-here'))
  })

  it.each([[null], ['text'], [{}], [{ auths: [] }], [{ auths: { 'ghcr.io': 'x' } }]])('ignores %j', value => {
    expect(credentialsFromDockerConfig(value, 'ghcr.io')).toBeUndefined()
  })
})

describe('readDockerConfigCredentials', () => {
  const dirs: string[] = []
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true })
  })
  const configDir = async (text: string): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'docker-config-'))
    dirs.push(dir)
    await writeFile(join(dir, 'config.json'), text)
    return dir
  }

  it('reads $DOCKER_CONFIG/config.json', async () => {
    const dir = await configDir(JSON.stringify({ auths: { 'ghcr.io': { auth: base64('me:secret') } } }))
    await expect(readDockerConfigCredentials('ghcr.io', { DOCKER_CONFIG: dir })).resolves.toEqual({
      username: 'me',
      password: 'secret'
    })
  })

  it('reads ~/.docker/config.json when DOCKER_CONFIG is unset', async () => {
    const home = await mkdtemp(join(tmpdir(), 'home-'))
    dirs.push(home)
    await mkdir(join(home, '.docker'))
    await writeFile(
      join(home, '.docker', 'config.json'),
      JSON.stringify({ auths: { 'x.io': { auth: base64('h:p') } } })
    )
    await expect(readDockerConfigCredentials('x.io', { HOME: home })).resolves.toEqual({
      username: 'h',
      password: 'p'
    })
  })

  it('is undefined without a config file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'docker-config-'))
    dirs.push(dir)
    await expect(readDockerConfigCredentials('ghcr.io', { DOCKER_CONFIG: dir })).resolves.toBeUndefined()
  })

  it('rejects a file that is not JSON without echoing its text', async () => {
    const dir = await configDir('{"auths": {"ghcr.io": {"auth": "c2VjcmV0LXZhbHVl"}}')
    const error = await readDockerConfigCredentials('ghcr.io', { DOCKER_CONFIG: dir }).then(
      () => undefined,
      (thrown: unknown) => thrown as Error
    )
    expect(error).toBeInstanceOf(ConfigurationError)
    expect(error?.message).toBe(
      `Docker config ${join(dir, 'config.json')} is not valid JSON: fix or remove it`
    )
  })
})

describe('Docker credential helpers (credHelpers, credsStore)', () => {
  const helpers: StandInHelper[] = []
  afterEach(async () => {
    for (const helper of helpers.splice(0)) await helper.cleanup()
  })
  const helper = async (...args: Parameters<typeof standInHelper>): Promise<StandInHelper> => {
    const made = await standInHelper(...args)
    helpers.push(made)
    return made
  }
  const store = {
    'ecr.example.com': { Username: 'AWS', Secret: 'ecr-Secret-1' },
    'https://index.docker.io/v1/': { Username: 'hubber', Secret: 'hub-Secret-2' }
  }

  it('asks the credHelpers entry for its host, with the server address on stdin', async () => {
    const h = await helper({ credHelpers: { 'ecr.example.com': 'standin' } }, store)
    await expect(readDockerConfigCredentials('ecr.example.com', h.env)).resolves.toEqual({
      username: 'AWS',
      password: 'ecr-Secret-1'
    })
    expect(await h.asked()).toEqual(['ecr.example.com'])
  })

  it('asks credsStore for every registry, with Docker Hub as its legacy index URL', async () => {
    const h = await helper({ credsStore: 'standin' }, store)
    await expect(readDockerConfigCredentials('docker.io', h.env)).resolves.toEqual({
      username: 'hubber',
      password: 'hub-Secret-2'
    })
    expect(await h.asked()).toEqual(['https://index.docker.io/v1/'])
  })

  it('prefers credHelpers over credsStore, and auths only when the helper has nothing', async () => {
    const config = {
      credsStore: 'missing-store',
      credHelpers: { 'ghcr.io': 'standin' },
      auths: { 'ghcr.io': { auth: base64('inline:fallback') } }
    }
    const h = await helper(config, store)
    await expect(readDockerConfigCredentials('ghcr.io', h.env)).resolves.toEqual({
      username: 'inline',
      password: 'fallback'
    })
    expect(await h.asked()).toEqual(['ghcr.io'])
  })

  it('is undefined when the helper says "credentials not found in native keychain"', async () => {
    const h = await helper({ credsStore: 'standin' }, store)
    await expect(readDockerConfigCredentials('quay.io', h.env)).resolves.toBeUndefined()
  })

  it.each([
    [
      'fails',
      'fail' as const,
      /docker-credential-standin get failed for ecr\.example\.com \(exit code 1\): .*keyring is locked/
    ],
    [
      'answers with something other than JSON',
      'garbage' as const,
      /docker-credential-standin get answered .* other than JSON/
    ],
    [
      'never answers',
      'hang' as const,
      /docker-credential-standin get did not answer for ecr\.example\.com within 1 s/
    ]
  ])('is an error naming the helper when it %s, never an anonymous pull', async (_, mode, message) => {
    const h = await helper({ credHelpers: { 'ecr.example.com': 'standin' } }, store, mode)
    const env = { ...h.env, STANDIN_HELPER_LEAK: 'leaked-Value-9' }
    const error = (await readDockerConfigCredentials('ecr.example.com', env, { timeoutMs: 1000 }).catch(
      e => e
    )) as Error
    expect(error).toBeInstanceOf(ExternalError)
    expect(error.message).toMatch(message)
    expect(error.message).not.toContain('leaked-Value-9')
  })

  it('says a helper that is not installed cannot be run, naming it and the config entry', async () => {
    const h = await helper({ credHelpers: { 'ecr.example.com': 'not-installed-x' } }, store)
    const error = (await readDockerConfigCredentials('ecr.example.com', h.env).catch(e => e)) as Error
    expect(error).toBeInstanceOf(ConfigurationError)
    expect(error.message).toContain(
      'credHelpers["ecr.example.com"]) names credential helper \'not-installed-x\''
    )
    expect(error.message).toContain('docker-credential-not-installed-x cannot be run')
  })

  it.each([['../../bin/sh'], ['-x'], ['a b']])(
    'refuses the helper name %j before running anything',
    async name => {
      const h = await helper({ credsStore: name }, store)
      await expect(readDockerConfigCredentials('ecr.example.com', h.env)).rejects.toThrow(
        'which is not a helper name'
      )
      expect(await h.asked()).toEqual([])
    }
  )

  it('refuses an identity token it cannot exchange, without showing it', async () => {
    const h = await helper(
      { credsStore: 'standin' },
      { 'acr.example.com': { Username: '<token>', Secret: 'id-Tok-3' } }
    )
    const error = (await readDockerConfigCredentials('acr.example.com', h.env).catch(e => e)) as Error
    expect(error).toBeInstanceOf(ConfigurationError)
    expect(error.message).toContain('identity token')
    expect(error.message).not.toContain('id-Tok-3')
  })
})

describe('plain HTTP fallback', () => {
  const tlsFailure = { code: 'EPROTO', message: 'SSL routines:ssl3_get_record:wrong version number' }
  it.each([
    ['https://127.0.0.1:5000/v2/', tlsFailure, true],
    ['https://127.8.9.1:5000/v2/', tlsFailure, true],
    ['https://localhost:5000/v2/', { code: 'ERR_SSL_WRONG_VERSION_NUMBER', message: 'x' }, true],
    ['https://[::1]:5000/v2/', tlsFailure, true],
    ['https://registry.example.com/v2/', tlsFailure, false],
    ['https://10.0.0.5:5000/v2/', tlsFailure, false],
    ['https://127.0.0.1.example.com/v2/', tlsFailure, false],
    ['https://127.0.0.1:5000/v2/', { code: 'ECONNRESET', message: 'socket hang up' }, false],
    ['https://127.0.0.1:5000/v2/', { code: 'DEPTH_ZERO_SELF_SIGNED_CERT', message: 'self-signed' }, false]
  ])('%s after %j: %s', (url, error, expected) => {
    expect(fallsBackToHttp(new URL(url), error)).toBe(expected)
  })
})
