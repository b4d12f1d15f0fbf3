/**
 * Exponential backoff with full jitter, as gRFC A6 defines it: retry n (1-based) waits
 * `random(0, min(initialBackoff * backoffMultiplier^(n-1), maxBackoff))`.
 * Full jitter spreads synchronized clients over the whole window (see the AWS architecture
 * blog "Exponential Backoff And Jitter"), which is why the lower bound is 0 rather than half.
 */

/** Backoff parameters (milliseconds). */
export interface BackoffOptions {
  /** Ceiling of the first retry's delay, ms; > 0. */
  initialBackoffMs: number;
  /** Largest ceiling, ms; >= initialBackoffMs. */
  maxBackoffMs: number;
  /** Growth factor of the ceiling per retry; > 0 (A6 allows < 1, which shrinks the ceiling). */
  backoffMultiplier: number;
  /** Uniform random in [0, 1). Default `Math.random`; tests inject a fixed value. */
  random?: () => number;
}

/** Throws a RangeError naming the bad field; used by every policy that embeds backoff. */
export function validateBackoffOptions(o: BackoffOptions): void {
  if (!(Number.isFinite(o.initialBackoffMs) && o.initialBackoffMs > 0))
    throw new RangeError(`initialBackoffMs must be a finite number > 0, got ${o.initialBackoffMs}`);
  if (!(Number.isFinite(o.maxBackoffMs) && o.maxBackoffMs > 0))
    throw new RangeError(`maxBackoffMs must be a finite number > 0, got ${o.maxBackoffMs}`);
  if (!(Number.isFinite(o.backoffMultiplier) && o.backoffMultiplier > 0))
    throw new RangeError(`backoffMultiplier must be a finite number > 0, got ${o.backoffMultiplier}`);
}

/** The ceiling of retry `n` (1-based), before jitter. */
export function backoffCeiling(o: BackoffOptions, n: number): number {
  return Math.min(o.initialBackoffMs * o.backoffMultiplier ** Math.max(0, n - 1), o.maxBackoffMs);
}

/**
 * A per-call backoff sequence. `next()` returns the delay before the next retry; `reset()` starts
 * again at the initial ceiling — A6 resets after a server pushback delay.
 */
export class ExponentialBackoff {
  private n = 0;
  private readonly random: () => number;

  constructor(private readonly options: BackoffOptions) {
    validateBackoffOptions(options);
    this.random = options.random ?? Math.random;
  }

  /** The delay before the next retry, in [0, ceiling). */
  next(): number {
    this.n++;
    const r = this.random();
    // A misbehaving injected random must not produce a negative or unbounded wait.
    const u = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0;
    return u * backoffCeiling(this.options, this.n);
  }

  /** Starts again at the initial ceiling. */
  reset(): void {
    this.n = 0;
  }
}
