// @internal Helpers shared by this package's tests and the bench simulation (not exported).
import type { Endpoint } from "@petrel/discovery";
import { FakeClock } from "@petrel/testing";
import { EndpointStats, type EndpointStatsOptions } from "./endpoint-stats.js";
import type { SubchannelInfo } from "./types.js";

/** @internal mulberry32: a tiny seeded PRNG, uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** @internal `n` subchannels `10.0.x.y:8080` with fresh stats. */
export function makeSubchannels(n: number, options?: EndpointStatsOptions, extra?: (i: number) => Partial<Endpoint>): SubchannelInfo[] {
  const out: SubchannelInfo[] = [];
  for (let i = 0; i < n; i++) {
    const address = `10.0.${i >> 8}.${i & 255}:8080`;
    out.push({ endpoint: { id: `e${i}`, address, ...extra?.(i) }, stats: new EndpointStats(options) });
  }
  return out;
}

/**
 * @internal A settable clock for EndpointStats, which only reads `now`: `advance` and `set` move
 * time at once (no timers to fire, nothing to await).
 */
export function fakeClock(start = 0): { now(): number; advance(ms: number): void; set(t: number): void } {
  const clock = new FakeClock(start);
  return { now: () => clock.now(), advance: (ms) => clock.set(clock.now() + ms), set: (t) => clock.set(t) };
}
