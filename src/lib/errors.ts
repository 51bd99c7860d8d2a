/** A mistake in how the action was called: the message says what is wrong and how to fix it. */
export class ConfigurationError extends Error {
  override name = 'ConfigurationError'
}

/** A failure of something outside the action (registry, builder, git): not the caller's mistake, not a bug. */
export class ExternalError extends Error {
  override name = 'ExternalError'
}

/** The message to show for any thrown value, including non-Error throws. */
export function errorMessage(thrown: unknown): string {
  if (thrown instanceof Error) return thrown.message
  if (typeof thrown === 'string') return thrown
  try {
    return `non-Error thrown: ${JSON.stringify(thrown)}`
  } catch {
    return `non-Error thrown: ${String(thrown)}`
  }
}
