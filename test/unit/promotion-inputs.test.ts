import { describe, expect, it } from '@jest/globals'
import { parseDuration, readInputs, slug } from '../../src/actions/open-promotion-pr/inputs.js'
import { ConfigurationError } from '../../src/lib/errors.js'
import { mapInputs } from '../../src/lib/inputs.js'

const DIGEST = `sha256:${'ab'.repeat(32)}`
const env = { GITHUB_REPOSITORY: 'octo/gitops' }
const read = (values: Record<string, string>) =>
  readInputs(mapInputs({ environment: 'staging', token: 't0ken', ...values }), env)

describe('open-promotion-pr inputs', () => {
  it('opens for a branch from image-ref, with a default head branch per environment and image', () => {
    const inputs = read({ 'image-ref': `ghcr.io/Octo/web-app:1.2.3@${DIGEST}`.replace('Octo', 'octo') })
    expect(inputs).toMatchObject({
      environment: 'staging',
      repository: 'octo/gitops',
      image: 'ghcr.io/octo/web-app',
      digest: DIGEST,
      tag: '1.2.3',
      headBranch: 'promote/staging/octo-web-app',
      fromPaths: [],
      whenUnverified: 'skip',
      closeSuperseded: true,
      draft: false,
      autoMerge: undefined,
      sourceToken: 't0ken'
    })
  })

  it('promotes from paths with an image name, globs, soak and the rest', () => {
    const inputs = read({
      image: 'ghcr.io/octo/web',
      'from-paths': 'apps/web/overlays/dev',
      paths: 'apps/web/overlays/staging',
      'require-status': 'kustomization/apps-dev/*\ncontinuous-delivery/web-dev',
      'min-soak': '1h30m',
      'when-unverified': 'draft',
      labels: 'promotion, env/staging',
      reviewers: 'alice\nbob',
      'auto-merge': 'squash',
      'require-verdict': 'pass',
      'source-token': 'other'
    })
    expect(inputs).toMatchObject({
      digest: undefined,
      fromPaths: ['apps/web/overlays/dev'],
      paths: ['apps/web/overlays/staging'],
      requireStatus: ['kustomization/apps-dev/*', 'continuous-delivery/web-dev'],
      minSoakMs: 90 * 60_000,
      whenUnverified: 'draft',
      labels: ['promotion', 'env/staging'],
      reviewers: ['alice', 'bob'],
      autoMerge: 'squash',
      requireVerdict: true,
      sourceToken: 'other',
      headBranch: 'promote/staging/octo-web'
    })
  })

  it.each([
    [{ environment: '' }, /'environment' is required/],
    [{ environment: 'stag ing' }, /'environment' must be a name/],
    [{ token: '' }, /'token' is empty/],
    [{}, /'image-ref' is required to open a pull request for a branch/],
    [{ 'image-ref': 'ghcr.io/octo/web:1.0' }, /must carry a digest/],
    [
      { 'image-ref': `ghcr.io/octo/web:1.2.3@${DIGEST}`, tag: '1.2.4' },
      /'tag' \(1\.2\.4\) differs from the tag in 'image-ref' \(1\.2\.3\)/
    ],
    [{ image: 'ghcr.io/octo/api', 'image-ref': `ghcr.io/octo/web@${DIGEST}` }, /name different repositories/],
    [{ image: 'ghcr.io/octo/web', 'from-paths': 'dev' }, /'paths' is required with 'from-paths'/],
    [{ 'from-paths': 'dev', paths: 'prod' }, /'image' is required with 'from-paths'/],
    [
      { 'image-ref': `ghcr.io/octo/web@${DIGEST}`, 'require-status': 'ci' },
      /'require-status' needs 'from-paths'/
    ],
    [
      { 'image-ref': `ghcr.io/octo/web@${DIGEST}`, 'auto-merge': 'yes' },
      /'auto-merge' must be empty or one of/
    ],
    [{ 'image-ref': `ghcr.io/octo/web@${DIGEST}`, 'head-branch': 'a..b' }, /not a valid branch name/],
    [{ 'image-ref': `ghcr.io/octo/web@${DIGEST}`, base: 'main', 'head-branch': 'main' }, /both 'main'/],
    [{ 'image-ref': `ghcr.io/octo/web@${DIGEST}`, title: 'Ship {what}' }, /unknown placeholder \{what\}/],
    [{ 'image-ref': `ghcr.io/octo/web@${DIGEST}`, 'registry-username': 'u' }, /go together/],
    [{ 'image-ref': `ghcr.io/octo/web@${DIGEST}`, 'require-verdict': 'fail' }, /'pass' or empty/],
    [{ image: 'x/y', 'from-paths': 'a', paths: 'b', 'require-status': '**' }, /matches every context/],
    [{ image: 'x/y', 'from-paths': 'a', paths: 'b', 'min-soak': '2 hours' }, /duration like 30m/]
  ])('refuses %j', (values, message) => {
    expect(() => read(values)).toThrow(ConfigurationError)
    expect(() => read(values)).toThrow(message)
  })

  it('takes paths without from-paths in mode 1, to narrow the files the branch changes', () => {
    expect(read({ 'image-ref': `ghcr.io/octo/web@${DIGEST}`, paths: 'prod\nqa' })).toMatchObject({
      fromPaths: [],
      paths: ['prod', 'qa']
    })
  })

  it('needs a repository from the input or the workflow', () => {
    expect(() =>
      readInputs(mapInputs({ environment: 'prod', token: 't', 'image-ref': `a/b@${DIGEST}` }), {})
    ).toThrow(/GITHUB_REPOSITORY is not set/)
  })

  it.each([
    ['', 0],
    ['90s', 90_000],
    ['30m', 1_800_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['1h30m', 5_400_000]
  ])('reads the duration %j', (text, ms) => expect(parseDuration(text)).toBe(ms))

  it.each([
    ['octo/web', 'octo-web'],
    ['library/redis', 'library-redis'],
    ['a/b.c/d__e', 'a-b.c-d__e']
  ])('slugs %s as %s', (name, expected) => expect(slug(name)).toBe(expected))
})
