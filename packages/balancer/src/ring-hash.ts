import { endpointWeight, numberField, readConfig, stringField } from "./config.js";
import { checkReady, createNonePicker, pickResults } from "./common.js";
import { createKeyHasher, type HashKeyConfig, type KeyHasher, MISSING_KEY_REASON } from "./hash-key.js";
import { xxhash32 } from "./hash.js";
import type { LoadGroup } from "./endpoint-stats.js";
import type { BalancerPolicy, BuildOptions, Picker, PickNone, PickOk, PickResult, SubchannelInfo } from "./types.js";

/** Config of `ring_hash`. */
export interface RingHashConfig extends HashKeyConfig {
  /** Ring points (virtual nodes) per unit of weight; default 160 (ketama's). Fixed per endpoint, so a join or leave moves only that endpoint's keys. */
  vnodes?: number;
  /** Minimum ring points (all endpoints together); below it every endpoint's count is scaled up; default 1024. */
  minRingSize?: number;
  /** Cap on ring points; default 8_388_608 (8M, as Envoy). */
  maxRingSize?: number;
  /** Metadata key holding the weight when `endpoint.weight` is absent; default `"weight"`. */
  weightKey?: string;
  /**
   * Consistent hashing with bounded loads (Mirrokni et al.): no endpoint takes a call while it has
   * `ceil((1 + epsilon) * (total in-flight + 1) / N)` or more in flight; the pick walks clockwise
   * past such endpoints. Absent = plain consistent hashing. The total is read from the endpoints'
   * shared `LoadGroup` when they have one (O(1); it may include draining endpoints outside the
   * ready set, loosening the cap slightly), else summed per pick (O(N)).
   */
  boundedLoad?: { epsilon: number };
}

const MAX_ENDPOINTS = 1 << 20; // owner index packs into the low 20 bits of a sort key

class RingHashPicker implements Picker {
  constructor(
    readonly ready: readonly SubchannelInfo[],
    readonly results: PickOk[],
    readonly hashes: Uint32Array,
    readonly owners: Int32Array,
    readonly keyHash: KeyHasher,
    readonly epsilon: number, // < 0: unbounded
    readonly missing: PickNone,
    readonly group: LoadGroup | undefined,
  ) {}

  pick(info: Parameters<Picker["pick"]>[0]): PickResult {
    const h = this.keyHash(info);
    if (h < 0) return this.missing;
    const hashes = this.hashes;
    // First point clockwise from h (lower bound), wrapping to 0.
    let lo = 0;
    let hi = hashes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (hashes[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    if (lo === hashes.length) lo = 0;
    if (this.epsilon < 0) return this.results[this.owners[lo]!]!;
    return this.results[this.#bounded(lo)]!;
  }

  #bounded(start: number): number {
    const ready = this.ready;
    const n = ready.length;
    // Stats are updated by the channel, not through the picker: read the shared running total
    // when all endpoints count into one LoadGroup, else sum N counters.
    let total = 0;
    if (this.group !== undefined) total = this.group.inflight;
    else for (let i = 0; i < n; i++) total += ready[i]!.stats.inflight;
    const cap = Math.ceil(((1 + this.epsilon) * (total + 1)) / n);
    const owners = this.owners;
    const len = owners.length;
    for (let k = 0, p = start; k < len; k++) {
      const o = owners[p]!;
      if (ready[o]!.stats.inflight < cap) return o;
      p = p + 1 === len ? 0 : p + 1;
    }
    // Unreachable when every endpoint owns a point (sum of in-flight < N * cap); kept as a safe fallback.
    return owners[start]!;
  }
}

/**
 * `ring_hash`: ketama-style consistent hashing. Each endpoint owns points `xxhash32("address#i")`
 * on a 32-bit ring, their number proportional to its weight; a call goes to the first point
 * clockwise from the hash of its key (`PickInfo.hashKey`, the `hashKey` function, or the
 * `hashHeader` header). A join or leave moves ~1/N of keys. Optional bounded loads.
 */
export const ringHash: BalancerPolicy = {
  name: "ring_hash",
  build(ready: readonly SubchannelInfo[], config?: unknown, options?: BuildOptions): Picker {
    const P = "ring_hash";
    checkReady(P, ready);
    const c = readConfig(P, config, [
      "vnodes",
      "minRingSize",
      "maxRingSize",
      "weightKey",
      "boundedLoad",
      "hashHeader",
      "hashKey",
      "onMissingKey",
    ]);
    const vnodes = numberField(P, c, "vnodes", 160, 1, 65536, true);
    const minRing = numberField(P, c, "minRingSize", 1024, 1, 8_388_608, true);
    const maxRing = numberField(P, c, "maxRingSize", 8_388_608, 1, 8_388_608, true);
    if (minRing > maxRing) throw new TypeError(`${P}: minRingSize (${minRing}) exceeds maxRingSize (${maxRing})`);
    const weightKey = stringField(P, c, "weightKey") ?? "weight";
    let epsilon = -1;
    if (c.boundedLoad !== undefined) {
      const b = readConfig(`${P}.boundedLoad`, c.boundedLoad, ["epsilon"]);
      if (b.epsilon === undefined) throw new TypeError(`${P}: boundedLoad.epsilon is required`);
      epsilon = numberField(`${P}.boundedLoad`, b, "epsilon", 0, 0, 1000);
    }
    const random = options?.random ?? Math.random;
    const keyHash = createKeyHasher(P, c, random);
    if (ready.length === 0) return createNonePicker();
    if (ready.length > MAX_ENDPOINTS) throw new RangeError(`${P}: at most ${MAX_ENDPOINTS} endpoints, got ${ready.length}`);
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
    const { hashes, owners } = buildRing(chosen, weights, vnodes, minRing, maxRing);
    const missing: PickNone = Object.freeze({ t: "none", reason: MISSING_KEY_REASON });
    const group = chosen[0]!.stats.group;
    const shared = group !== undefined && chosen.every((s) => s.stats.group === group) ? group : undefined;
    return new RingHashPicker(chosen, pickResults(chosen), hashes, owners, keyHash, epsilon, missing, shared);
  },
};

/**
 * @internal Ketama-style ring: endpoint i gets `round(vnodes x weight_i)` points (at least 1),
 * all scaled by one factor only when the total falls outside [minRing, maxRing] (gRPC scales
 * by the smallest weight instead, which reshuffles every endpoint's points on any membership
 * change). Points are sorted by hash, ties by owner index.
 */
export function buildRing(
  ready: readonly SubchannelInfo[],
  weights: readonly number[],
  vnodes: number,
  minRing: number,
  maxRing: number,
): { hashes: Uint32Array; owners: Int32Array } {
  let sum = 0;
  for (const w of weights) sum += w;
  let per = vnodes;
  if (per * sum < minRing) per = minRing / sum;
  else if (per * sum > maxRing) per = maxRing / sum;
  const counts = weights.map((w) => Math.max(1, Math.round(per * w)));
  let size = 0;
  for (const n of counts) size += n;
  // Sort keys pack hash (32 bits) above owner index (20 bits): exact in a double, sorted numerically.
  const keys = new Float64Array(size);
  let n = 0;
  for (let i = 0; i < ready.length; i++) {
    const address = ready[i]!.endpoint.address;
    for (let v = 0; v < counts[i]!; v++) keys[n++] = xxhash32(`${address}#${v}`) * MAX_ENDPOINTS + i;
  }
  keys.sort();
  const hashes = new Uint32Array(n);
  const owners = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const key = keys[k]!;
    const owner = key % MAX_ENDPOINTS;
    owners[k] = owner;
    hashes[k] = (key - owner) / MAX_ENDPOINTS;
  }
  return { hashes, owners };
}
