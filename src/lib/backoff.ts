/**
 * The wait before retry `attempt` (1-based): exponential from `baseMs`, capped at `maxMs`, with "equal jitter" (half
 * fixed, half random) so that runs that collided once do not collide again in step.
 */
export function jitteredBackoff(attempt: number, baseMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** (attempt - 1))
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2)
}

/**
 * The wait before the next attempt: "full jitter" (uniform from zero) under a ceiling that doubles with each
 * rejection, from the length of the attempt that was refused (a slow server or a big repository makes a collision
 * window wider), capped at a minute. Runs that collided spread over a window as wide as the contention they met:
 * a low cap keeps many runs attempting at once, and each landing then spoils all the others' attempts.
 */
export class ContentionBackoff {
  private rejections = 0
  constructor(
    private readonly minMs = 100,
    private readonly maxMs = 60_000,
    private readonly random: () => number = Math.random
  ) {}

  next(attemptMs: number): number {
    this.rejections++
    const unit = Math.max(this.minMs, attemptMs)
    const ceiling = Math.min(this.maxMs, unit * 2 ** Math.min(this.rejections, 16))
    return Math.round(this.minMs / 2 + this.random() * ceiling)
  }
}
