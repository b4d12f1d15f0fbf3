import { test } from "node:test";
import assert from "node:assert/strict";
import { EndpointStats, LoadGroup, UNMEASURED_PENALTY } from "./endpoint-stats.js";
import { fakeClock } from "./test-helpers.js";

test("in-flight counting and the unmeasured penalty", () => {
  const clock = fakeClock();
  const s = new EndpointStats({ clock });
  assert.equal(s.load(), 0, "an idle endpoint without samples is probed first");
  s.onStart();
  assert.equal(s.inflight, 1);
  assert.equal(s.load(), UNMEASURED_PENALTY + 1, "one probe at a time while unmeasured");
  clock.advance(20);
  s.onDone({ ok: true, latencyMs: 20 });
  assert.equal(s.inflight, 0);
  assert.equal(s.sampled, true);
  assert.equal(s.load(), 20);
  s.onStart();
  s.onStart();
  assert.equal(s.load(), 60, "cost x (inflight + 1)");
});

test("peak EWMA jumps up at once and comes down smoothly with tau", () => {
  const clock = fakeClock();
  const s = new EndpointStats({ clock, tauMs: 1000 });
  s.onDone({ ok: true, latencyMs: 10 });
  s.onDone({ ok: true, latencyMs: 500 });
  assert.equal(s.latencyMs(), 500, "peak sensitivity");
  clock.advance(1000);
  // Decayed by e^-1 over one tau, then blended with weight 1 - e^-1.
  s.onDone({ ok: true, latencyMs: 10 });
  const w = Math.exp(-1);
  assert.ok(Math.abs(s.latencyMs() - (500 * w + 10 * (1 - w))) < 1e-9, `got ${s.latencyMs()}`);
  const before = s.latencyMs();
  clock.advance(5000);
  assert.ok(s.latencyMs() < before * 0.01, "decays towards zero while idle, so the endpoint is probed again");
});

test("failures, bad latencies and bad options", () => {
  const clock = fakeClock();
  const s = new EndpointStats({ clock, failurePenaltyMs: 1000 });
  s.onStart();
  s.onDone({ ok: false, latencyMs: 1 });
  assert.equal(s.failed, 1);
  assert.equal(s.completed, 1);
  assert.equal(s.latencyMs(), 1000, "a fast failure does not make an endpoint look fast");
  s.onDone({ ok: true, latencyMs: Number.NaN });
  assert.equal(s.inflight, 0, "never negative");
  assert.ok(Number.isFinite(s.latencyMs()));
  assert.throws(() => new EndpointStats({ tauMs: 0 }), /tauMs must be a positive finite number/);
  assert.throws(() => new EndpointStats({ failurePenaltyMs: -1 }), /failurePenaltyMs/);
});

test("a LoadGroup keeps the running in-flight total of its members", () => {
  const group = new LoadGroup();
  const a = new EndpointStats({ group });
  const b = new EndpointStats({ group });
  a.onStart();
  a.onStart();
  b.onStart();
  assert.equal(group.inflight, 3);
  b.onDone({ ok: true, latencyMs: 1 });
  b.onDone({ ok: true, latencyMs: 1 }); // unmatched done: neither counter goes negative
  assert.equal(b.inflight, 0);
  assert.equal(group.inflight, 2);
});
