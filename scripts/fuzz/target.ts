/**
 * What a fuzz target is, plus the input machinery every target shares: byte-level mutations of
 * valid seeds, the generic input mix (random bytes / mutated seeds / structure-aware inputs) and
 * chunkings for incremental parsers.
 */
import type { Rng } from "./rng.js";

/** One parser under fuzzing. Inputs are always bytes, so a failing one can be saved as hex and replayed. */
export interface FuzzTarget {
  readonly name: string;
  /** One line: what is fuzzed and what must hold. */
  readonly description: string;
  /**
   * Called once per run before any input: builds the seed corpus and any fixtures. Must be
   * deterministic for a given `rng` state (the watchdog rebuilds inputs in another thread).
   */
  setup?(rng: Rng): void | Promise<void>;
  /** Builds one input. Deterministic for a given `rng` state. */
  generate(rng: Rng): Uint8Array;
  /**
   * Feeds one input to the parser. Must throw {@link InvariantError} when an assertion fails;
   * anything else it throws is a crash unless {@link expected} accepts it.
   */
  run(input: Uint8Array): void | Promise<void>;
  /** Whether an error is the parser's documented way of rejecting input. */
  expected(error: unknown): boolean;
}

/** A broken invariant: always a failure, never an "expected" rejection. */
export class InvariantError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvariantError";
  }
}

/** Throws {@link InvariantError} unless `ok`. */
export function check(ok: boolean, message: string | (() => string)): asserts ok {
  if (!ok) throw new InvariantError(typeof message === "string" ? message : message());
}

/** Values that sit on boundaries of length fields and limits. */
const INTERESTING_32 = [
  0, 1, 2, 4, 5, 7, 8, 10, 16, 127, 128, 255, 256, 16_383, 16_384, 16_385, 65_535, 65_536, 65_537, 0x7fff_ffff, 0x8000_0000, 0xffff_fffe,
  0xffff_ffff,
];
const INTERESTING_8 = [0, 1, 2, 0x7f, 0x80, 0xfe, 0xff, 0x20, 0x25, 0x2c, 0x2f, 0x3a, 0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d];

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Applies 1..4 random byte-level mutations: bit flips, interesting bytes, truncation, inserted
 * and deleted ranges, duplicated ranges, splices with another seed, and length-field corruption
 * (an interesting 8/16/32-bit big-endian value written at a random offset).
 */
export function mutate(rng: Rng, input: Uint8Array, corpus: readonly Uint8Array[]): Uint8Array {
  let b: Uint8Array = input.slice();
  const n = 1 + rng.int(4);
  for (let k = 0; k < n; k++) {
    const len = b.length;
    const at = rng.int(len + 1);
    switch (rng.int(9)) {
      case 0:
        if (len > 0) b[at % len] = (b[at % len] as number) ^ (1 << rng.int(8));
        break;
      case 1:
        if (len > 0) b[at % len] = rng.chance(0.5) ? rng.pick(INTERESTING_8) : rng.u32() & 0xff;
        break;
      case 2:
        b = b.slice(0, at);
        break;
      case 3:
        b = concat([b.subarray(0, at), rng.bytes(1 + rng.int(8)), b.subarray(at)]);
        break;
      case 4:
        b = concat([b.subarray(0, at), b.subarray(at + 1 + rng.int(8))]);
        break;
      case 5: {
        const from = rng.int(len + 1);
        const piece = b.subarray(from, from + 1 + rng.int(32));
        b = concat([b.subarray(0, at), piece, b.subarray(at)]);
        break;
      }
      case 6: {
        const other = corpus.length > 0 ? rng.pick(corpus) : b;
        b = concat([b.subarray(0, at), other.subarray(rng.int(other.length + 1))]);
        break;
      }
      default: {
        // Length-field corruption: most binary framings carry big-endian u8/u16/u32 lengths.
        const width = rng.pick([1, 2, 4, 4]);
        if (len < width) break;
        const off = rng.int(len - width + 1);
        let v = rng.chance(0.7) ? rng.pick(INTERESTING_32) : rng.u32();
        if (rng.chance(0.3)) v = (len - off + rng.range(-2, 2)) >>> 0;
        for (let i = width - 1; i >= 0; i--) {
          b[off + i] = v & 0xff;
          v >>>= 8;
        }
      }
    }
  }
  return b;
}

/** A generator for {@link FuzzTarget.generate} mixing the three input sources. */
export interface Mix {
  /** Valid inputs to mutate; filled by the target's setup. */
  corpus: Uint8Array[];
  /** Builds a structure-aware (usually valid) input. */
  structured: (rng: Rng) => Uint8Array;
  /** Longest random input (default 256). */
  maxRandom?: number;
}

/** ~10% random bytes, ~30% fresh structure-aware inputs, ~60% mutated corpus or structured inputs. */
export function generateMixed(rng: Rng, mix: Mix): Uint8Array {
  const r = rng.int(10);
  if (r === 0) return rng.bytes(rng.size(mix.maxRandom ?? 256));
  if (r <= 3) return mix.structured(rng);
  const base = r <= 6 && mix.corpus.length > 0 ? rng.pick(mix.corpus) : mix.structured(rng);
  return mutate(rng, base, mix.corpus);
}

/** Fills a corpus with `n` structure-aware inputs. */
export function buildCorpus(rng: Rng, n: number, structured: (rng: Rng) => Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) out.push(structured(rng));
  return out;
}

/**
 * Cuts `bytes` into chunks as a socket might deliver them, driven by `plan` (a byte the input
 * itself carries, so the chunking is part of the saved input): whole, byte by byte, or random
 * sizes from a small generator seeded by the plan.
 */
export function forEachChunk(bytes: Uint8Array, plan: number, fn: (chunk: Uint8Array) => void): void {
  const mode = plan & 3;
  if (mode === 0 || bytes.length === 0) {
    fn(bytes);
    return;
  }
  if (mode === 1) {
    for (let i = 0; i < bytes.length; i++) fn(bytes.subarray(i, i + 1));
    return;
  }
  // A tiny LCG: the chunk sizes only need to vary, not to be random in any strong sense.
  let s = (plan * 2654435761) >>> 0;
  const max = mode === 2 ? 7 : 63;
  for (let off = 0; off < bytes.length; ) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const n = 1 + ((s >>> 16) % max);
    fn(bytes.subarray(off, off + n));
    off += n;
  }
}

/** Prepends a control byte (options and chunking plan) to a body. */
export function withControl(control: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + 1);
  out[0] = control & 0xff;
  out.set(body, 1);
  return out;
}

/** Bytes as a latin1 string: how Node hands over HTTP header values. */
export function latin1(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");
}

export const utf8Lossy = new TextDecoder("utf-8");
export const utf8Encoder = new TextEncoder();
