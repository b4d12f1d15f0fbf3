import { test } from "node:test";
import assert from "node:assert/strict";
import { getBalancer } from "./registry.js";
import { fakeClock, makeSubchannels, seededRandom } from "./test-helpers.js";
import type { SubchannelInfo } from "./types.js";

/**
 * Closed-loop simulation in virtual time: `clients` callers each keep one call in flight; a call
 * to endpoint i completes after `latency[i]` ms (with +-20% jitter). Returns calls per endpoint.
 */
function simulate(policy: string, latency: number[], calls: number, seed: number): number[] {
  const clock = fakeClock();
  const ready = makeSubchannels(latency.length, { clock, tauMs: 1000 });
  const random = seededRandom(seed);
  const picker = getBalancer(policy)!.build(ready, undefined, { random });
  const index = new Map(ready.map((s, i) => [s, i]));
  const count = new Array<number>(latency.length).fill(0);
  // Pending completions: [time, endpoint, started]; few enough for a sorted array.
  const pending: Array<{ at: number; s: SubchannelInfo; start: number }> = [];
  const start = () => {
    const r = picker.pick({ method: "/svc/Get" });
    assert.equal(r.t, "pick");
    const s = (r as { subchannel: SubchannelInfo }).subchannel;
    const i = index.get(s)!;
    count[i]!++;
    s.stats.onStart();
    const at = clock.now() + latency[i]! * (0.8 + 0.4 * random());
    let k = pending.length;
    pending.push({ at, s, start: clock.now() });
    while (k > 0 && pending[k - 1]!.at > at) {
      pending[k] = pending[k - 1]!;
      k--;
    }
    pending[k] = { at, s, start: clock.now() };
  };
  for (let c = 0; c < 8; c++) start();
  for (let done = 0; done < calls; done++) {
    const next = pending.shift()!;
    clock.set(next.at);
    next.s.stats.onDone({ ok: true, latencyMs: next.at - next.start });
    start();
  }
  return count;
}

test("p2c_peak_ewma sends >= 80% of calls to the healthy endpoints when one is 10x slower", () => {
  const latency = [10, 10, 10, 10, 100];
  for (const seed of [1, 2, 3]) {
    const c = simulate("p2c_peak_ewma", latency, 20_000, seed);
    const total = c.reduce((a, b) => a + b, 0);
    const healthy = total - c[4]!;
    assert.ok(healthy / total >= 0.8, `healthy share ${(healthy / total).toFixed(3)} (${c})`);
    // The slow endpoint is still probed now and then (decay), not starved forever.
    assert.ok(c[4]! > 0);
  }
});

test("p2c_peak_ewma beats round_robin on the same workload (the slow endpoint's share)", () => {
  const latency = [10, 10, 10, 10, 100];
  const ewma = simulate("p2c_peak_ewma", latency, 10_000, 9);
  const rr = simulate("round_robin", latency, 10_000, 9);
  assert.ok(ewma[4]! < rr[4]! / 2, `slow endpoint: ewma ${ewma[4]} vs round_robin ${rr[4]}`);
});

test("p2c_peak_ewma moves traffic back when the slow endpoint recovers", () => {
  const clock = fakeClock();
  const ready = makeSubchannels(2, { clock, tauMs: 100 });
  const picker = getBalancer("p2c_peak_ewma")!.build(ready, undefined, { random: seededRandom(1) });
  ready[0]!.stats.onDone({ ok: true, latencyMs: 10 });
  ready[1]!.stats.onDone({ ok: true, latencyMs: 1000 });
  const pickId = () => (picker.pick({ method: "/m" }) as { subchannel: SubchannelInfo }).subchannel.endpoint.id;
  assert.equal(pickId(), "e0");
  clock.advance(1000); // 10 tau without samples: the slow estimate has decayed below the fast one's
  ready[0]!.stats.onDone({ ok: true, latencyMs: 10 });
  assert.equal(pickId(), "e1", "the slow endpoint is probed again after its estimate decays");
});
