import { fallsBackToHttp } from '../../src/lib/registry/http.js'
import { afterEach, describe, expect, it } from '@jest/globals'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigurationError } from '../../src/lib/errors.js'
import {
  credentialsFromDockerConfig,
  normaliseRegistryHost,
  parseAuthenticate,
  readDockerConfigCredentials
} from '../../src/lib/registry/auth.js'

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
