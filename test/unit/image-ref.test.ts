import { describe, expect, it } from '@jest/globals'
import {
  familiarName,
  formatImageRef,
  isDigest,
  parseDigest,
  parseImageRef,
  sameRepository,
  shortDigest
} from '../../src/lib/image-ref.js'
import { ConfigurationError } from '../../src/lib/errors.js'

const D = `sha256:${'a'.repeat(64)}`
const D512 = `sha512:${'b'.repeat(128)}`

describe('parseImageRef: valid references', () => {
  // The Split cases of Kustomize's image parser (with real-length digests), then Docker's normalisation rules.
  it.each([
    ['nginx', 'docker.io', 'library/nginx', undefined, undefined, 'nginx'],
    ['nginx:1.2.3', 'docker.io', 'library/nginx', '1.2.3', undefined, 'nginx'],
    [`nginx@${D}`, 'docker.io', 'library/nginx', undefined, D, 'nginx'],
    [`nginx:1.2.3@${D}`, 'docker.io', 'library/nginx', '1.2.3', D, 'nginx'],
    ['docker.io/nginx:1.2.3', 'docker.io', 'library/nginx', '1.2.3', undefined, 'docker.io/nginx'],
    ['foo.com:443/nginx:1.2.3', 'foo.com:443', 'nginx', '1.2.3', undefined, 'foo.com:443/nginx'],
    [`foo.com:443/nginx:1.2.3@${D}`, 'foo.com:443', 'nginx', '1.2.3', D, 'foo.com:443/nginx'],
    [
      'docker.io/library/redis',
      'docker.io',
      'library/redis',
      undefined,
      undefined,
      'docker.io/library/redis'
    ],
    [
      'index.docker.io/library/redis',
      'docker.io',
      'library/redis',
      undefined,
      undefined,
      'index.docker.io/library/redis'
    ],
    ['bitnami/redis:7.2', 'docker.io', 'bitnami/redis', '7.2', undefined, 'bitnami/redis'],
    ['localhost/app', 'localhost', 'app', undefined, undefined, 'localhost/app'],
    ['localhost:5000/team/app:v1', 'localhost:5000', 'team/app', 'v1', undefined, 'localhost:5000/team/app'],
    ['127.0.0.1:5000/app', '127.0.0.1:5000', 'app', undefined, undefined, '127.0.0.1:5000/app'],
    ['[::1]:5000/app:x', '[::1]:5000', 'app', 'x', undefined, '[::1]:5000/app'],
    [
      'ghcr.io/org/sub/app:sha-0123456789ab',
      'ghcr.io',
      'org/sub/app',
      'sha-0123456789ab',
      undefined,
      'ghcr.io/org/sub/app'
    ],
    ['Registry/app', 'Registry', 'app', undefined, undefined, 'Registry/app'],
    ['a.b/x__y/z-1.2_3', 'a.b', 'x__y/z-1.2_3', undefined, undefined, 'a.b/x__y/z-1.2_3'],
    ['app:v1.0_rc-2', 'docker.io', 'library/app', 'v1.0_rc-2', undefined, 'app'],
    [`app@${D512}`, 'docker.io', 'library/app', undefined, D512, 'app']
  ])('%s', (text, registry, repository, tag, digest, name) => {
    expect(parseImageRef(text)).toEqual({ registry, repository, tag, digest, name })
  })
})

describe('parseImageRef: rejected references say which part is wrong', () => {
  it.each([
    ['', 'empty'],
    ['app name', 'white space'],
    ['nginx@sha256:12345', 'exactly 64 lowercase hex digits'],
    [`nginx@md5:${'a'.repeat(32)}`, "algorithm 'md5' is not supported"],
    [`nginx@sha256:${'A'.repeat(64)}`, 'lowercase hex'],
    ['nginx@', "digest '' must look like"],
    ['nginx:', "tag '' is invalid"],
    ['nginx:-bad', "tag '-bad' is invalid"],
    [`nginx:${'t'.repeat(129)}`, 'is invalid'],
    ['org/App', "repository 'org/App' must be lowercase"],
    ['ghcr.io/org//app', 'empty component'],
    ['ghcr.io/org/app-', "component 'app-' is invalid"],
    ['ghcr.io/-org/app', "component '-org' is invalid"],
    ['foo.com:99999/app', "port '99999'"],
    ['foo.com:http/app:1', "port 'http'"],
    ['-foo.com/app', "registry host '-foo.com'"],
    ['bad_host.com/app', "registry host 'bad_host.com'"],
    [':5000/app', "registry host ''"],
    [':tag', 'repository name is missing'],
    [`ghcr.io/${'a'.repeat(250)}`, 'at most 255']
  ])('%j', (text, reason) => {
    expect(() => parseImageRef(text)).toThrow(ConfigurationError)
    expect(() => parseImageRef(text)).toThrow(reason)
  })
})

describe('formatting and comparing', () => {
  it('formats the normalised, fully qualified form', () => {
    expect(formatImageRef(parseImageRef(`redis:7@${D}`))).toBe(`docker.io/library/redis:7@${D}`)
    expect(formatImageRef(parseImageRef('localhost:5000/app'))).toBe('localhost:5000/app')
  })
  it('round-trips every valid reference through format and parse', () => {
    for (const text of ['nginx', `a.b:1/c/d:e@${D}`, 'ghcr.io/o/r:t', `x@${D512}`]) {
      const ref = parseImageRef(text)
      const again = parseImageRef(formatImageRef(ref))
      expect({ ...again, name: '' }).toEqual({ ...ref, name: '' })
    }
  })
  it('gives the familiar name', () => {
    expect(familiarName(parseImageRef('docker.io/library/redis'))).toBe('redis')
    expect(familiarName(parseImageRef('bitnami/redis'))).toBe('bitnami/redis')
    expect(familiarName(parseImageRef('ghcr.io/o/app:1'))).toBe('ghcr.io/o/app')
  })
  it('matches repositories across spellings, and only those', () => {
    expect(sameRepository(parseImageRef('redis'), parseImageRef('docker.io/library/redis:7'))).toBe(true)
    expect(sameRepository(parseImageRef('redis'), parseImageRef('bitnami/redis'))).toBe(false)
    expect(sameRepository(parseImageRef('ghcr.io/o/app'), parseImageRef('ghcr.io:443/o/app'))).toBe(false)
  })
  it('handles bare digests', () => {
    expect(parseDigest(D)).toBe(D)
    expect(isDigest(D512)).toBe(true)
    expect(isDigest('sha256:abc')).toBe(false)
    expect(shortDigest(`sha256:0123456789abcdef${'0'.repeat(48)}`)).toBe('0123456789ab')
  })
})
