import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, createClient, createInMemoryTransport, createRouter, RpcError } from "@petrel/core";
import { createTestServiceImpl, TestService } from "@petrel/testing";
import { FakeClock } from "./clock.js";
import { createFaultInjector, type FaultEvent } from "./fault.js";

/** mulberry32: a tiny seeded PRNG, so percentages are exact for a given seed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ECHO = "/petrel.testing.v1.TestService/Echo";

describe("fault injection", () => {
  it("aborts about Y% with code C under a seeded random, per method, and can be changed at run time", async () => {
    const events: FaultEvent[] = [];
    const faults = createFaultInjector({ random: seeded(42), onEvent: (e) => events.push(e) });
    faults.setFaults({ methods: { [ECHO]: { abort: { percent: 30, code: "UNAVAILABLE" } } } });
    let n = 0;
    for (let i = 0; i < 2000; i++) {
      await faults.apply(ECHO)?.catch((e: RpcError) => {
        assert.equal(e.code, Code.UNAVAILABLE);
        assert.equal(e.rawMessage, "fault injected");
        n++;
      });
    }
    // 30% of 2000 = 600; a binomial standard deviation is ~20.
    assert.ok(n > 520 && n < 680, `aborted ${n}`);
    assert.equal(events.length, n);
    assert.equal(faults.apply("/petrel.testing.v1.TestService/Sleep"), undefined, "other methods untouched");
    faults.setFaults({});
    assert.equal(faults.apply(ECHO), undefined);
  });

  it("delays X% by D ms on the injected clock, then the call proceeds (or aborts)", async () => {
    const clock = new FakeClock();
    const draws = [0.1, 0.9, 0.1, 0.1]; // call 1: delay yes, abort no; call 2: delay yes, abort yes
    let i = 0;
    const faults = createFaultInjector({
      clock,
      random: () => draws[i++],
      faults: { default: { delay: { percent: 50, ms: 200 }, abort: { percent: 50, code: Code.INTERNAL, message: "chaos" } } },
    });
    let done = false;
    const p1 = faults.apply(ECHO)?.then(() => (done = true));
    assert.ok(p1);
    clock.advance(199);
    await Promise.resolve();
    assert.equal(done, false);
    clock.advance(1);
    await p1;
    assert.equal(done, true);
    const p2 = faults.apply(ECHO)?.catch((e: unknown) => e);
    clock.advance(200);
    const e = await p2;
    assert.ok(e instanceof RpcError && e.code === Code.INTERNAL && e.rawMessage === "chaos");
    assert.equal(clock.pending, 0);
  });

  it("a cancelled call stops waiting for its delay", async () => {
    const clock = new FakeClock();
    const faults = createFaultInjector({ clock, random: () => 0, faults: { default: { delay: { percent: 100, ms: 1000 } } } });
    const ac = new AbortController();
    const p = faults.apply(ECHO, ac.signal)?.catch((e: unknown) => e);
    ac.abort();
    const e = await p;
    assert.ok(e instanceof RpcError && e.code === Code.CANCELLED);
    assert.equal(clock.pending, 0);
  });

  it("matches a whole service, and rejects bad configs keeping the old one", () => {
    const faults = createFaultInjector({ random: () => 0 });
    faults.setFaults({ methods: { "petrel.testing.v1.TestService": { abort: { percent: 100, code: 14 } } } });
    const first = faults.apply(ECHO);
    assert.ok(first);
    first.catch(() => undefined);
    assert.throws(() => faults.setFaults({ default: { abort: { percent: 101, code: 14 } } }), /percent/);
    assert.throws(() => faults.setFaults({ default: { abort: { percent: 1, code: "NOPE" } } }), /code/);
    assert.throws(() => faults.setFaults({ default: { abort: { percent: 1, code: 0 } } }), /non-OK/);
    assert.throws(() => faults.setFaults({ default: { delay: { percent: 1, ms: -1 } } }), /ms/);
    const p = faults.apply(ECHO);
    assert.ok(p, "old config still in force");
    p.catch(() => undefined);
  });

  it("as client and server interceptors", async () => {
    const faults = createFaultInjector({ random: () => 0 });
    let served = 0;
    const impl = createTestServiceImpl();
    const router = createRouter({ interceptors: [faults.server] }).service(TestService, {
      ...impl,
      echo(req, ctx) {
        served++;
        return impl.echo(req, ctx);
      },
    });
    const client = createClient(TestService, createInMemoryTransport(router), { interceptors: [faults.client] });
    assert.equal((await client.echo({ text: "a" })).text, "a");
    faults.setFaults({ methods: { [ECHO]: { abort: { percent: 100, code: "RESOURCE_EXHAUSTED" } } } });
    const e = await client.echo({ text: "b" }).catch((x: unknown) => x);
    assert.ok(e instanceof RpcError && e.code === Code.RESOURCE_EXHAUSTED);
    assert.equal(served, 1, "the client-side fault fired before the wire");
    const serverOnly = createClient(TestService, createInMemoryTransport(router));
    const e2 = await serverOnly.echo({ text: "c" }).catch((x: unknown) => x);
    assert.ok(e2 instanceof RpcError && e2.code === Code.RESOURCE_EXHAUSTED);
    assert.equal(served, 1, "the server-side fault fired before the handler");
  });
});
