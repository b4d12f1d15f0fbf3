/**
 * A time-bucketed sliding window of counters, shared by the SRE throttle, the time-based breaker
 * window and the sliding-window rate limiter.
 *
 * `buckets` buckets of `bucketMs` each form a ring; each bucket holds `fields` counters. Totals
 * are kept incrementally (a bucket's counts are subtracted when it falls out of the window), so
 * reading a total is O(1) and advancing is O(buckets) at worst, with no allocation per call:
 * these run on every RPC.
 * @internal
 */
export class BucketCounters {
  private readonly counts: Float64Array;
  private readonly totals: Float64Array;
  /** Bucket epoch (`floor(now / bucketMs)`) of the newest bucket; -Infinity before the first use. */
  private head = Number.NEGATIVE_INFINITY;

  constructor(
    readonly buckets: number,
    readonly bucketMs: number,
    readonly fields: number,
  ) {
    if (!Number.isInteger(buckets) || buckets < 1) throw new RangeError(`buckets must be a positive integer, got ${buckets}`);
    if (!(bucketMs > 0) || !Number.isFinite(bucketMs)) throw new RangeError(`bucketMs must be a positive number, got ${bucketMs}`);
    this.counts = new Float64Array(buckets * fields);
    this.totals = new Float64Array(fields);
  }

  /** The window length in milliseconds. */
  get windowMs(): number {
    return this.buckets * this.bucketMs;
  }

  /** Adds `n` to counter `field` of the bucket holding `now`. */
  add(now: number, field: number, n = 1): void {
    const b = this.advance(now);
    this.counts[b * this.fields + field] += n;
    this.totals[field] += n;
  }

  /** The sum of counter `field` over the window ending at `now`. */
  total(now: number, field: number): number {
    this.advance(now);
    return this.totals[field];
  }

  /** Forgets everything. */
  clear(): void {
    this.counts.fill(0);
    this.totals.fill(0);
    this.head = Number.NEGATIVE_INFINITY;
  }

  /** Moves the window to `now`, clearing buckets that fell out; returns the current bucket index. */
  private advance(now: number): number {
    const epoch = Math.floor(now / this.bucketMs);
    // A clock that goes backwards (should not happen with a monotonic clock) is clamped to head.
    if (epoch > this.head) {
      const steps = this.head === Number.NEGATIVE_INFINITY ? this.buckets : Math.min(epoch - this.head, this.buckets);
      for (let i = 1; i <= steps; i++) {
        const b = mod(epoch - steps + i, this.buckets) * this.fields;
        for (let f = 0; f < this.fields; f++) {
          this.totals[f] -= this.counts[b + f];
          this.counts[b + f] = 0;
        }
      }
      this.head = epoch;
    }
    return mod(this.head, this.buckets);
  }
}

function mod(a: number, n: number): number {
  const r = a % n;
  return r < 0 ? r + n : r;
}
