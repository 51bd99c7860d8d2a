import { describe, expect, it } from '@jest/globals'
import {
  chooseImage,
  forImage,
  parseDuration,
  readInputs,
  refuseForSeveral,
  refuseSharedBranches,
  slug
} from '../../src/actions/open-promotion-pr/inputs.js'
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
      images: [{ image: 'ghcr.io/octo/web-app', headBranch: 'promote/staging/octo-web-app' }],
      digest: DIGEST,
      tag: '1.2.3',
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
      images: [{ image: 'ghcr.io/octo/web', headBranch: 'promote/staging/octo-web' }]
    })
  })

  const fromDev = { 'from-paths': 'apps/web/overlays/dev', paths: 'apps/web/overlays/staging' }

  it('promotes the images named in images, one head branch each, or leaves the choice to from-paths', () => {
    const inputs = read({ ...fromDev, images: 'ghcr.io/octo/web\n\nghcr.io/octo/api\n' })
    expect(inputs.images).toEqual([
      expect.objectContaining({ image: 'ghcr.io/octo/web', headBranch: 'promote/staging/octo-web' }),
      expect.objectContaining({ image: 'ghcr.io/octo/api', headBranch: 'promote/staging/octo-api' })
    ])
    expect(inputs.headBranchInput).toBeUndefined()
    // One line is one image: what head-branch, tag and aliases describe.
    const one = read({ ...fromDev, images: 'ghcr.io/octo/web', 'head-branch': 'promote/web', tag: '1.2.0' })
    expect(one.images).toEqual([
      expect.objectContaining({ image: 'ghcr.io/octo/web', headBranch: 'promote/web' })
    ])
    expect(read(fromDev).images).toEqual([])

    const each = forImage(
      read(fromDev),
      chooseImage(read(fromDev), 'registry.local:5000/octo/Web'.toLowerCase())
    )
    expect(each).toMatchObject({
      image: 'registry.local:5000/octo/web',
      headBranch: 'promote/staging/octo-web',
      fromPaths: ['apps/web/overlays/dev']
    })
    expect(each).not.toHaveProperty('images')
  })

  it('gives registry-username/password only to the registries of the images inputs name', () => {
    const credentials = { 'registry-username': 'bot', 'registry-password': 's3cret' }
    const expected = { username: 'bot', password: 's3cret' }
    const several = read({
      ...fromDev,
      ...credentials,
      images: 'ghcr.io/octo/web\nregistry.local:5000/octo/api'
    })
    expect(
      ['ghcr.io', 'registry.local:5000', 'docker.io', 'attacker.example'].map(several.credentialsFor)
    ).toEqual([expected, expected, undefined, undefined])
    // Docker Hub by its canonical host, as the registry client asks for it.
    const hub = read({ ...credentials, 'image-ref': `octo/web@${DIGEST}` })
    expect(['docker.io', 'ghcr.io'].map(hub.credentialsFor)).toEqual([expected, undefined])
    const named = read({ ...fromDev, ...credentials, image: 'ghcr.io/octo/web' })
    expect(['ghcr.io', 'registry.local:5000'].map(named.credentialsFor)).toEqual([expected, undefined])
    // Without the inputs, no host gets them from here (the Docker config applies).
    expect(read(fromDev).credentialsFor('ghcr.io')).toBeUndefined()
    expect(JSON.stringify(several)).not.toContain('s3cret')
  })

  it('refuses registry credentials when the images are only those from-paths pin, saying to name them', () => {
    const given = () => read({ ...fromDev, 'registry-username': 'bot', 'registry-password': 's3cret' })
    expect(given).toThrow(ConfigurationError)
    expect(given).toThrow(
      "inputs 'registry-username' and 'registry-password' go only to the registry of an image an input names, and " +
        "no input names one (the images are those 'from-paths' pin): name the images to promote in 'images'"
    )
  })

  it.each([
    [
      'ghcr.io/acme/api\ndocker.io/acme/api',
      'ghcr.io/acme/api and docker.io/acme/api',
      'promote/staging/acme-api'
    ],
    ['acme/web-app\nacme-web/app', 'acme/web-app and acme-web/app', 'promote/staging/acme-web-app'],
    [
      'ghcr.io/acme/api\nghcr.io/acme/web\nquay.io/acme/web',
      'ghcr.io/acme/web and quay.io/acme/web',
      'promote/staging/acme-web'
    ]
  ])('refuses images %j that would share one head branch, naming both', (images, both, branch) => {
    const given = () => read({ ...fromDev, images })
    expect(given).toThrow(ConfigurationError)
    expect(given).toThrow(
      `input 'images' names ${both}, which would share the head branch ${branch} (one pull request rewriting ` +
        "the other's): promote only one of them here (name it in 'images'), and the other in a step of its own " +
        "with 'image' and a 'head-branch' of its own"
    )
  })

  it('refuses chosen images that share a head branch, and takes ones that do not', () => {
    const listed = read(fromDev)
    const choose = (...names: string[]) => names.map(name => chooseImage(listed, name))
    expect(() =>
      refuseSharedBranches(choose('ghcr.io/octo/web', 'ghcr.io/octo/api'), "input 'from-paths' pins")
    ).not.toThrow()
    expect(() =>
      refuseSharedBranches(choose('ghcr.io/octo/web', 'localhost:5000/octo/web'), "input 'from-paths' pins")
    ).toThrow(
      "input 'from-paths' pins ghcr.io/octo/web and localhost:5000/octo/web, which would share the head branch " +
        'promote/staging/octo-web'
    )
  })

  it('refuses what belongs to one image when several are promoted', () => {
    expect(() =>
      refuseForSeveral({ headBranchInput: undefined, tag: undefined, aliases: [] }, 'x')
    ).not.toThrow()
    expect(() =>
      refuseForSeveral(
        { headBranchInput: 'promote/all', tag: undefined, aliases: ['mirror/web'] },
        "input 'from-paths' pins a, b: this"
      )
    ).toThrow(
      "input 'from-paths' pins a, b: this promotes several images, each on its own pull request, and 'head-branch', 'aliases' belong to one image"
    )
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
    [
      { image: 'ghcr.io/octo/web', images: 'ghcr.io/octo/api', 'from-paths': 'dev', paths: 'prod' },
      /'image' and 'images' are both given/
    ],
    [{ images: 'ghcr.io/octo/web' }, /'images' needs 'from-paths' and 'paths'/],
    [
      {
        images: 'ghcr.io/octo/web',
        'image-ref': `ghcr.io/octo/web@${DIGEST}`,
        'from-paths': 'dev',
        paths: 'prod'
      },
      /'image-ref' and 'images' are both given/
    ],
    [
      { images: 'ghcr.io/octo/web:1.0', 'from-paths': 'dev', paths: 'prod' },
      /'images' must be a repository name/
    ],
    [{ images: 'ghcr.io/octo/Web', 'from-paths': 'dev', paths: 'prod' }, /must be lowercase/],
    [{ images: 'octo/web\ndocker.io/octo/web', 'from-paths': 'dev', paths: 'prod' }, /one repository twice/],
    [
      { images: 'octo/web\nocto/api', 'from-paths': 'dev', paths: 'prod', 'head-branch': 'promote/both' },
      /'images' promotes several images.*'head-branch' belongs to one image/
    ],
    [
      { images: 'octo/web\nocto/api', 'from-paths': 'dev', paths: 'prod', tag: '1.0' },
      /'tag' belongs to one image/
    ],
    [
      { images: 'octo/web\nocto/api', 'from-paths': 'dev', paths: 'prod', aliases: 'mirror/web' },
      /'aliases' belongs to one image/
    ],
    [
      {
        images: Array.from({ length: 31 }, (_, i) => `octo/app-${i}`).join('\n'),
        'from-paths': 'd',
        paths: 'p'
      },
      /names 31 images, more than the 30/
    ],
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
