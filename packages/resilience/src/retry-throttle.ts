/**
 * gRFC A6 retry throttling: one token bucket per target (server name), shared by the retries and
 * the hedges of every method to that target. Starts full at `maxTokens`; every failed attempt
 * (retryable / non-fatal code, or pushback saying "stop") takes 1 token, every success gives back
 * `tokenRatio`; retries and hedges are sent only while tokens > maxTokens / 2. The first attempt
 * of a call is never throttled.
 *
 * Tokens are kept in thousandths as integers: A6 allows three decimal places in `tokenRatio`, and
 * integer arithmetic keeps long runs free of float drift (0.1 * 10 !== 1 in floats).
 */

/** `retryThrottling` of a service config. */
export interface RetryThrottleOptions {
  /** Bucket size, in (0, 1000]. */
  maxTokens: number;
  /** Tokens returned per success, > 0; rounded to 3 decimal places. */
  tokenRatio: number;
  /** Called on every change of "retries allowed" (the only state that matters to callers). */
  onEvent?: (e: RetryThrottleEvent) => void;
}

/** Events of a {@link RetryThrottle}. */
export type RetryThrottleEvent = { type: "throttle-engaged"; tokens: number } | { type: "throttle-released"; tokens: number };

/** Throws a RangeError naming the bad field. */
export function validateRetryThrottleOptions(o: RetryThrottleOptions): void {
  if (!(Number.isFinite(o.maxTokens) && o.maxTokens > 0 && o.maxTokens <= 1000))
    throw new RangeError(`retryThrottling.maxTokens must be in (0, 1000], got ${o.maxTokens}`);
  if (!(Number.isFinite(o.tokenRatio) && o.tokenRatio > 0))
    throw new RangeError(`retryThrottling.tokenRatio must be a number > 0, got ${o.tokenRatio}`);
}

/** The token bucket of one target. */
export class RetryThrottle {
  private milli: number;
  private readonly maxMilli: number;
  private readonly ratioMilli: number;
  private allowed = true;

  constructor(private readonly options: RetryThrottleOptions) {
    validateRetryThrottleOptions(options);
    this.maxMilli = Math.round(options.maxTokens * 1000);
    this.ratioMilli = Math.round(options.tokenRatio * 1000);
    this.milli = this.maxMilli;
  }

  /** Current tokens (may be fractional). */
  get tokens(): number {
    return this.milli / 1000;
  }

  /** Whether a retry or hedge may be sent now: tokens > maxTokens / 2. */
  allowRetry(): boolean {
    return this.milli * 2 > this.maxMilli;
  }

  /** Records a failed attempt (retryable/non-fatal code or pushback "stop"). */
  onFailure(): void {
    this.milli = Math.max(0, this.milli - 1000);
    this.update();
  }

  /** Records a successful attempt. */
  onSuccess(): void {
    if (this.milli === this.maxMilli) return; // full: the common case, nothing changes
    this.milli = Math.min(this.maxMilli, this.milli + this.ratioMilli);
    this.update();
  }

  private update(): void {
    const now = this.allowRetry();
    if (now === this.allowed) return;
    this.allowed = now;
    this.options.onEvent?.({ type: now ? "throttle-released" : "throttle-engaged", tokens: this.tokens });
  }
}
