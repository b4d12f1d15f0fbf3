import { type Clock, systemClock } from "./clock.js";

/**
 * A rate limiter: `tryAcquire()` takes one permit now or says how long until one is free.
 * It never awaits and never queues; callers decide whether to reject or wait.
 */
export interface RateLimiter {
  /** 0 when a permit was taken; otherwise the ms (> 0, rounded up) until one should be free. */
  tryAcquire(): number;
}

/** Options of {@link createTokenBucket}. */
export interface TokenBucketOptions {
  /** Tokens the bucket holds (the burst size). Must be >= 1. */
  capacity: number;
  /** Tokens added per second. Must be > 0. */
  refillPerSecond: number;
  /** Tokens at start. Default `capacity` (a fresh bucket admits a full burst). */
  initialTokens?: number;
  /** Time source. Default the system clock. */
  clock?: Pick<Clock, "now">;
}

/**
 * Token bucket: holds up to `capacity` tokens, refilled continuously at `refillPerSecond`; a call
 * takes one. Refill is computed from elapsed time on each call, so there is no timer.
 */
export function createTokenBucket(options: TokenBucketOptions): RateLimiter & { tokens(): number } {
  const { capacity, refillPerSecond } = options;
  if (typeof capacity !== "number" || !(capacity >= 1) || !Number.isFinite(capacity)) {
    throw new RangeError(`token bucket: capacity must be a finite number >= 1, got ${capacity}`);
  }
  if (typeof refillPerSecond !== "number" || !(refillPerSecond > 0) || !Number.isFinite(refillPerSecond)) {
    throw new RangeError(`token bucket: refillPerSecond must be a finite number > 0, got ${refillPerSecond}`);
  }
  const clock = options.clock ?? systemClock;
  let tokens = Math.min(capacity, Math.max(0, options.initialTokens ?? capacity));
  let last = clock.now();
  const refill = (): void => {
    const now = clock.now();
    if (now > last) tokens = Math.min(capacity, tokens + ((now - last) * refillPerSecond) / 1000);
    last = Math.max(last, now);
  };
  return {
    tryAcquire() {
      refill();
      if (tokens >= 1) {
        tokens -= 1;
        return 0;
      }
      return ceilMs(((1 - tokens) * 1000) / refillPerSecond);
    },
    tokens() {
      refill();
      return tokens;
    },
  };
}

/** Options of {@link createSlidingWindowLimiter}. */
export interface SlidingWindowOptions {
  /** Calls allowed per window. Must be a positive integer. */
  limit: number;
  /** Window length. Must be > 0. */
  windowMs: number;
  /** Time source. Default the system clock. */
  clock?: Pick<Clock, "now">;
}

/**
 * Sliding window with the counter approximation (as Cloudflare and nginx-style limiters do): two
 * fixed windows, and the estimate `previous * (1 - elapsed / windowMs) + current`, where `elapsed`
 * is the time since the current window started. O(1) memory per key, unlike a log of timestamps,
 * and without the double burst a fixed window allows at its edges. A call is admitted while the
 * estimate plus one stays within `limit`.
 */
export function createSlidingWindowLimiter(options: SlidingWindowOptions): RateLimiter & { estimate(): number } {
  const { limit, windowMs } = options;
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`sliding window: limit must be a positive integer, got ${limit}`);
  if (typeof windowMs !== "number" || !(windowMs > 0) || !Number.isFinite(windowMs)) {
    throw new RangeError(`sliding window: windowMs must be a positive number, got ${windowMs}`);
  }
  const clock = options.clock ?? systemClock;
  let start = Math.floor(clock.now() / windowMs) * windowMs;
  let prev = 0;
  let curr = 0;
  const roll = (now: number): void => {
    const w = Math.floor(now / windowMs) * windowMs;
    if (w <= start) return;
    prev = w - start === windowMs ? curr : 0;
    curr = 0;
    start = w;
  };
  const estimateAt = (now: number): number => prev * Math.max(0, 1 - (now - start) / windowMs) + curr;
  return {
    tryAcquire() {
      const now = clock.now();
      roll(now);
      if (estimateAt(now) + 1 <= limit) {
        curr++;
        return 0;
      }
      return ceilMs(waitMs(now - start));
    },
    estimate() {
      const now = clock.now();
      roll(now);
      return estimateAt(now);
    },
  };

  /** Time from now until `estimate + 1 <= limit`, if nobody else takes a permit meanwhile. */
  function waitMs(elapsed: number): number {
    if (curr + 1 <= limit) {
      // Within this window: wait for the previous window's weight to decay enough.
      // prev * (1 - (elapsed + t) / W) + curr + 1 <= limit
      return windowMs * (1 - (limit - curr - 1) / prev) - elapsed;
    }
    // Next window: `curr` becomes `prev`, decaying from the window's start.
    const intoNext = curr === 0 ? 0 : windowMs * (1 - (limit - 1) / curr);
    return windowMs - elapsed + Math.max(0, intoNext);
  }
}

/** Whole ms, at least 1; the epsilon keeps float noise (1.0000000000000009) from adding a ms. */
function ceilMs(ms: number): number {
  return Math.max(1, Math.ceil(ms - 1e-9));
}
