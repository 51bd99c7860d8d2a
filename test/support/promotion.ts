/**
 * Fixtures for promotion tests: a GitOps repository whose dev and staging overlays pin an image by digest, a source
 * repository, and images in a real registry labelled with the source commits they were built from.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { pushTestImage, type TestRegistry } from './registry.js'
import type { LocalGitHub } from '../../tools/local-github/index.js'

const run = promisify(execFile)

export interface BuiltImage {
  digest: string
  tag: string
  revision: string
}

export const overlay = (image: string, digest: string, tag: string): string =>
  `# overlay\nresources:\n  - ../../base\nimages:\n  - name: ${image}\n    newTag: ${tag}\n    digest: ${digest}\n`

/** An overlay pinning several images, each as `overlay` pins one. */
export const overlayOf = (pins: Array<{ image: string; digest: string; tag: string }>): string =>
  `# overlay\nresources:\n  - ../../base\nimages:\n` +
  pins.map(pin => `  - name: ${pin.image}\n    newTag: ${pin.tag}\n    digest: ${pin.digest}\n`).join('')

/** A Deployment running one container per image. */
export const DEPLOYMENT_OF = (images: string[]): string =>
  `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n` +
  images.map((image, i) => `        - name: c${i}\n          image: ${image}:0.0.1\n`).join('')

export const BASE_DEPLOYMENT = (image: string): string =>
  `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: ${image}:0.0.1\n`

/** A GitOps repository with base, dev and staging overlays pinning `image` (dev to `dev`, staging to `staging`). */
export async function createGitOps(
  gh: LocalGitHub,
  fullName: string,
  image: string,
  pins: { dev: BuiltImage; staging: BuiltImage },
  options: Parameters<LocalGitHub['createRepo']>[1] = {}
): Promise<void> {
  await gh.createRepo(fullName, {
    defaultBranch: 'main',
    collaborators: ['alice'],
    ...options,
    files: {
      'apps/web/base/kustomization.yaml': 'resources:\n  - deployment.yaml\n',
      'apps/web/base/deployment.yaml': BASE_DEPLOYMENT(image),
      'apps/web/overlays/dev/kustomization.yaml': overlay(image, pins.dev.digest, pins.dev.tag),
      'apps/web/overlays/staging/kustomization.yaml': overlay(image, pins.staging.digest, pins.staging.tag)
    }
  })
}

/** A GitOps repository whose dev and staging overlays each pin every image of `pins` (one Deployment runs them all). */
export async function createGitOpsOf(
  gh: LocalGitHub,
  fullName: string,
  pins: Array<{ image: string; dev: Omit<BuiltImage, 'revision'>; staging: Omit<BuiltImage, 'revision'> }>
): Promise<void> {
  const at = (environment: 'dev' | 'staging') =>
    overlayOf(pins.map(pin => ({ image: pin.image, ...pin[environment] })))
  await gh.createRepo(fullName, {
    defaultBranch: 'main',
    files: {
      'apps/web/base/kustomization.yaml': 'resources:\n  - deployment.yaml\n',
      'apps/web/base/deployment.yaml': DEPLOYMENT_OF(pins.map(pin => pin.image)),
      'apps/web/overlays/dev/kustomization.yaml': at('dev'),
      'apps/web/overlays/staging/kustomization.yaml': at('staging')
    }
  })
}

/** Pins dev to `built` on main as bump-manifest would (with its trailer); returns the commit. */
export async function pinDev(
  gh: LocalGitHub,
  fullName: string,
  image: string,
  built: BuiltImage
): Promise<string> {
  return gh.commit(fullName, {
    files: { 'apps/web/overlays/dev/kustomization.yaml': overlay(image, built.digest, built.tag) },
    message: `Pin ${image} to ${built.tag}\n\nImage: ${image}@${built.digest}\n`,
    author: { name: 'github-actions[bot]', email: '41898282+github-actions[bot]@users.noreply.github.com' }
  })
}

/** An image in the registry labelled with its source repository and revision. */
export async function buildImage(
  registry: TestRegistry,
  repository: string,
  tag: string,
  source: string,
  revision: string
): Promise<BuiltImage> {
  const pushed = await pushTestImage(registry, repository, tag, {
    content: `${repository}:${tag} at ${revision}\n`,
    labels: { 'org.opencontainers.image.source': source, 'org.opencontainers.image.revision': revision }
  })
  return { digest: pushed.digest, tag, revision }
}

/**
 * The app repository `octo/app` with three releases, each built as `octo/web:1.<i>.0` labelled with its commit: what
 * the promotion tests promote between.
 */
export async function buildAppReleases(gh: LocalGitHub, registry: TestRegistry): Promise<BuiltImage[]> {
  await gh.createRepo('octo/app', { files: { 'main.go': 'package main\n' } })
  const built: BuiltImage[] = []
  for (let i = 1; i <= 3; i++) {
    const revision = await gh.commit('octo/app', {
      files: { 'main.go': `package main // v${i}\n` },
      message: `Release 1.${i}.0\n`
    })
    built.push(await buildImage(registry, 'octo/web', `1.${i}.0`, `${gh.serverUrl}/octo/app`, revision))
  }
  return built
}

/**
 * `count` commits on a branch of a local repository in one `git fast-import`, each with a subject of `subjectLength`
 * characters (and `trailer` as its body, if given); returns the last commit.
 */
export async function manyCommits(
  gh: LocalGitHub,
  fullName: string,
  branch: string,
  count: number,
  subjectLength = 60,
  trailer = ''
): Promise<string> {
  const dir = (await gh.git(fullName, 'rev-parse', '--absolute-git-dir')).trim()
  const parent = (await gh.ref(fullName, branch)) as string
  let stream = ''
  for (let i = 1; i <= count; i++) {
    const subject = `Change ${i}: ${'x'.repeat(subjectLength)}`.slice(0, subjectLength)
    const message = trailer ? `${subject}\n\n${trailer}\n` : `${subject}\n`
    const when = 1_700_000_000 + i
    stream +=
      `commit refs/heads/${branch}\nmark :${i}\n` +
      `author Dev <dev@example.com> ${when} +0000\ncommitter Dev <dev@example.com> ${when} +0000\n` +
      `data ${Buffer.byteLength(message)}\n${message}` +
      (i === 1 ? `from ${parent}\n` : '') +
      `M 100644 inline file-${i % 7}.txt\ndata ${String(i).length + 1}\n${i}\n\n`
  }
  await new Promise<void>((resolve, reject) => {
    const child = execFile('git', ['fast-import', '--quiet', '--force'], { cwd: dir }, error =>
      error ? reject(error) : resolve()
    )
    child.stdin?.end(stream)
  })
  return (await run('git', ['rev-parse', `refs/heads/${branch}`], { cwd: dir })).stdout.trim()
}
