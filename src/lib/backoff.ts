/**
 * The wait before retry `attempt` (1-based): exponential from `baseMs`, capped at `maxMs`, with "equal jitter" (half
 * fixed, half random) so that runs that collided once do not collide again in step.
 */
export function jitteredBackoff(attempt: number, baseMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** (attempt - 1))
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2)
}
