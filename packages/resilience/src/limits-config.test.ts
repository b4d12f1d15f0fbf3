// `rateLimit` and `concurrencyLimit` in the service config (limits-config.ts).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type AnyFn, Code, RpcError, applyInterceptors } from "@petrel/core";
import "./breaker-config.js"; // registers circuitBreaker
import { FakeClock } from "./clock.js";
import { parseConcurrencyLimitConfig, parseRateLimitConfig } from "./limits-config.js";
import { retryDelayOf } from "./rate-limit-retry-info.js";
import { controlled, err, ok, scripted, settle, unaryReq } from "./retry-test-util.js";
import { parseServiceConfig } from "./service-config.js";
import { createResilienceInterceptors } from "./service-config-interceptors.js";

const name = [{ service: "petrel.testing.v1.TestService" }];

function client(methodConfig: object, clock: FakeClock, next: AnyFn): AnyFn {
  const ics = createResilienceInterceptors({ methodConfig: [{ name, ...methodConfig }] }, { clock, deadline: false, random: () => 0.5 });
  return applyInterceptors<AnyFn>(next, ics);
}

function rejection(p: Promise<unknown>): Promise<RpcError> {
  return p.then(
    () => assert.fail("expected a rejection"),
    (e: unknown) => (e instanceof RpcError ? e : assert.fail(`not an RpcError: ${String(e)}`)),
  );
}

describe("service config: rateLimit", () => {
  it("a token bucket admits its burst, then rejects locally with RESOURCE_EXHAUSTED + RetryInfo until it refills", async () => {
    const clock = new FakeClock();
    const s = scripted([ok()]);
    const call = client({ rateLimit: { tokenBucket: { capacity: 2, refillPerSecond: 4 } } }, clock, s.next);
    await call(unaryReq());
    await call(unaryReq());
    const e = await rejection(call(unaryReq()));
    assert.equal(e.code, Code.RESOURCE_EXHAUSTED);
    assert.equal(retryDelayOf(e), 250, "one token at 4/s");
    assert.equal(s.calls.length, 2, "the rejected call never reached the transport");
    clock.advance(250);
    await call(unaryReq());
    assert.equal(s.calls.length, 3);
  });

  it("a sliding window counts attempts, retries included", async () => {
    const clock = new FakeClock();
    const s = scripted([err(Code.UNAVAILABLE), ok()]);
    const retryPolicy = {
      maxAttempts: 2,
      initialBackoff: "0.01s",
      maxBackoff: "0.01s",
      backoffMultiplier: 1,
      retryableStatusCodes: ["UNAVAILABLE"],
    };
    const call = client({ retryPolicy, rateLimit: { slidingWindow: { limit: 2, window: "10s" } } }, clock, s.next);
    await settle(clock, call(unaryReq()));
    assert.equal(s.calls.length, 2, "attempt 1 failed, attempt 2 succeeded: two of the window's two");
    const e = await rejection(call(unaryReq()));
    assert.equal(e.code, Code.RESOURCE_EXHAUSTED);
  });

  it("rejects bad configs with the JSON path", () => {
    assert.throws(() => parseRateLimitConfig({}), /rateLimit: must hold exactly one of "tokenBucket", "slidingWindow"/);
    assert.throws(
      () => parseRateLimitConfig({ tokenBucket: { capacity: 1, refillPerSecond: 1 }, slidingWindow: { limit: 1, window: "1s" } }),
      /exactly one/,
    );
    assert.throws(() => parseRateLimitConfig({ tokenBucket: { capacity: 0, refillPerSecond: 1 } }), /rateLimit\.tokenBucket: .*capacity/);
    assert.throws(() => parseRateLimitConfig({ slidingWindow: { limit: 5 } }), /rateLimit\.slidingWindow\.window: is required/);
    assert.throws(() => parseRateLimitConfig({ slidingWindow: { limit: 5, window: "1m" } }), /rateLimit\.slidingWindow\.window/);
    assert.throws(
      () => parseServiceConfig({ methodConfig: [{ name, rateLimit: { tokenBucket: { capacity: 1, refillPerSecond: 1, burst: 2 } } }] }),
      /tokenBucket\.burst: unknown key/,
    );
  });
});

describe("service config: concurrencyLimit", () => {
  it("a bulkhead bounds calls in flight and frees the slot when a call ends", async () => {
    const clock = new FakeClock();
    const first = controlled();
    const s = scripted([() => first.promise, ok()]);
    const call = client({ concurrencyLimit: { maxConcurrent: 1 } }, clock, s.next);
    const p1 = call(unaryReq());
    const e = await rejection(call(unaryReq()));
    assert.equal(e.code, Code.RESOURCE_EXHAUSTED);
    first.resolve(ok());
    await p1;
    await call(unaryReq());
    assert.equal(s.calls.length, 2);
  });

  it("with a retry policy (the fused interceptor) the slot is held across retries and released at the end", async () => {
    const clock = new FakeClock();
    const s = scripted([err(Code.UNAVAILABLE), ok()]);
    const retryPolicy = {
      maxAttempts: 3,
      initialBackoff: "1s",
      maxBackoff: "1s",
      backoffMultiplier: 1,
      retryableStatusCodes: ["UNAVAILABLE"],
    };
    const call = client({ retryPolicy, circuitBreaker: {}, concurrencyLimit: { maxConcurrent: 1 } }, clock, s.next);
    const p1 = call(unaryReq());
    await new Promise((r) => setImmediate(r)); // attempt 1 failed; the retry waits for its backoff
    const e = await rejection(call(unaryReq()));
    assert.equal(e.code, Code.RESOURCE_EXHAUSTED, "the retrying call still holds the only slot");
    clock.advance(1000);
    await p1;
    await call(unaryReq());
    assert.equal(s.calls.length, 3);
  });

  it("an adaptive limiter starts at its initial limit; bad configs name the path", async () => {
    const clock = new FakeClock();
    const pending = [controlled(), controlled()];
    let i = 0;
    const s = scripted([() => (pending[i++] as ReturnType<typeof controlled>).promise]);
    const call = client({ concurrencyLimit: { adaptive: { initialLimit: 2, minLimit: 1 } } }, clock, s.next);
    const a = call(unaryReq());
    const b = call(unaryReq());
    assert.equal((await rejection(call(unaryReq()))).code, Code.RESOURCE_EXHAUSTED);
    for (const p of pending) p.resolve(ok());
    await Promise.all([a, b]);
    assert.throws(() => parseConcurrencyLimitConfig({}), /concurrencyLimit\.maxConcurrent: is required/);
    assert.throws(() => parseConcurrencyLimitConfig({ maxConcurrent: 0 }), /concurrencyLimit: .*maxConcurrent/);
    assert.throws(() => parseConcurrencyLimitConfig({ adaptive: { minLimit: 5, maxLimit: 2 } }), /concurrencyLimit\.adaptive: /);
    assert.throws(() => parseConcurrencyLimitConfig({ adaptive: {}, maxConcurrent: 3 }), /concurrencyLimit\.maxConcurrent: unknown key/);
  });
});
