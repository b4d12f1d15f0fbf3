import { endpointWeight, numberField, readConfig, stringField } from "./config.js";
import { checkReady, createNonePicker, pickResults } from "./common.js";
import { createKeyHasher, type HashKeyConfig, MISSING_KEY_REASON } from "./hash-key.js";
import { xxhash32 } from "./hash.js";
import type { BalancerPolicy, BuildOptions, Picker, PickInfo, PickNone, PickResult, SubchannelInfo } from "./types.js";

/** Config of `maglev`. */
export interface MaglevConfig extends HashKeyConfig {
  /** Lookup table size, a prime larger than the endpoint count (ideally >= 100 x N); default 65537. */
  tableSize?: number;
  /** Metadata key holding the weight when `endpoint.weight` is absent; default `"weight"`. */
  weightKey?: string;
}

const MAX_TABLE = 16_777_259; // a prime just above 2^24; bounds build time and memory

/** @internal Whether `n` is prime (trial division; n <= MAX_TABLE). */
export function isPrime(n: number): boolean {
  if (n < 2 || !Number.isInteger(n)) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

/**
 * @internal Maglev's populate step (Eisenbud et al., NSDI'16, pseudocode 1) with weights: endpoint i
 * walks its permutation `offset_i + j * skip_i (mod M)`, offset and skip from two seeded hashes of
 * its address, and claims the next free slot each time its weight credit reaches 1. Runs in
 * O(M log M) expected; 1,000 endpoints into 65537 slots takes a few ms.
 */
export function buildMaglevTable(addresses: readonly string[], weights: readonly number[], size: number): Int32Array {
  const n = addresses.length;
  const table = new Int32Array(size).fill(-1);
  const pos = new Float64Array(n);
  const skip = new Float64Array(n);
  const share = new Float64Array(n);
  const credit = new Float64Array(n);
  let maxW = 0;
  for (const w of weights) if (w > maxW) maxW = w;
  for (let i = 0; i < n; i++) {
    pos[i] = xxhash32(addresses[i]!, 1) % size;
    skip[i] = (xxhash32(addresses[i]!, 2) % (size - 1)) + 1;
    share[i] = weights[i]! / maxW;
  }
  let filled = 0;
  for (;;) {
    for (let i = 0; i < n; i++) {
      credit[i]! += share[i]!;
      if (credit[i]! < 1) continue;
      credit[i]! -= 1;
      let p = pos[i]!;
      const s = skip[i]!;
      while (table[p] !== -1) {
        p += s;
        if (p >= size) p -= size;
      }
      table[p] = i;
      p += s;
      pos[i] = p >= size ? p - size : p;
      if (++filled === size) return table;
    }
  }
}

/**
 * `maglev`: Google's Maglev consistent hashing. A prime-sized lookup table (65537 slots by default)
 * is filled from per-endpoint permutations; a call goes to `table[hash(key) % M]`: O(1) picks,
 * near-perfect balance (each endpoint owns M/N +- 1 slots, times its weight) and ~1/N of keys move
 * when an endpoint joins or leaves. Key sources as in `ring_hash`.
 */
export const maglev: BalancerPolicy = {
  name: "maglev",
  build(ready: readonly SubchannelInfo[], config?: unknown, options?: BuildOptions): Picker {
    const P = "maglev";
    checkReady(P, ready);
    const c = readConfig(P, config, ["tableSize", "weightKey", "hashHeader", "hashKey", "onMissingKey"]);
    const size = numberField(P, c, "tableSize", 65537, 3, MAX_TABLE, true);
    if (!isPrime(size)) throw new TypeError(`${P}: tableSize must be a prime (e.g. 65537, 655373), got ${size}`);
    const weightKey = stringField(P, c, "weightKey") ?? "weight";
    const keyHash = createKeyHasher(P, c, options?.random ?? Math.random);
    if (ready.length === 0) return createNonePicker();
    let chosen: SubchannelInfo[] = [];
    let weights: number[] = [];
    for (const s of ready) {
      const w = endpointWeight(s.endpoint, weightKey);
      if (w > 0) {
        chosen.push(s);
        weights.push(w);
      }
    }
    if (chosen.length === 0) {
      chosen = ready.slice();
      weights = chosen.map(() => 1);
    }
    if (chosen.length >= size) throw new RangeError(`${P}: tableSize ${size} must exceed the endpoint count ${chosen.length}`);
    const table = buildMaglevTable(
      chosen.map((s) => s.endpoint.address),
      weights,
      size,
    );
    const results = pickResults(chosen);
    const missing: PickNone = Object.freeze({ t: "none", reason: MISSING_KEY_REASON });
    return {
      pick(info: PickInfo): PickResult {
        const h = keyHash(info);
        return h < 0 ? missing : results[table[h % size]!]!;
      },
    };
  },
};
