/** What the OCI `org.opencontainers.image.*` labels are made from. */
export interface LabelSource {
  /** `https://github.com/owner/repo`, when known. */
  sourceUrl?: string
  revision: string
  /** The source commit's time (ISO 8601), so one commit always builds the same labels. */
  created?: string
  version: string
}

/** Our OCI labels, then the user's: a user label with the same key wins. */
export function buildLabels(source: LabelSource, userLabels: Map<string, string>): Map<string, string> {
  const labels = new Map<string, string>()
  if (source.sourceUrl) labels.set('org.opencontainers.image.source', source.sourceUrl)
  labels.set('org.opencontainers.image.revision', source.revision)
  if (source.created) labels.set('org.opencontainers.image.created', source.created)
  labels.set('org.opencontainers.image.version', source.version)
  for (const [key, value] of userLabels) labels.set(key, value)
  return labels
}

/** `GITHUB_SERVER_URL/GITHUB_REPOSITORY`, or undefined outside a workflow. */
export function sourceUrl(env: NodeJS.ProcessEnv): string | undefined {
  const server = (env.GITHUB_SERVER_URL || 'https://github.com').replace(/\/+$/, '')
  return env.GITHUB_REPOSITORY ? `${server}/${env.GITHUB_REPOSITORY}` : undefined
}
