import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, createClient, createInMemoryTransport, createRouter, RpcError } from "@petrel/core";
import { createTestServiceImpl, TestService } from "@petrel/testing";
import { FakeClock } from "./clock.js";
import { AdaptiveThrottle, createAdaptiveThrottleInterceptor, type ThrottleEvent } from "./throttle.js";
import { BucketCounters } from "./throttle-window.js";

describe("bucket counters", () => {
  it("drops whole buckets as the window slides, and everything after a long gap", () => {
    const w = new BucketCounters(4, 10, 1);
    w.add(0, 0, 1);
    w.add(15, 0, 2);
    w.add(39, 0, 3);
    assert.equal(w.total(39, 0), 6);
    assert.equal(w.total(40, 0), 5, "bucket [0,10) left");
    assert.equal(w.total(59, 0), 3, "bucket [10,20) left");
    assert.equal(w.total(1000, 0), 0);
    w.add(1000, 0);
    assert.equal(w.total(1005, 0), 1);
  });
});

describe("SRE adaptive throttling", () => {
  it("computes max(0, (requests - K*accepts) / (requests + 1))", () => {
    const clock = new FakeClock();
    const draws: number[] = [];
    // A random that always says "drop if p > 0" records the p it was compared with.
    const t = new AdaptiveThrottle({ clock, k: 2, random: () => 0 });
    for (let i = 0; i < 10; i++) {
      assert.equal(t.shouldDrop(), false);
      t.onAccepted();
    }
    assert.equal(t.probability(), 0, "10 requests, 10 accepts");
    // Backend starts rejecting: 30 more requests, no accepts. The first 10 keep p at 0
    // (requests <= 2 x accepts).
    for (let i = 0; i < 10; i++) t.shouldDrop();
    assert.deepEqual(t.counts(), { requests: 20, accepts: 10 });
    assert.equal(t.probability(), 0);
    t.shouldDrop();
    assert.equal(t.probability(), (21 - 20) / 22);
    for (let i = 0; i < 79; i++) {
      draws.push(t.probability());
      t.shouldDrop();
    }
    assert.equal(t.probability(), (100 - 20) / 101);
    assert.ok(
      draws.every((p, i) => i === 0 || p >= draws[i - 1]),
      "p only grows while nothing is accepted",
    );
  });

  it("drops with the computed probability under an injected random", () => {
    const clock = new FakeClock();
    let r = 0.5;
    const events: ThrottleEvent[] = [];
    const t = new AdaptiveThrottle({ clock, k: 1.5, random: () => r, onEvent: (e) => events.push(e) }, "svc");
    for (let i = 0; i < 9; i++) t.shouldDrop(); // 9 requests, 0 accepts: p = 9/10
    assert.equal(t.probability(), 0.9);
    r = 0.89;
    assert.equal(t.shouldDrop(), true);
    r = 0.95;
    assert.equal(t.shouldDrop(), false, "random above p");
    assert.deepEqual(events[0], { type: "throttling", target: "svc", active: true });
    assert.ok(events.some((e) => e.type === "dropped" && e.probability === 0.9));
  });

  it("forgets after the window", () => {
    const clock = new FakeClock();
    const t = new AdaptiveThrottle({ clock, windowMs: 120_000, buckets: 12, random: () => 0 });
    for (let i = 0; i < 50; i++) t.shouldDrop();
    assert.ok(t.probability() > 0.9);
    clock.advance(60_000);
    assert.ok(t.probability() > 0.9, "still in the window");
    clock.advance(60_000);
    assert.equal(t.probability(), 0);
  });

  it("rejects bad options", () => {
    assert.throws(() => new AdaptiveThrottle({ k: 0.5 }), /k must be/);
    assert.throws(() => new AdaptiveThrottle({ windowMs: 0 }), /windowMs/);
  });

  it("interceptor: a backend returning UNAVAILABLE gets throttled locally; application errors are accepts", async () => {
    let served = 0;
    const impl = createTestServiceImpl();
    const router = createRouter().service(TestService, {
      ...impl,
      echo(req, ctx) {
        served++;
        return impl.echo(req, ctx);
      },
    });
    let i = 0;
    const seq = [0.3, 0.7]; // alternate draws
    const interceptor = createAdaptiveThrottleInterceptor({ clock: new FakeClock(), random: () => seq[i++ % 2] });
    const client = createClient(TestService, createInMemoryTransport(router), { interceptors: [interceptor] });
    for (let n = 0; n < 20; n++) await client.echo({ text: "x", failCode: Code.NOT_FOUND }).catch(() => undefined);
    assert.equal(served, 20, "NOT_FOUND is an accept: never throttled");
    let local = 0;
    for (let n = 0; n < 200; n++) {
      const e = await client.echo({ text: "x", failCode: Code.UNAVAILABLE }).catch((x: unknown) => x);
      assert.ok(e instanceof RpcError && e.code === Code.UNAVAILABLE);
      if (e.rawMessage.startsWith("throttled locally")) local++;
    }
    assert.equal(served + local, 220);
    assert.ok(local > 0, "some calls were dropped locally");
    assert.ok(served - 20 >= 40, "the backend still sees at least K x accepts");
  });
});
