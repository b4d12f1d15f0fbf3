import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { builtinBalancers, getBalancer, listBalancers, registerBalancer } from "./registry.js";
import { NO_READY_REASON } from "./common.js";
import { makeSubchannels, seededRandom } from "./test-helpers.js";
import type { Picker, PickResult, SubchannelInfo } from "./types.js";

const NAMES = ["least_request", "maglev", "p2c_peak_ewma", "pick_first", "random", "ring_hash", "round_robin", "weighted_round_robin"];

function picked(r: PickResult): SubchannelInfo {
  assert.equal(r.t, "pick", r.t === "none" ? r.reason : "");
  return (r as { subchannel: SubchannelInfo }).subchannel;
}

function counts(picker: Picker, picks: number, ready: readonly SubchannelInfo[]): number[] {
  const idx = new Map(ready.map((s, i) => [s, i]));
  const out = new Array<number>(ready.length).fill(0);
  for (let k = 0; k < picks; k++) out[idx.get(picked(picker.pick({ method: "/s/M", hashKey: k })))!]!++;
  return out;
}

test("every built-in is registered; custom policies can be added and replace", () => {
  for (const n of NAMES) assert.equal(getBalancer(n)?.name, n);
  assert.deepEqual(
    listBalancers().filter((n) => NAMES.includes(n)),
    NAMES,
  );
  const mine = {
    name: "always_last",
    build: (ready: readonly SubchannelInfo[]) => ({ pick: () => ({ t: "pick" as const, subchannel: ready.at(-1)! }) }),
  };
  registerBalancer(mine);
  const ready = makeSubchannels(3);
  assert.equal(picked(getBalancer("always_last")!.build(ready).pick({ method: "/s/M" })), ready[2]);
  assert.equal(getBalancer("nope"), undefined);
  assert.throws(() => registerBalancer({ name: "Bad Name", build: mine.build }), /policy name must match/);
  assert.throws(() => registerBalancer({} as never), /must be an object with a name and a build/);
});

test("an empty ready list gives none with a reason, for every policy", () => {
  for (const p of builtinBalancers) {
    const r = p.build([]).pick({ method: "/s/M", hashKey: "k" });
    assert.deepEqual(r, { t: "none", reason: NO_READY_REASON }, p.name);
  }
});

test("bad configs and inputs fail with errors naming the field", () => {
  const ready = makeSubchannels(3);
  assert.throws(() => getBalancer("round_robin")!.build(ready, { foo: 1 }), /round_robin: unknown config field "foo"/);
  assert.throws(() => getBalancer("random")!.build(ready, "fast"), /random: config must be an object/);
  assert.throws(() => getBalancer("least_request")!.build(ready, { choiceCount: 1 }), /choiceCount must be an integer in \[2, 10\]/);
  assert.throws(() => getBalancer("pick_first")!.build(ready, { shuffle: "yes" }), /shuffle must be a boolean/);
  assert.throws(() => getBalancer("ring_hash")!.build(ready, { minRingSize: 10, maxRingSize: 5 }), /minRingSize \(10\) exceeds/);
  assert.throws(() => getBalancer("ring_hash")!.build(ready, { boundedLoad: {} }), /boundedLoad.epsilon is required/);
  assert.throws(() => getBalancer("ring_hash")!.build(ready, { boundedLoad: { epsilon: -1 } }), /epsilon must be a number/);
  assert.throws(() => getBalancer("ring_hash")!.build(ready, { hashHeader: "" }), /hashHeader must be a non-empty string/);
  assert.throws(() => getBalancer("ring_hash")!.build(ready, { onMissingKey: "drop" }), /onMissingKey must be one of "random", "fail"/);
  assert.throws(() => getBalancer("maglev")!.build(ready, { tableSize: 65536 }), /tableSize must be a prime/);
  assert.throws(() => getBalancer("maglev")!.build(makeSubchannels(5), { tableSize: 5 }), /must exceed the endpoint count 5/);
  assert.throws(() => getBalancer("maglev")!.build(ready, { hashKey: "user" }), /hashKey must be a function/);
  assert.throws(() => getBalancer("weighted_round_robin")!.build(ready, { weightKey: 3 }), /weightKey must be a non-empty string/);
  assert.throws(() => getBalancer("round_robin")!.build([{ endpoint: null } as never]), /ready\[0\] is not a SubchannelInfo/);
  assert.throws(() => getBalancer("round_robin")!.build("a,b" as never), /ready must be an array/);
});

test("any endpoint list: every policy's pick returns a member (property)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 40 }),
      fc.constantFrom(...NAMES),
      fc.array(fc.oneof(fc.string(), fc.integer()), { minLength: 1, maxLength: 20 }),
      fc.array(fc.oneof(fc.constant(undefined), fc.double({ noNaN: false }), fc.integer({ min: 0, max: 5 })), { maxLength: 40 }),
      fc.integer(),
      (n, name, keys, weights, seed) => {
        const ready = makeSubchannels(n, undefined, (i) => (weights[i] === undefined ? {} : { weight: weights[i] }));
        const members = new Set(ready);
        const config = name === "maglev" ? { tableSize: 251 } : name === "ring_hash" ? { maxRingSize: 4096 } : undefined;
        const picker = getBalancer(name)!.build(ready, config, { random: seededRandom(seed) });
        for (const k of keys) {
          const s = picked(picker.pick({ method: "/s/M", hashKey: k }));
          assert.ok(members.has(s));
          s.stats.onStart();
        }
      },
    ),
    { numRuns: 300 },
  );
});

test("extreme weights (denormal, huge, infinite, negative, NaN, metadata junk) still give members", () => {
  const weights = [5e-324, 1e308, Number.POSITIVE_INFINITY, -3, Number.NaN, 0, -0, 1];
  const ready = makeSubchannels(weights.length + 1, undefined, (i) =>
    i < weights.length ? { weight: weights[i] } : { metadata: { weight: "lots" } },
  );
  const tiny = makeSubchannels(3, undefined, () => ({ weight: 5e-324 }));
  for (const list of [ready, tiny]) {
    const members = new Set(list);
    for (const name of NAMES) {
      for (const random of [() => 0, () => 0.999999999, seededRandom(1)]) {
        const picker = getBalancer(name)!.build(list, undefined, { random });
        for (let k = 0; k < 50; k++) assert.ok(members.has(picked(picker.pick({ method: "/m", hashKey: k }))), name);
      }
    }
  }
});

test("round_robin is exactly fair over k*N picks and starts at a random offset", () => {
  const ready = makeSubchannels(7);
  for (const seed of [1, 2, 3]) {
    const c = counts(getBalancer("round_robin")!.build(ready, undefined, { random: seededRandom(seed) }), 7 * 1000, ready);
    assert.deepEqual(c, new Array(7).fill(1000));
  }
  const starts = new Set<SubchannelInfo>();
  for (let seed = 0; seed < 20; seed++)
    starts.add(
      picked(
        getBalancer("round_robin")!
          .build(ready, undefined, { random: seededRandom(seed) })
          .pick({ method: "/m" }),
      ),
    );
  assert.ok(starts.size > 1, "different clients start at different endpoints");
});

test("weighted_round_robin proportions are within 2% of the weights (endpoint.weight and metadata)", () => {
  const ready = makeSubchannels(5, undefined, (i) => (i === 4 ? { metadata: { weight: "10" } } : { weight: [1, 2, 3, 0.5][i] }));
  const total = 1 + 2 + 3 + 0.5 + 10;
  const picks = 100_000;
  const c = counts(getBalancer("weighted_round_robin")!.build(ready, undefined, { random: seededRandom(7) }), picks, ready);
  const expected = [1, 2, 3, 0.5, 10].map((w) => (w / total) * picks);
  for (let i = 0; i < 5; i++) assert.ok(Math.abs(c[i]! - expected[i]!) <= 0.02 * expected[i]!, `endpoint ${i}: ${c[i]} vs ${expected[i]}`);
  // Smooth: the weight-10 endpoint is never picked more than ceil(10/1) times in a row... over a short window
  // the schedule interleaves rather than bursting.
  const picker = getBalancer("weighted_round_robin")!.build(
    makeSubchannels(2, undefined, (i) => ({ weight: i + 1 })),
    undefined,
    {
      random: () => 0,
    },
  );
  const seq = Array.from({ length: 6 }, () => picked(picker.pick({ method: "/m" })).endpoint.id).join(",");
  assert.ok(!seq.includes("e1,e1,e1"), `interleaved: ${seq}`);
});

test("weighted_round_robin: weight 0 drains an endpoint; all zero means equal", () => {
  const ready = makeSubchannels(3, undefined, (i) => ({ weight: i === 1 ? 0 : 1 }));
  const c = counts(getBalancer("weighted_round_robin")!.build(ready), 300, ready);
  assert.deepEqual(c, [150, 0, 150]);
  const zero = makeSubchannels(3, undefined, () => ({ weight: 0 }));
  assert.deepEqual(counts(getBalancer("weighted_round_robin")!.build(zero), 300, zero), [100, 100, 100]);
});

test("pick_first sticks to the first ready endpoint and fails over", () => {
  const [a, b, c] = makeSubchannels(3);
  const pf = getBalancer("pick_first")!;
  let picker = pf.build([a!, b!, c!]);
  for (let k = 0; k < 5; k++) assert.equal(picked(picker.pick({ method: "/m" })), a);
  picker = pf.build([b!, c!], undefined, { previous: picker });
  assert.equal(picked(picker.pick({ method: "/m" })), b, "fails over to the next ready");
  picker = pf.build([a!, b!, c!], undefined, { previous: picker });
  assert.equal(picked(picker.pick({ method: "/m" })), b, "sticks: does not flap back when a returns");
  picker = pf.build([a!, c!], undefined, { previous: picker });
  assert.equal(picked(picker.pick({ method: "/m" })), a);
  const shuffled = new Set<SubchannelInfo>();
  for (let s = 0; s < 20; s++)
    shuffled.add(picked(pf.build([a!, b!, c!], { shuffle: true }, { random: seededRandom(s) }).pick({ method: "/m" })));
  assert.equal(shuffled.size, 3, "shuffle spreads clients");
});

test("random is roughly uniform; least_request prefers fewer in flight", () => {
  const ready = makeSubchannels(4);
  const c = counts(getBalancer("random")!.build(ready, undefined, { random: seededRandom(3) }), 40_000, ready);
  for (const x of c) assert.ok(Math.abs(x - 10_000) < 500, `random counts ${c}`);

  const lr = makeSubchannels(10);
  for (let i = 0; i < 9; i++) for (let k = 0; k < 5; k++) lr[i]!.stats.onStart();
  const picker = getBalancer("least_request")!.build(lr, { choiceCount: 2 }, { random: seededRandom(5) });
  const lc = counts(picker, 10_000, lr);
  // With 2 distinct choices the idle endpoint wins whenever it is sampled: 2/10 of picks.
  assert.ok(lc[9]! > 1_800 && lc[9]! < 2_200, `idle endpoint got ${lc[9]}`);
  const lc4 = counts(getBalancer("least_request")!.build(lr, { choiceCount: 4 }, { random: seededRandom(5) }), 10_000, lr);
  assert.ok(lc4[9]! > lc[9]!, "more choices find the idle endpoint more often");
});
