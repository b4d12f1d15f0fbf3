import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, createClient, createInMemoryTransport, createRouter, RpcError } from "@petrel/core";
import { createTestServiceImpl, TestService } from "@petrel/testing";
import { FakeClock } from "./clock.js";
import { type BulkheadEvent, createBulkhead, type Permit } from "./concurrency.js";
import { type AdaptiveLimiterEvent, createAdaptiveLimiter } from "./concurrency-adaptive.js";
import { createConcurrencyLimitInterceptor } from "./concurrency-interceptor.js";
import { createEventLoopDelaySampler } from "./node/event-loop.js";
import { readPushback } from "./retry-signals.js";

describe("bulkhead", () => {
  it("admits up to maxConcurrent; release is idempotent", () => {
    const b = createBulkhead({ maxConcurrent: 2 });
    const p1 = b.admit();
    const p2 = b.admit();
    assert.ok(p1 && p2);
    assert.equal(b.admit(), undefined);
    p1.release();
    p1.release();
    assert.equal(b.inFlight, 1);
    assert.ok(b.admit());
    assert.equal(b.admit(), undefined);
  });

  it("enter/leave take and give back slots without permits; leave hands a slot to the first waiter", async () => {
    const events: BulkheadEvent[] = [];
    const b = createBulkhead({ maxConcurrent: 2, maxQueue: 1, onEvent: (e) => events.push(e) });
    assert.equal(b.enter(), true);
    assert.equal(b.enter(), true);
    assert.equal(b.enter(), false, "full");
    assert.deepEqual(events, [], "enter() reports nothing: the caller queues or rejects next");
    assert.equal(b.inFlight, 2);
    const waiter = b.acquire();
    assert.equal(b.queued, 1);
    b.leave();
    const permit = await waiter;
    assert.equal(b.inFlight, 2, "the slot went to the waiter");
    assert.equal(b.enter(), false, "a caller arriving now cannot jump the queue");
    b.leave();
    permit.release();
    assert.equal(b.inFlight, 0);
    assert.equal(b.enter(), true);
  });

  it("queues FIFO up to maxQueue, hands slots over, times out waiters", async () => {
    const clock = new FakeClock();
    const events: BulkheadEvent[] = [];
    const b = createBulkhead({ maxConcurrent: 1, maxQueue: 2, maxWaitMs: 100, clock, onEvent: (e) => events.push(e) });
    const first = await b.acquire();
    const order: string[] = [];
    const w1 = b.acquire().then((p) => {
      order.push("w1");
      return p;
    });
    const w2 = b.acquire().then(
      (p) => {
        order.push("w2");
        return p;
      },
      (e: RpcError) => {
        order.push(`w2:${e.code}`);
        return undefined;
      },
    );
    const full = await b.acquire().catch((e: unknown) => e);
    assert.ok(full instanceof RpcError && full.code === Code.RESOURCE_EXHAUSTED, "queue full");
    assert.equal(b.queued, 2);
    assert.equal(b.admit(), undefined, "admit never jumps the queue");
    first.release();
    const p1 = await w1;
    assert.equal(b.inFlight, 1, "the slot was handed over, not freed");
    clock.advance(100);
    await w2;
    assert.deepEqual(order, ["w1", `w2:${Code.RESOURCE_EXHAUSTED}`]);
    assert.equal(b.queued, 0);
    assert.equal(clock.pending, 0, "no timer left");
    p1.release();
    assert.equal(b.inFlight, 0);
    assert.deepEqual(
      events.map((e) => (e.type === "rejected" ? e.reason : `queued ${e.queued}`)),
      ["queued 1", "queued 2", "queue_full", "full", "queue_timeout"],
    );
  });

  it("an aborted waiter leaves the queue", async () => {
    const clock = new FakeClock();
    const b = createBulkhead({ maxConcurrent: 1, maxQueue: 1, clock });
    const p = b.admit() as Permit;
    const ac = new AbortController();
    const w = b.acquire(ac.signal).catch((e: unknown) => e);
    ac.abort();
    const e = await w;
    assert.ok(e instanceof RpcError && e.code === Code.CANCELLED);
    assert.equal(b.queued, 0);
    p.release();
    assert.equal(b.inFlight, 0);
    assert.equal(clock.pending, 0);
  });
});

/**
 * A server with `capacity` parallel slots and a base RTT: beyond capacity, calls queue, so
 * RTT = base x inFlight / capacity. Each round, `demand` clients try to start a call; the admitted
 * ones complete together after the RTT for that load.
 */
function simulate(
  limiter: ReturnType<typeof createAdaptiveLimiter>,
  clock: FakeClock,
  rounds: number,
  demand: number,
  capacity: number,
): number[] {
  const limits: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const permits: Permit[] = [];
    for (let i = 0; i < demand; i++) {
      const p = limiter.admit();
      if (p === undefined) break;
      permits.push(p);
    }
    clock.advance(10 * Math.max(1, permits.length / capacity));
    for (const p of permits) p.release("success");
    limits.push(limiter.limit);
  }
  return limits;
}

describe("adaptive limiter (gradient2 + event-loop delay)", () => {
  it("grows while RTT stays flat and the limit is used", () => {
    const clock = new FakeClock();
    const l = createAdaptiveLimiter({ clock, initialLimit: 10, maxLimit: 500 });
    const limits = simulate(l, clock, 200, 1000, 10_000);
    assert.ok(limits[199] > 50, `limit grew: ${limits[199]}`);
  });

  it("does not grow when the application uses less than half the limit", () => {
    const clock = new FakeClock();
    const l = createAdaptiveLimiter({ clock, initialLimit: 40 });
    const limits = simulate(l, clock, 100, 5, 10_000);
    assert.equal(limits[99], 40);
  });

  it("converges near the capacity under overload and grows again when capacity rises", () => {
    const clock = new FakeClock();
    const events: AdaptiveLimiterEvent[] = [];
    const l = createAdaptiveLimiter({ clock, initialLimit: 200, maxLimit: 1000, onEvent: (e) => events.push(e) });
    // Capacity 20, demand 1000: RTT rises with every call above 20 in flight.
    const overloaded = simulate(l, clock, 400, 1000, 20);
    const settled = overloaded.slice(300);
    // Equilibrium: rttTolerance x capacity + queueSize = 1.5 x 20 + 4.
    assert.ok(Math.max(...settled) <= 2 * 20 + 10, `limit came down from 200 near capacity: ${Math.max(...settled)}`);
    assert.ok(Math.min(...settled) >= 4);
    assert.ok(events.some((e) => e.to < e.from));
    // Capacity rises to 200.
    const grown = simulate(l, clock, 600, 1000, 200);
    assert.ok(grown[599] > 200, `limit grew with capacity: ${Math.max(...settled)} -> ${grown[599]}`);
  });

  it("shrinks on event-loop delay even when RTTs look normal", () => {
    const clock = new FakeClock();
    let delay = 0;
    const l = createAdaptiveLimiter({ clock, initialLimit: 100, eventLoopDelayMs: () => delay, maxEventLoopDelayMs: 50 });
    simulate(l, clock, 20, 1000, 10_000);
    const before = l.limit;
    delay = 200;
    const limits = simulate(l, clock, 30, 1000, 10_000);
    assert.ok(limits[29] < before / 2, `${before} -> ${limits[29]}`);
    assert.ok(limits[29] >= 4, "never below minLimit");
  });

  it("rejects bad options", () => {
    assert.throws(() => createAdaptiveLimiter({ minLimit: 0 }), /minLimit/);
    assert.throws(() => createAdaptiveLimiter({ smoothing: 2 }), /smoothing/);
  });
});

describe("concurrency limit server interceptor", () => {
  it("sheds over the limit with RESOURCE_EXHAUSTED and pushback, releases when calls end", async () => {
    const bulkhead = createBulkhead({ maxConcurrent: 2, pushbackMs: 250 });
    const router = createRouter({ interceptors: [createConcurrencyLimitInterceptor(bulkhead)] }).service(
      TestService,
      createTestServiceImpl(),
    );
    const client = createClient(TestService, createInMemoryTransport(router));
    const ac = new AbortController();
    const slow = [client.sleep({ sleepMs: 60_000 }, { signal: ac.signal }), client.sleep({ sleepMs: 60_000 }, { signal: ac.signal })].map(
      (p) => p.catch((e: unknown) => e),
    );
    await new Promise((r) => setImmediate(r));
    assert.equal(bulkhead.inFlight, 2);
    const e = await client.echo({ text: "x" }).catch((x: unknown) => x);
    assert.ok(e instanceof RpcError);
    assert.equal(e.code, Code.RESOURCE_EXHAUSTED);
    assert.deepEqual(readPushback(e), { t: "delay", ms: 250 });
    ac.abort();
    await Promise.all(slow);
    for (let i = 0; i < 50 && bulkhead.inFlight > 0; i++) await new Promise((r) => setImmediate(r));
    assert.equal(bulkhead.inFlight, 0);
    assert.equal((await client.echo({ text: "y" })).text, "y");
    // Streaming calls hold the permit until the response stream ends.
    for await (const _ of client.serverStream({ count: 3 })) assert.equal(bulkhead.inFlight, 1);
    assert.equal(bulkhead.inFlight, 0);
  });
});

describe("event-loop delay sampler", () => {
  it("reports a non-negative delay and stops", async () => {
    const s = createEventLoopDelaySampler({ resolutionMs: 5, intervalMs: 50 });
    try {
      await new Promise((r) => setTimeout(r, 30));
      const d = s.delayMs();
      assert.ok(Number.isFinite(d) && d >= 0);
    } finally {
      s.close();
    }
    assert.throws(() => createEventLoopDelaySampler({ percentile: 0 }), /percentile/);
  });
});
