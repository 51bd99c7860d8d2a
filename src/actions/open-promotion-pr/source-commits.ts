// The source commits between the running and the proposed image: OCI labels, then the compare API.
import * as core from '@actions/core'
import { parseRepoName } from '../../lib/github/index.js'
import type { SourceCommits } from './body.js'
import type { ImageVersion } from './state-block.js'
import type { Context } from './promotion.js'

/** The source commits between the two images: their OCI labels, then the compare API of the source repository. */
export async function sourceCommits(
  context: Context,
  from: ImageVersion | undefined,
  to: ImageVersion
): Promise<SourceCommits> {
  const unavailable = (reason: string): SourceCommits => ({ kind: 'unavailable', reason })
  if (!from)
    return unavailable('The image running before is not known: no single digest was pinned in paths.')
  if (!from.source || !to.source || !from.revision || !to.revision) {
    return unavailable(
      'The images do not both carry the org.opencontainers.image.source and .revision labels, so the source commits between them are not known.'
    )
  }
  const repository = githubRepository(to.source, context.serverUrl)
  if (!repository || githubRepository(from.source, context.serverUrl) !== repository) {
    return unavailable(
      `The source ${to.source} is not a repository on ${context.serverUrl}; its commits are not listed.`
    )
  }
  const revision = /^[0-9a-f]{7,40}$/
  if (!revision.test(from.revision) || !revision.test(to.revision)) {
    return unavailable('The revision labels are not commit hashes; the source commits are not listed.')
  }
  const sourceApi =
    context.inputs.sourceToken === context.inputs.token
      ? context.api
      : context.deps.github(context.inputs.sourceToken, context.deps.env.GITHUB_API_URL).pulls
  try {
    const comparison = await sourceApi.compare(parseRepoName(repository), from.revision, to.revision)
    return {
      kind: 'listed',
      repository,
      compareUrl: `${context.serverUrl}/${repository}/compare/${from.revision}...${to.revision}`,
      total: comparison.totalCommits,
      commits: comparison.commits
    }
  } catch (error) {
    core.warning(`Could not read the source commits of ${repository}: ${(error as Error).message}`)
    return unavailable(
      `The source repository ${repository} is not readable with the token given (source-token), so its commits are not listed.`
    )
  }
}

/** `owner/name` of a source label on this GitHub (`https://github.com/owner/name[.git]`), else undefined. */
function githubRepository(source: string, serverUrl: string): string | undefined {
  const prefix = `${serverUrl}/`
  if (!source.startsWith(prefix)) return undefined
  const match = /^([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+?)(?:\.git)?\/?$/.exec(source.slice(prefix.length))
  return match ? `${match[1]}/${match[2]}` : undefined
}
