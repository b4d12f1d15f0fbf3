// HDR-like log-linear histogram over integer nanoseconds.
// Values < 64 ns are exact; above that each power of two is split into 64
// linear sub-buckets (relative error <= 1/64 ~ 1.6%). Range 0 .. 2^32 ns (~4.3 s);
// larger values are clamped into the top bucket. record() is a few integer ops.

const SUB_BITS = 6;
const SUB = 1 << SUB_BITS; // 64
const BUCKETS = (32 - SUB_BITS + 1) * SUB; // 1728

export class Histogram {
  readonly counts = new Float64Array(BUCKETS);
  count = 0;
  max = 0;

  /** Record one value in nanoseconds. */
  record(ns: number): void {
    let v = ns > 0 ? Math.round(ns) : 0;
    if (v > 0xffffffff) v = 0xffffffff;
    if (v > this.max) this.max = v;
    this.count++;
    this.counts[indexOf(v)]++;
  }

  /** Value (ns) at quantile q in [0, 1]; bucket midpoint, 0 when empty. */
  quantileNs(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(midpointOf(i), this.max);
    }
    return this.max;
  }

  /** Convenience: quantile in microseconds, rounded to 0.1 µs. */
  quantileUs(q: number): number {
    return Math.round(this.quantileNs(q) / 100) / 10;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.max = 0;
  }
}

function indexOf(v: number): number {
  if (v < SUB) return v;
  const e = 31 - Math.clz32(v); // >= SUB_BITS
  const sub = (v >>> (e - SUB_BITS)) & (SUB - 1);
  return (e - SUB_BITS + 1) * SUB + sub;
}

function midpointOf(i: number): number {
  if (i < SUB) return i;
  const e = Math.floor(i / SUB) - 1 + SUB_BITS;
  const sub = i % SUB;
  const width = 2 ** (e - SUB_BITS);
  return (SUB + sub) * width + width / 2;
}
