import { COMMIT_VIA, parseAuthor, readImageRef } from '../bump-manifest/inputs.js'
import { ConfigurationError } from '../../lib/errors.js'
import { parseImageRef, sameRepository, type ImageRef } from '../../lib/image-ref.js'
import { InputReader, type InputSource } from '../../lib/inputs.js'
import type { Identity } from '../../lib/git/index.js'
import type { Credentials } from '../../lib/registry/index.js'

export const INPUTS = [
  'environment',
  'repository',
  'token',
  'base',
  'head-branch',
  'image',
  'images',
  'image-ref',
  'from-environment',
  'from-paths',
  'paths',
  'helm-paths',
  'aliases',
  'tag',
  'require-status',
  'min-soak',
  'when-unverified',
  'require-verdict',
  'title',
  'body-header',
  'body-footer',
  'labels',
  'reviewers',
  'team-reviewers',
  'assignees',
  'draft',
  'auto-merge',
  'close-superseded',
  'commit-via',
  'commit-message',
  'registry-username',
  'registry-password',
  'source-token'
] as const
export type InputName = (typeof INPUTS)[number]

export const OUTPUTS = [
  'operation',
  'pull-request-number',
  'pull-request-url',
  'head-branch',
  'head-sha',
  'verified',
  'promoted',
  'auto-merge',
  'promotions'
] as const
export type OutputName = (typeof OUTPUTS)[number]

export const WHEN_UNVERIFIED = ['skip', 'draft', 'fail'] as const
export const AUTO_MERGE = ['merge', 'squash', 'rebase'] as const
export const DEFAULT_TITLE = 'Promote {image}:{tag} to {environment}'
export const DEFAULT_COMMIT_MESSAGE = 'Promote {image} to {reference}'
const TITLE_PLACEHOLDERS = ['environment', 'image', 'tag', 'short-digest', 'from-environment'] as const
/** Each image is a clone, a pull request and its API calls: a tree that pins more is a mistake, or hostile. */
export const MAX_IMAGES = 30

/** One image to promote, and the branch its pull request is opened from. */
export interface ImageChoice {
  image: string
  imageRef: ImageRef
  headBranch: string
}

/** The inputs of one run: what every image's promotion shares, and the images named. */
export interface ActionInputs extends Omit<PromotionInputs, keyof ImageChoice> {
  /**
   * The images named by `image`, `images` or `image-ref`, each promoted on its own pull request. Empty in mode 2
   * when none is named: every image `from-paths` pin by digest.
   */
  images: ImageChoice[]
  /** `head-branch` as given; undefined: each image's default. */
  headBranchInput?: string
}

export interface PromotionInputs {
  environment: string
  /** `owner/name`. */
  repository: string
  token: string
  /** Empty: the repository's default branch. */
  base?: string
  headBranch: string
  image: string
  imageRef: ImageRef
  /** From `image-ref`: the digest to promote; in mode 2 it overrides what `from-paths` pin. */
  digest?: string
  tag?: string
  fromEnvironment?: string
  /** Mode 2 when non-empty. */
  fromPaths: string[]
  paths: string[]
  helmPaths: string[]
  aliases: string[]
  requireStatus: string[]
  /** Milliseconds. */
  minSoakMs: number
  whenUnverified: (typeof WHEN_UNVERIFIED)[number]
  requireVerdict: boolean
  title: string
  bodyHeader: string
  bodyFooter: string
  labels: string[]
  reviewers: string[]
  teamReviewers: string[]
  assignees: string[]
  draft: boolean
  autoMerge?: (typeof AUTO_MERGE)[number]
  closeSuperseded: boolean
  commitVia: (typeof COMMIT_VIA)[number]
  commitMessage: string
  author: Identity
  /**
   * registry-username/password for `host` when an input (`image`, `images`, `image-ref`) names an image there, else
   * undefined (the Docker config applies): a registry the GitOps repository names, and its token service, never see
   * them.
   */
  credentialsFor: (host: string) => Credentials | undefined
  sourceToken: string
}

/** Reads and validates every input once. */
export function readInputs(source: InputSource, env: NodeJS.ProcessEnv): ActionInputs {
  const read = new InputReader<InputName>(source)
  const environment = read.required('environment')
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(environment)) {
    throw new ConfigurationError(
      `input 'environment' must be a name of letters, digits, '.', '_' or '-' (e.g. staging), got '${environment}'`
    )
  }
  const repository = read.optional('repository') || env.GITHUB_REPOSITORY || ''
  if (!/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(repository)) {
    throw new ConfigurationError(
      repository
        ? `input 'repository' must be owner/name, got '${repository}'`
        : "input 'repository' is empty and GITHUB_REPOSITORY is not set: name the GitOps repository"
    )
  }
  const token = read.secret('token')
  if (!token) {
    throw new ConfigurationError(
      "input 'token' is empty: a token with contents: write and pull-requests: write is needed"
    )
  }

  const fromPaths = read.lines('from-paths')
  const paths = read.lines('paths')
  if (fromPaths.length > 0 && paths.length === 0) {
    throw new ConfigurationError(
      "input 'paths' is required with 'from-paths': where this environment pins the image"
    )
  }
  const { named, digest, tag } = readImages(read, fromPaths.length > 0)

  const base = read.optional('base') || undefined
  const headBranchInput = read.optional('head-branch') || undefined
  if (headBranchInput !== undefined && !isBranchName(headBranchInput)) {
    throw new ConfigurationError(`input 'head-branch': '${headBranchInput}' is not a valid branch name`)
  }
  if (base !== undefined && !isBranchName(base)) {
    throw new ConfigurationError(`input 'base': '${base}' is not a valid branch name`)
  }
  if (base !== undefined && base === headBranchInput) {
    throw new ConfigurationError(
      `inputs 'base' and 'head-branch' are both '${base}': name a branch of its own`
    )
  }
  const images = named.map(({ image, imageRef }) => ({
    image,
    imageRef,
    headBranch: headBranchInput ?? defaultHeadBranch(environment, imageRef)
  }))

  const title = read.optional('title', DEFAULT_TITLE)
  for (const match of title.matchAll(/\{([a-z-]+)\}/g)) {
    if (!(TITLE_PLACEHOLDERS as readonly string[]).includes(match[1] as string)) {
      throw new ConfigurationError(
        `input 'title': unknown placeholder ${match[0]}; use ${TITLE_PLACEHOLDERS.map(p => `{${p}}`).join(', ')}`
      )
    }
  }

  const requireVerdict = read.optional('require-verdict')
  if (requireVerdict !== '' && requireVerdict !== 'pass') {
    throw new ConfigurationError(`input 'require-verdict' must be 'pass' or empty, got '${requireVerdict}'`)
  }
  const autoMerge = read.optional('auto-merge')
  if (autoMerge !== '' && !(AUTO_MERGE as readonly string[]).includes(autoMerge)) {
    throw new ConfigurationError(
      `input 'auto-merge' must be empty or one of ${AUTO_MERGE.join(', ')}; got '${autoMerge}'`
    )
  }

  const username = read.optional('registry-username')
  const password = read.secret('registry-password')
  if (Boolean(username) !== Boolean(password)) {
    throw new ConfigurationError(
      "inputs 'registry-username' and 'registry-password' go together: give both, or neither to use the Docker config"
    )
  }
  // Without an image named by an input, the registries are the ones the repository pins: anyone who can commit to
  // from-paths could name their own and collect the password.
  if (username && images.length === 0) {
    throw new ConfigurationError(
      "inputs 'registry-username' and 'registry-password' go only to the registry of an image an input names, and " +
        "no input names one (the images are those 'from-paths' pin): name the images to promote in 'images', or " +
        'leave the credentials empty and log in with the Docker config (docker/login-action) for each registry'
    )
  }
  const credentials = username ? { username, password } : undefined
  const credentialHosts = new Set(images.map(choice => choice.imageRef.registry))
  const requireStatus = read.lines('require-status')
  if (requireStatus.length > 0 && fromPaths.length === 0) {
    throw new ConfigurationError(
      "input 'require-status' needs 'from-paths': the statuses are read on the commit that pinned the digest there"
    )
  }
  for (const pattern of requireStatus) {
    if (pattern.replace(/\*/g, '') === '') {
      throw new ConfigurationError(
        `input 'require-status': '${pattern}' matches every context; name the context or check (globs like kustomization/apps-dev/*)`
      )
    }
  }

  const aliases = readAliases(read)
  if (images.length > 1) refuseForSeveral({ headBranchInput, tag, aliases }, "input 'images'")
  refuseSharedBranches(images, "input 'images' names")

  return {
    environment,
    repository,
    token,
    base,
    headBranchInput,
    images,
    digest,
    tag,
    fromEnvironment: read.optional('from-environment') || undefined,
    fromPaths,
    paths,
    helmPaths: read.lines('helm-paths'),
    aliases,
    requireStatus,
    minSoakMs: parseDuration(read.optional('min-soak')),
    whenUnverified: read.oneOf('when-unverified', WHEN_UNVERIFIED, 'skip'),
    requireVerdict: requireVerdict === 'pass',
    title,
    bodyHeader: read.optional('body-header'),
    bodyFooter: read.optional('body-footer'),
    labels: read.list('labels'),
    reviewers: read.list('reviewers'),
    teamReviewers: read.list('team-reviewers'),
    assignees: read.list('assignees'),
    draft: read.boolean('draft', false),
    autoMerge: autoMerge === '' ? undefined : (autoMerge as PromotionInputs['autoMerge']),
    closeSuperseded: read.boolean('close-superseded', true),
    commitVia: read.oneOf('commit-via', COMMIT_VIA, 'git'),
    commitMessage: read.optional('commit-message', DEFAULT_COMMIT_MESSAGE),
    author: parseAuthor(''),
    credentialsFor: host => (credentialHosts.has(host) ? credentials : undefined),
    sourceToken: read.secret('source-token') || token
  }
}

function readImages(
  read: InputReader<InputName>,
  promoting: boolean
): { named: Array<{ image: string; imageRef: ImageRef }>; digest?: string; tag?: string } {
  const imageInput = read.optional('image')
  const imagesInput = read.lines('images')
  const refInput = read.optional('image-ref')
  const tagInput = read.optional('tag') || undefined
  if (tagInput && !/^[\w][\w.-]{0,127}$/.test(tagInput)) {
    throw new ConfigurationError(`input 'tag': '${tagInput}' is not a valid tag`)
  }
  if (imageInput && imagesInput.length > 0) {
    throw new ConfigurationError(
      "inputs 'image' and 'images' are both given: name one image with 'image', or several with 'images' (one per line)"
    )
  }
  if (imagesInput.length > 0) {
    if (!promoting) {
      throw new ConfigurationError(
        "input 'images' needs 'from-paths' and 'paths': it chooses which images they pin to promote; to open a " +
          "pull request for a branch, give 'image-ref'"
      )
    }
    if (refInput) {
      throw new ConfigurationError(
        "inputs 'image-ref' and 'images' are both given: 'image-ref' names one image and its digest; give it with " +
          "'image' (or alone), or leave it out to promote what 'from-paths' pin"
      )
    }
    if (imagesInput.length > MAX_IMAGES) {
      throw new ConfigurationError(
        `input 'images' names ${imagesInput.length} images, more than the ${MAX_IMAGES} one step promotes: split them over several steps`
      )
    }
    const named = imagesInput.map(image => ({ image, imageRef: repositoryName(image, 'images') }))
    named.forEach(({ image, imageRef }, index) => {
      const twice = named.findIndex(other => sameRepository(other.imageRef, imageRef))
      if (twice !== index) {
        throw new ConfigurationError(
          `input 'images' names one repository twice (${named[twice]!.image} and ${image}): name each image once`
        )
      }
    })
    return { named, tag: tagInput }
  }
  if (refInput) {
    const { image, imageRef, digest, tag } = readImageRef(refInput, imageInput, tagInput)
    return { named: [{ image, imageRef }], digest, tag }
  }
  if (!promoting) {
    throw new ConfigurationError(
      "input 'image-ref' is required to open a pull request for a branch (name[:tag]@sha256:…, e.g. " +
        "build-and-digest's tagged-ref); or give 'from-paths' and 'paths' to promote from the environment before"
    )
  }
  // Neither: every image `from-paths` pin by digest, listed once base is cloned.
  if (!imageInput) return { named: [], tag: tagInput }
  return { named: [{ image: imageInput, imageRef: repositoryName(imageInput, 'image') }], tag: tagInput }
}

/** A repository name without tag or digest, as `image` and each line of `images` must be. */
function repositoryName(text: string, input: 'image' | 'images'): ImageRef {
  const imageRef = parseImageRef(text)
  if (imageRef.tag || imageRef.digest) {
    throw new ConfigurationError(
      `input '${input}' must be a repository name without tag or digest, got '${text}'`
    )
  }
  return imageRef
}

/**
 * Inputs that belong to one image, refused when several are promoted: one branch cannot hold several promotions, and
 * a tag or other spellings describe one image.
 */
export function refuseForSeveral(
  inputs: Pick<ActionInputs, 'headBranchInput' | 'tag' | 'aliases'>,
  several: string
): void {
  const given = [
    inputs.headBranchInput !== undefined ? 'head-branch' : undefined,
    inputs.tag !== undefined ? 'tag' : undefined,
    inputs.aliases.length > 0 ? 'aliases' : undefined
  ].filter((name): name is string => name !== undefined)
  if (given.length === 0) return
  throw new ConfigurationError(
    `${several} promotes several images, each on its own pull request, and ${given.map(name => `'${name}'`).join(', ')} ` +
      `belong${given.length === 1 ? 's' : ''} to one image: leave ${given.length === 1 ? 'it' : 'them'} empty (each ` +
      "image gets its own head branch promote/<environment>/<image>), or promote one image per step with 'image'"
  )
}

/** The image to promote named `name`, as listed from `from-paths` (parsed there already). */
export function chooseImage(inputs: ActionInputs, name: string): ImageChoice {
  const imageRef = parseImageRef(name)
  return {
    image: name,
    imageRef,
    headBranch: inputs.headBranchInput ?? defaultHeadBranch(inputs.environment, imageRef)
  }
}

/**
 * Refuses images whose default head branches are one (`ghcr.io/acme/api` and `docker.io/acme/api`, `acme/web-app` and
 * `acme-web/app`): each run would rewrite the other's pull request. Before any write.
 */
export function refuseSharedBranches(choices: readonly ImageChoice[], source: string): void {
  const seen = new Map<string, ImageChoice>()
  for (const choice of choices) {
    const first = seen.get(choice.headBranch)
    if (!first) {
      seen.set(choice.headBranch, choice)
      continue
    }
    throw new ConfigurationError(
      `${source} ${first.image} and ${choice.image}, which would share the head branch ${choice.headBranch} (one ` +
        "pull request rewriting the other's): promote only one of them here (name it in 'images'), and the other in " +
        "a step of its own with 'image' and a 'head-branch' of its own"
    )
  }
}

/** The inputs of one image's promotion. */
export function forImage(inputs: ActionInputs, choice: ImageChoice): PromotionInputs {
  const shared: Partial<ActionInputs> = { ...inputs }
  delete shared.images
  delete shared.headBranchInput
  return { ...(shared as Omit<ActionInputs, 'images' | 'headBranchInput'>), ...choice }
}

/** `promote/<environment>/<repository, slugged>`: one pull request per environment and image. */
function defaultHeadBranch(environment: string, imageRef: ImageRef): string {
  return `promote/${environment}/${slug(imageRef.repository)}`
}

function readAliases(read: InputReader<InputName>): string[] {
  const aliases = read.list('aliases')
  for (const alias of aliases) {
    const ref = parseImageRef(alias)
    if (ref.tag || ref.digest)
      throw new ConfigurationError(`input 'aliases': '${alias}' must be a name without tag or digest`)
  }
  return aliases
}

/** `30m`, `2h`, `1d`, `90s`, or combinations (`1h30m`); empty is 0. */
export function parseDuration(text: string): number {
  if (text === '') return 0
  const units: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }
  const parts = [...text.matchAll(/(\d+)([smhd])/g)]
  if (parts.length === 0 || parts.map(part => part[0]).join('') !== text) {
    throw new ConfigurationError(`input 'min-soak' must be a duration like 30m, 2h or 1h30m; got '${text}'`)
  }
  return parts.reduce((sum, part) => sum + Number(part[1]) * (units[part[2] as string] as number), 0)
}

/** A branch-name-safe slug of an image repository: `octo/web-app` → `octo-web-app`. */
export function slug(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^[-.]+|[-.]+$/g, '')
      .replace(/\.{2,}/g, '.') || 'image'
  )
}

/** The refname rules git-check-ref-format applies, for branch names given as inputs. */
function isBranchName(name: string): boolean {
  return (
    /^[^\s~^:?*[\\]+$/.test(name) &&
    ![...name].some(char => char.charCodeAt(0) < 0x20 || char.charCodeAt(0) === 0x7f) &&
    !name.startsWith('/') &&
    !name.endsWith('/') &&
    !name.endsWith('.') &&
    !name.endsWith('.lock') &&
    !name.includes('..') &&
    !name.includes('//') &&
    !name.includes('@{') &&
    !name.split('/').some(part => part.startsWith('.')) &&
    name !== '@' &&
    !name.startsWith('-')
  )
}
