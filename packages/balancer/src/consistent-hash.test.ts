import { test } from "node:test";
import assert from "node:assert/strict";
import { Metadata } from "@petrel/core";
import { LoadGroup } from "./endpoint-stats.js";
import { buildMaglevTable, isPrime } from "./maglev.js";
import { getBalancer } from "./registry.js";
import { makeSubchannels, seededRandom } from "./test-helpers.js";
import type { Picker, PickResult, SubchannelInfo } from "./types.js";

const KEYS = 100_000;

function owner(r: PickResult): string {
  assert.equal(r.t, "pick");
  return (r as { subchannel: SubchannelInfo }).subchannel.endpoint.id;
}

function assign(picker: Picker): string[] {
  const out: string[] = [];
  for (let k = 0; k < KEYS; k++) out.push(owner(picker.pick({ method: "/m", hashKey: `user-${k}` })));
  return out;
}

function moved(a: string[], b: string[]): number {
  let m = 0;
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) m++;
  return m / a.length;
}

const configs: Array<[string, unknown]> = [
  ["ring_hash", undefined],
  ["maglev", undefined],
];

for (const [name, config] of configs) {
  test(`${name} moves about 1/N of keys when a node leaves or joins (within 20% of ideal)`, () => {
    const all = makeSubchannels(11);
    const policy = getBalancer(name)!;
    const ten = assign(policy.build(all.slice(0, 10), config));
    const eleven = assign(policy.build(all, config));
    const nine = assign(policy.build([...all.slice(0, 3), ...all.slice(4, 10)], config));
    const join = moved(ten, eleven);
    assert.ok(Math.abs(join / (1 / 11) - 1) <= 0.2, `join moved ${join.toFixed(4)}, ideal ${(1 / 11).toFixed(4)}`);
    const leave = moved(ten, nine);
    assert.ok(Math.abs(leave / (1 / 10) - 1) <= 0.2, `leave moved ${leave.toFixed(4)}, ideal 0.1`);
    // Keys of surviving nodes mostly stay put; on a ring exactly (only e3's keys move).
    let stray = 0;
    for (let k = 0; k < KEYS; k++) if (ten[k] !== "e3" && ten[k] !== nine[k]) stray++;
    if (name === "ring_hash") assert.equal(stray, 0);
    else assert.ok(stray / KEYS < 0.02, `maglev disrupted ${stray} keys of surviving nodes`);
    // Deterministic: a second build (another process) maps every key the same way.
    assert.deepEqual(assign(policy.build(all.slice(0, 10), config)), ten);
    // Balance: each node owns roughly 1/N of keys.
    const per = new Map<string, number>();
    for (const o of ten) per.set(o, (per.get(o) ?? 0) + 1);
    for (const [id, c] of per) assert.ok(Math.abs(c / (KEYS / 10) - 1) < 0.25, `${id} owns ${c}`);
  });

  test(`${name} takes the key from a configured header, binary values too, and can fail without one`, () => {
    const ready = makeSubchannels(8);
    const p = getBalancer(name)!.build(ready, { hashHeader: "X-User-Id", onMissingKey: "fail" });
    const h = new Metadata().set("x-user-id", "alice");
    assert.equal(owner(p.pick({ method: "/a", headers: h })), owner(p.pick({ method: "/b", hashKey: "alice" })));
    const bin = new Metadata().set("x-user-id-bin", new Uint8Array([1, 2]));
    const pb = getBalancer(name)!.build(ready, { hashHeader: "x-user-id-bin" });
    assert.equal(owner(pb.pick({ method: "/a", headers: bin })), owner(pb.pick({ method: "/b", headers: bin })));
    const none = p.pick({ method: "/a" });
    assert.equal(none.t, "none");
    assert.match((none as { reason: string }).reason, /no hash key/);
    const fn = getBalancer(name)!.build(ready, { hashKey: (i: { method: string }) => i.method.split("/")[1] });
    assert.equal(owner(fn.pick({ method: "/tenant-7/x" })), owner(p.pick({ method: "/z", hashKey: "tenant-7" })));
    // Without a key (default onMissingKey: random) calls spread over several endpoints.
    const spread = getBalancer(name)!.build(ready, undefined, { random: seededRandom(1) });
    const seen = new Set<string>();
    for (let k = 0; k < 100; k++) seen.add(owner(spread.pick({ method: "/a" })));
    assert.ok(seen.size >= 6);
  });
}

test("ring_hash with bounded loads: max in-flight <= ceil((1+eps) x average)", () => {
  for (const [n, eps, calls] of [
    [10, 0.25, 10_000],
    [50, 0.1, 5_000],
    [7, 0, 700],
  ] as const) {
    // Half the runs count through a shared LoadGroup (O(1) total), half sum per pick.
    const group = n % 2 === 0 ? new LoadGroup() : undefined;
    const ready = makeSubchannels(n, { group });
    const picker = getBalancer("ring_hash")!.build(ready, { boundedLoad: { epsilon: eps } });
    // Skewed keys: 80% of calls share 3 hot keys, which plain consistent hashing would pile onto 3 nodes.
    const rnd = seededRandom(n);
    for (let k = 0; k < calls; k++) {
      const key = rnd() < 0.8 ? `hot-${k % 3}` : `cold-${k}`;
      const r = picker.pick({ method: "/m", hashKey: key });
      assert.equal(r.t, "pick");
      (r as { subchannel: SubchannelInfo }).subchannel.stats.onStart();
    }
    const loads = ready.map((s) => s.stats.inflight);
    const max = Math.max(...loads);
    assert.ok(max <= Math.ceil(((1 + eps) * calls) / n), `n=${n} eps=${eps}: max ${max}, loads ${loads}`);
    assert.equal(
      loads.reduce((a, b) => a + b, 0),
      calls,
    );
    if (group !== undefined) assert.equal(group.inflight, calls);
  }
});

test("ring_hash with bounded loads keeps affinity while under capacity", () => {
  const ready = makeSubchannels(10);
  const bounded = getBalancer("ring_hash")!.build(ready, { boundedLoad: { epsilon: 0.25 } });
  const plain = getBalancer("ring_hash")!.build(ready);
  for (let k = 0; k < 1000; k++)
    assert.equal(owner(bounded.pick({ method: "/m", hashKey: k })), owner(plain.pick({ method: "/m", hashKey: k })));
});

test("ring_hash and maglev honour weights", () => {
  const ready = makeSubchannels(3, undefined, (i) => ({ weight: i + 1 }));
  for (const [name, config] of [
    ["ring_hash", { vnodes: 20_000 }],
    ["maglev", undefined],
  ] as const) {
    const a = assign(getBalancer(name)!.build(ready, config));
    const c = [0, 0, 0];
    for (const o of a) c[Number(o.slice(1))]!++;
    for (let i = 0; i < 3; i++) assert.ok(Math.abs(c[i]! / KEYS - (i + 1) / 6) < 0.02, `${name}: ${c}`);
  }
});

test("maglev table: every slot filled, each backend owns M/N +- 1 slots, 1000 backends build", () => {
  assert.ok(isPrime(65537) && !isPrime(65535) && !isPrime(1) && isPrime(2));
  const addresses = Array.from({ length: 1000 }, (_, i) => `10.1.${i >> 8}.${i & 255}:443`);
  const table = buildMaglevTable(addresses, new Array(1000).fill(1), 65537);
  const c = new Array<number>(1000).fill(0);
  for (const o of table) c[o]!++;
  assert.equal(
    c.reduce((a, b) => a + b, 0),
    65537,
  );
  assert.ok(Math.min(...c) >= 65 && Math.max(...c) <= 66, `slots per backend ${Math.min(...c)}..${Math.max(...c)}`);
});
