/**
 * A small, fast, seedable PRNG (sfc32) for the fuzzer. Every input is generated from a fresh
 * state derived from (run seed, target, input index), so any input can be rebuilt from those
 * three numbers alone: the watchdog uses that to name the input a hung worker was running.
 */
export class Rng {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 1;

  constructor(seed = 1) {
    this.reseed(seed, 0);
  }

  /** Resets the state from two 32-bit numbers (splitmix-style mixing, then a short warm-up). */
  reseed(seed: number, index: number): this {
    this.a = mix(seed ^ 0x9e3779b9);
    this.b = mix(index ^ 0x85ebca6b);
    this.c = mix((seed + index) ^ 0xc2b2ae35);
    this.d = 1;
    for (let i = 0; i < 12; i++) this.u32();
    return this;
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 1 ? 0 : this.u32() % n;
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.u32() < p * 4294967296;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  /** A length biased towards small values (most bugs show on short inputs), up to `max`. */
  size(max: number): number {
    const r = this.int(4);
    if (r === 0) return this.int(Math.min(8, max) + 1);
    if (r === 3) return this.int(max + 1);
    return this.int(Math.min(64, max) + 1);
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }

  /** A string of `n` characters drawn from `alphabet`. */
  text(n: number, alphabet: string): string {
    let s = "";
    for (let i = 0; i < n; i++) s += alphabet[this.int(alphabet.length)];
    return s;
  }
}

/** Hashes a string to 32 bits (FNV-1a), to give every target its own stream of seeds. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function mix(x: number): number {
  let z = (x + 0x6d2b79f5) | 0;
  z = Math.imul(z ^ (z >>> 15), z | 1);
  z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
  return (z ^ (z >>> 14)) >>> 0;
}
