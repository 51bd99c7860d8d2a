// What one run of open-promotion-pr works with and ends with, shared by its parts.
import type { GitHubApi, PullRequestApi, RepoName } from '../../lib/github/index.js'
import type { PromotionInputs } from './inputs.js'
import type { Collaborators } from './main.js'

export type Operation = 'created' | 'updated' | 'unchanged' | 'closed' | 'skipped'

export interface Result {
  operation: Operation
  pull?: { number: number; url: string }
  headSha: string
  verified: boolean
  from?: string
  to: string
  files: string[]
  autoMerge: boolean
}

export interface Context {
  deps: Collaborators
  inputs: PromotionInputs
  repo: RepoName
  api: PullRequestApi
  /** Branches and commits through the API: commits of `commit-via: api`, branch updates under a lease. */
  commitApi: GitHubApi
  base: string
  serverUrl: string
}
