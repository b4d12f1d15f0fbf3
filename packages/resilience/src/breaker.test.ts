import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, createClient, createInMemoryTransport, createRouter, RpcError } from "@petrel/core";
import { createTestServiceImpl, TestService } from "@petrel/testing";
import { CircuitBreaker, type BreakerEvent, type CircuitBreakerOptions } from "./breaker.js";
import { createBreakerRegistry, createCircuitBreakerInterceptor } from "./breaker-registry.js";
import { FakeClock } from "./clock.js";

function make(o: CircuitBreakerOptions = {}) {
  const clock = new FakeClock(1_000_000);
  const events: BreakerEvent[] = [];
  const b = new CircuitBreaker({ clock, onEvent: (e) => events.push(e), ...o }, "b");
  const changes = () => events.filter((e) => e.type === "state_change").map((e) => (e.type === "state_change" ? `${e.from}->${e.to}` : ""));
  return { b, clock, events, changes };
}

function calls(b: CircuitBreaker, n: number, ok: boolean, ms = 1): void {
  for (let i = 0; i < n; i++) {
    assert.equal(b.tryAcquire(), true);
    b.onResult(ok, ms);
  }
}

describe("circuit breaker, count window", () => {
  it("opens at exactly the call a from-scratch recount says it should (random outcomes, seeded)", () => {
    // The breaker keeps running totals and skips the rate check after a fast success past the
    // minimum; a naive recount over the last windowSize outcomes must agree on every call.
    let seed = 12345;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    for (let run = 0; run < 300; run++) {
      const windowSize = 1 + Math.floor(rnd() * 12);
      const minimumNumberOfCalls = 1 + Math.floor(rnd() * 14);
      const failureRateThreshold = 10 + Math.floor(rnd() * 90);
      const slowCallRateThreshold = 10 + Math.floor(rnd() * 91);
      const pFail = rnd() * 0.6;
      const pSlow = rnd() * 0.6;
      const { b } = make({
        windowSize,
        minimumNumberOfCalls,
        failureRateThreshold,
        slowCallRateThreshold,
        slowCallDurationThresholdMs: 100,
      });
      const history: { fail: boolean; slow: boolean }[] = [];
      for (let i = 0; i < 60; i++) {
        const fail = rnd() < pFail;
        const slow = rnd() < pSlow;
        assert.equal(b.tryAcquire(), true);
        b.onResult(!fail, slow ? 150 : 5);
        history.push({ fail, slow });
        const last = history.slice(-windowSize);
        const fr = (last.filter((h) => h.fail).length * 100) / last.length;
        const sr = (last.filter((h) => h.slow).length * 100) / last.length;
        // resilience4j: a count window's minimum is at most its size.
        const shouldOpen =
          last.length >= Math.min(minimumNumberOfCalls, windowSize) && (fr >= failureRateThreshold || sr >= slowCallRateThreshold);
        const cfg = JSON.stringify({ run, windowSize, minimumNumberOfCalls, failureRateThreshold, slowCallRateThreshold, i });
        assert.equal(b.state, shouldOpen ? "open" : "closed", cfg);
        if (shouldOpen) break;
      }
    }
  });

  it("stays closed below minimumNumberOfCalls, opens at the failure-rate threshold", () => {
    const { b, changes } = make({ windowSize: 10, minimumNumberOfCalls: 4, failureRateThreshold: 50 });
    calls(b, 3, false);
    assert.equal(b.state, "closed", "3 failures < minimum 4");
    calls(b, 1, true);
    // 3 failures of 4 = 75% >= 50%.
    assert.equal(b.state, "open");
    assert.deepEqual(changes(), ["closed->open"]);
  });

  it("the window slides: old failures fall out", () => {
    const { b } = make({ windowSize: 4, minimumNumberOfCalls: 4, failureRateThreshold: 60 });
    calls(b, 2, false); // F F
    calls(b, 2, true); // F F S S: 50% < 60%
    assert.equal(b.state, "closed");
    calls(b, 2, true); // S S S S
    calls(b, 1, false); // S S S F: 25%
    assert.equal(b.state, "closed");
    assert.deepEqual(b.metrics(), { calls: 4, failureRate: 25, slowCallRate: 0 });
    calls(b, 2, false); // S F F F: 75%
    assert.equal(b.state, "open");
  });

  it("opens on the slow-call rate even when every call succeeds", () => {
    const { b, events } = make({ windowSize: 5, minimumNumberOfCalls: 5, slowCallRateThreshold: 60, slowCallDurationThresholdMs: 100 });
    calls(b, 2, true, 5);
    calls(b, 2, true, 100);
    assert.equal(b.state, "closed", "2 slow of 4, below the minimum");
    calls(b, 1, true, 250);
    assert.equal(b.state, "open");
    const e = events.find((x) => x.type === "state_change");
    assert.ok(e?.type === "state_change");
    assert.equal(e.slowCallRate, 60);
    assert.equal(e.failureRate, 0);
  });

  it("open rejects until the wait elapses, then half-open permits exactly N probes", () => {
    const { b, clock, events, changes } = make({
      windowSize: 2,
      minimumNumberOfCalls: 2,
      waitDurationInOpenStateMs: 5000,
      permittedCallsInHalfOpenState: 3,
    });
    calls(b, 2, false);
    assert.equal(b.state, "open");
    assert.equal(b.isOpen(), true);
    assert.equal(b.tryAcquire(), false);
    clock.advance(4999);
    assert.equal(b.tryAcquire(), false);
    assert.equal(events.filter((e) => e.type === "not_permitted").length, 2);
    clock.advance(1);
    assert.equal(b.isOpen(), false, "a balancer may pick it to probe");
    assert.equal(b.tryAcquire(), true);
    assert.equal(b.state, "half_open");
    assert.equal(b.tryAcquire(), true);
    assert.equal(b.tryAcquire(), true);
    assert.equal(b.tryAcquire(), false, "only 3 probes");
    assert.equal(b.isOpen(), true);
    b.onResult(true, 1);
    b.onResult(true, 1);
    assert.equal(b.state, "half_open", "waits for all probes");
    b.onResult(true, 1);
    assert.equal(b.state, "closed");
    assert.deepEqual(changes(), ["closed->open", "open->half_open", "half_open->closed"]);
    // The window was reset on closing: one failure is below the minimum again.
    calls(b, 1, false);
    assert.equal(b.state, "closed");
  });

  it("half-open goes back to open when the probes fail, and waits again", () => {
    const { b, clock, changes } = make({
      windowSize: 2,
      minimumNumberOfCalls: 2,
      waitDurationInOpenStateMs: 1000,
      permittedCallsInHalfOpenState: 2,
    });
    calls(b, 2, false);
    clock.advance(1000);
    calls(b, 1, true);
    calls(b, 1, false); // 50% >= 50%
    assert.equal(b.state, "open");
    assert.equal(b.tryAcquire(), false);
    clock.advance(999);
    assert.equal(b.tryAcquire(), false);
    clock.advance(1);
    assert.equal(b.tryAcquire(), true);
    assert.deepEqual(changes(), ["closed->open", "open->half_open", "half_open->open", "open->half_open"]);
  });

  it("a released probe permit can be used again", () => {
    const { b, clock } = make({ windowSize: 1, minimumNumberOfCalls: 1, waitDurationInOpenStateMs: 10, permittedCallsInHalfOpenState: 1 });
    calls(b, 1, false);
    clock.advance(10);
    assert.equal(b.tryAcquire(), true);
    assert.equal(b.tryAcquire(), false);
    b.releasePermission();
    assert.equal(b.tryAcquire(), true);
    b.onResult(true, 1);
    assert.equal(b.state, "closed");
  });

  it("rejects bad options with a clear error", () => {
    assert.throws(() => new CircuitBreaker({ failureRateThreshold: 0 }), /failureRateThreshold/);
    assert.throws(() => new CircuitBreaker({ windowSize: 1.5 }), /windowSize/);
    assert.throws(() => new CircuitBreaker({ windowType: "sliding" as never }), /windowType/);
    assert.throws(() => new CircuitBreaker({ failureCodes: [0 as Code] }), /failureCodes/);
  });
});

describe("circuit breaker, time window", () => {
  it("counts the calls of the last windowSize seconds only", () => {
    const { b, clock } = make({ windowType: "time", windowSize: 10, minimumNumberOfCalls: 4, failureRateThreshold: 55 });
    calls(b, 3, false);
    clock.advance(10_000); // those three fall out of the 10 s window
    calls(b, 3, true);
    assert.equal(b.metrics().calls, 3);
    calls(b, 1, false); // 1 of 4 = 25%
    assert.equal(b.state, "closed");
    clock.advance(5000);
    calls(b, 2, false); // 3 of 6 = 50%
    assert.equal(b.state, "closed");
    calls(b, 1, false); // 4 of 7 = 57%
    assert.equal(b.state, "open");
  });

  it("minimumNumberOfCalls may exceed windowSize for a time window", () => {
    const { b } = make({ windowType: "time", windowSize: 2, minimumNumberOfCalls: 5 });
    calls(b, 4, false);
    assert.equal(b.state, "closed");
    calls(b, 1, false);
    assert.equal(b.state, "open");
  });
});

describe("breaker registry and interceptor", () => {
  it("keys by (endpoint, method); isOpen(endpoint) needs every method open", () => {
    const clock = new FakeClock();
    const reg = createBreakerRegistry({ clock, windowSize: 1, minimumNumberOfCalls: 1, waitDurationInOpenStateMs: 100 });
    assert.equal(reg.isOpen("a"), false, "unknown endpoint");
    const m1 = reg.get("a", "/s/M1");
    const m2 = reg.get("a", "/s/M2");
    assert.equal(reg.get("a", "/s/M1"), m1);
    assert.notEqual(m1, reg.get("b", "/s/M1"));
    calls(m1, 1, false);
    assert.equal(reg.isOpen("a", "/s/M1"), true);
    assert.equal(reg.isOpen("a"), false, "M2 still works");
    calls(m2, 1, false);
    assert.equal(reg.isOpen("a"), true);
    assert.equal(reg.isOpen("b"), false);
    clock.advance(100);
    assert.equal(reg.isOpen("a"), false, "probing time");
    reg.remove("a");
    assert.equal([...reg.breakers()].length, 1);
  });

  it("per endpoint when perMethod is false", () => {
    const reg = createBreakerRegistry({ perMethod: false, windowSize: 1, minimumNumberOfCalls: 1 });
    assert.equal(reg.get("a", "/s/M1"), reg.get("a", "/s/M2"));
  });

  it("fails fast with UNAVAILABLE once open; only failure codes count", async () => {
    let code: Code = Code.INVALID_ARGUMENT;
    let served = 0;
    const impl = createTestServiceImpl();
    const router = createRouter().service(TestService, {
      ...impl,
      echo(req, ctx) {
        served++;
        return impl.echo(req, ctx);
      },
    });
    const clock = new FakeClock();
    const states: string[] = [];
    const reg = createBreakerRegistry({
      clock,
      windowSize: 4,
      minimumNumberOfCalls: 4,
      waitDurationInOpenStateMs: 1000,
      permittedCallsInHalfOpenState: 1,
      onEvent: (e) => {
        if (e.type === "state_change") states.push(`${e.name}: ${e.to}`);
      },
    });
    const client = createClient(TestService, createInMemoryTransport(router), { interceptors: [createCircuitBreakerInterceptor(reg)] });
    const fail = async (want: Code) => {
      const e = await client.echo({ text: "x", failCode: code }).then(
        () => assert.fail("expected an error"),
        (x: unknown) => x,
      );
      assert.ok(e instanceof RpcError);
      assert.equal(e.code, want);
      return e;
    };
    for (let i = 0; i < 4; i++) await fail(Code.INVALID_ARGUMENT);
    assert.deepEqual(states, [], "INVALID_ARGUMENT is the server answering, not a failure");
    code = Code.UNAVAILABLE;
    for (let i = 0; i < 4; i++) await fail(Code.UNAVAILABLE);
    assert.deepEqual(states, [" /petrel.testing.v1.TestService/Echo: open"]);
    const before = served;
    const e = await fail(Code.UNAVAILABLE);
    assert.equal(e.rawMessage, "circuit open");
    assert.equal(served, before, "rejected without reaching the server");
    code = Code.OK;
    clock.advance(1000);
    assert.equal((await client.echo({ text: "ok" })).text, "ok");
    assert.deepEqual(states.slice(1), [" /petrel.testing.v1.TestService/Echo: half_open", " /petrel.testing.v1.TestService/Echo: closed"]);
  });
});
