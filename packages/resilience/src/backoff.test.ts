import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ExponentialBackoff, backoffCeiling } from "./backoff.js";
import { FakeClock, sleep } from "./clock.js";
import { RetryThrottle, type RetryThrottleEvent } from "./retry-throttle.js";
import { readPushback } from "./retry-signals.js";
import { err } from "./retry-test-util.js";

describe("backoff", () => {
  it("grows the ceiling by the multiplier up to maxBackoff; full jitter spans [0, ceiling)", () => {
    const o = { initialBackoffMs: 100, maxBackoffMs: 1000, backoffMultiplier: 3 };
    assert.deepEqual(
      [1, 2, 3, 4].map((n) => backoffCeiling(o, n)),
      [100, 300, 900, 1000],
    );
    const low = new ExponentialBackoff({ ...o, random: () => 0 });
    const high = new ExponentialBackoff({ ...o, random: () => 0.999 });
    assert.deepEqual([low.next(), low.next()], [0, 0]);
    assert.deepEqual(
      [high.next(), high.next(), high.next(), high.next()].map((x) => Math.round(x * 10) / 10),
      [99.9, 299.7, 899.1, 999],
    );
    high.reset();
    assert.equal(Math.round(high.next() * 10) / 10, 99.9);
    const wild = new ExponentialBackoff({ ...o, random: () => 7 });
    assert.equal(wild.next(), 100);
    assert.throws(() => new ExponentialBackoff({ ...o, backoffMultiplier: 0 }), /backoffMultiplier/);
  });
});

describe("retry throttle", () => {
  it("does exact token arithmetic and reports engage/release", () => {
    const events: RetryThrottleEvent[] = [];
    const t = new RetryThrottle({ maxTokens: 10, tokenRatio: 0.1, onEvent: (e) => events.push(e) });
    for (let i = 0; i < 4; i++) t.onFailure();
    assert.equal(t.tokens, 6);
    assert.equal(t.allowRetry(), true);
    t.onFailure();
    assert.equal(t.allowRetry(), false); // 5 <= 5
    for (let i = 0; i < 10; i++) t.onSuccess();
    assert.equal(t.tokens, 6); // 5 + 10 * 0.1 exactly
    assert.equal(t.allowRetry(), true);
    for (let i = 0; i < 100; i++) t.onSuccess();
    assert.equal(t.tokens, 10);
    for (let i = 0; i < 20; i++) t.onFailure();
    assert.equal(t.tokens, 0);
    assert.deepEqual(
      events.map((e) => e.type),
      ["throttle-engaged", "throttle-released", "throttle-engaged"],
    );
    assert.throws(() => new RetryThrottle({ maxTokens: 0, tokenRatio: 1 }), /maxTokens/);
  });
});

describe("pushback parsing", () => {
  it("reads delays and stops", () => {
    assert.deepEqual(readPushback(err(14)), { t: "none" });
    assert.deepEqual(readPushback(err(14, { "grpc-retry-pushback-ms": "0" })), { t: "delay", ms: 0 });
    assert.deepEqual(readPushback(err(14, { "grpc-retry-pushback-ms": "1500" })), { t: "delay", ms: 1500 });
    for (const v of ["-5", "x", "", "99999999999"]) assert.deepEqual(readPushback(err(14, { "grpc-retry-pushback-ms": v })), { t: "stop" });
  });
});

describe("fake clock", () => {
  it("runs due timers in order, including ones scheduled while advancing", () => {
    const c = new FakeClock(5);
    const log: string[] = [];
    c.setTimeout(() => log.push(`b@${c.now()}`), 20);
    c.setTimeout(() => {
      log.push(`a@${c.now()}`);
      c.setTimeout(() => log.push(`c@${c.now()}`), 3);
    }, 10);
    const h = c.setTimeout(() => log.push("never"), 15);
    c.clearTimeout(h);
    assert.equal(c.pending, 2);
    c.advance(14);
    assert.deepEqual(log, ["a@15", "c@18"]);
    assert.equal(c.now(), 19);
    c.runAll();
    assert.deepEqual(log, ["a@15", "c@18", "b@25"]);
    assert.equal(c.pending, 0);
    assert.throws(() => c.advance(-1), /invalid/);
  });

  it("sleep resolves on advance and rejects on abort", async () => {
    const c = new FakeClock();
    const p = sleep(c, 50);
    c.advance(50);
    await p;
    const ac = new AbortController();
    const q = sleep(c, 50, ac.signal);
    ac.abort(new Error("stop"));
    await assert.rejects(q, /stop/);
    assert.equal(c.pending, 0);
  });
});
