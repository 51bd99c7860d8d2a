import { ConfigurationError } from '../../lib/errors.js'
import { shortDigest } from '../../lib/image-ref.js'

export interface MessageContext {
  image: string
  digest: string
  tag?: string
  paths: string[]
  sourceCommit?: string
  sourceRepository?: string
  workflowRun?: string
}

/** Placeholders a `commit-message` template may use. */
export const PLACEHOLDERS = [
  'image',
  'digest',
  'short-digest',
  'tag',
  'reference',
  'paths',
  'source-commit',
  'source-repository'
] as const

/** The commit message: the template with its placeholders filled, then the trailers that trace the change. */
export function commitMessage(template: string, context: MessageContext): string {
  const values: Record<(typeof PLACEHOLDERS)[number], string> = {
    image: context.image,
    digest: context.digest,
    'short-digest': shortDigest(context.digest),
    tag: context.tag ?? '',
    reference: context.tag ? `${context.tag}@${shortDigest(context.digest)}` : shortDigest(context.digest),
    paths: context.paths.join(', '),
    'source-commit': context.sourceCommit ?? '',
    'source-repository': context.sourceRepository ?? ''
  }
  const body = template.replace(/\{([a-z-]+)\}/g, (whole, name: string) => {
    if (!(name in values)) {
      throw new ConfigurationError(
        `input 'commit-message': unknown placeholder ${whole}; use ${PLACEHOLDERS.map(p => `{${p}}`).join(', ')}`
      )
    }
    return values[name as keyof typeof values]
  })
  const trailers: Array<[string, string | undefined]> = [
    ['Image', `${context.image}@${context.digest}`],
    ['Source-Commit', context.sourceCommit],
    ['Source-Repository', context.sourceRepository],
    ['Workflow-Run', context.workflowRun]
  ]
  const lines = trailers.filter(([, value]) => value).map(([key, value]) => `${key}: ${value}`)
  return `${body.trimEnd()}\n\n${lines.join('\n')}\n`
}

/** Where the change came from, from the workflow's environment. */
export function sourceContext(
  env: NodeJS.ProcessEnv
): Pick<MessageContext, 'sourceCommit' | 'sourceRepository' | 'workflowRun'> {
  const server = (env.GITHUB_SERVER_URL || 'https://github.com').replace(/\/+$/, '')
  const repo = env.GITHUB_REPOSITORY
  const attempt =
    env.GITHUB_RUN_ATTEMPT && env.GITHUB_RUN_ATTEMPT !== '1' ? `/attempts/${env.GITHUB_RUN_ATTEMPT}` : ''
  return {
    sourceCommit: env.GITHUB_SHA || undefined,
    sourceRepository: repo ? `${server}/${repo}` : undefined,
    workflowRun:
      repo && env.GITHUB_RUN_ID ? `${server}/${repo}/actions/runs/${env.GITHUB_RUN_ID}${attempt}` : undefined
  }
}
