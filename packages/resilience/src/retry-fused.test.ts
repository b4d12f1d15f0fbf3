// The fused limiter + retry + breaker interceptor (retry-fused.ts) built by createResilienceInterceptors.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type AnyFn, Code, RpcError, applyInterceptors, setErrorEndpoint } from "@petrel/core";
import "./breaker-config.js"; // registers the circuitBreaker policy
import { FakeClock } from "./clock.js";
import { createBulkhead } from "./concurrency.js";
import { type AttemptInfo, PREVIOUS_ATTEMPTS_KEY, attemptInfo, noteAttemptEndpoint } from "./retry-signals.js";
import { err, ok, scripted, settle, unaryReq } from "./retry-test-util.js";
import { createResilienceInterceptors } from "./service-config-interceptors.js";

const retryPolicy = {
  maxAttempts: 3,
  initialBackoff: "0.01s",
  maxBackoff: "0.1s",
  backoffMultiplier: 2,
  retryableStatusCodes: ["UNAVAILABLE"],
};

function fused(clock: FakeClock, circuitBreaker: object, limiter = createBulkhead({ maxConcurrent: 2 })) {
  const config = { methodConfig: [{ name: [{ service: "petrel.testing.v1.TestService" }], retryPolicy, circuitBreaker }] };
  const events: string[] = [];
  const ics = createResilienceInterceptors(config, {
    clock,
    random: () => 0.5,
    deadline: false,
    limiter,
    onEvent: (e) => events.push(e.type === "state_change" ? `${e.type}:${String(e.to)}` : e.type),
  });
  return { ics, events, limiter };
}

describe("fused limiter + retry + breaker", () => {
  it("first attempt is the caller's request without a hint; a retry is a copy that avoids the endpoint on the error", async () => {
    const clock = new FakeClock();
    const { ics, limiter } = fused(clock, {});
    const seen: { info: AttemptInfo | undefined; prev: string | undefined; endpoints: string[] }[] = [];
    const s = scripted([err(Code.UNAVAILABLE), ok("second")]);
    // Stands in for a balancer: reads the hint, then records where the attempt "went".
    const transport: AnyFn = (req) => {
      const info = attemptInfo(req);
      seen.push({ info, prev: req.header.getString(PREVIOUS_ATTEMPTS_KEY), endpoints: [...(info?.previousEndpoints ?? [])] });
      const endpoint = `e${seen.length}`;
      noteAttemptEndpoint(req, endpoint);
      // As a channel does: the endpoint of a failed attempt travels on its error.
      return s.next(req).catch((e: object) => Promise.reject(setErrorEndpoint(e, endpoint)));
    };
    const call = applyInterceptors<AnyFn>(transport, ics);
    const req = unaryReq();
    const res = await settle(clock, call(req));
    assert.equal((res.message as unknown as { text: string }).text, "second");
    assert.equal(s.calls[0], req, "attempt 1 is not copied");
    assert.notEqual(s.calls[1], req, "attempt 2 is a copy");
    assert.equal(seen[0]?.info, undefined, "attempt 1 carries no hint");
    assert.deepEqual(seen[0]?.endpoints, []);
    assert.equal(seen[0]?.prev, undefined, "no grpc-previous-rpc-attempts on attempt 1");
    assert.equal(seen[1]?.info?.attempt, 2);
    assert.deepEqual(seen[1]?.endpoints, ["e1"], "attempt 2 knows where attempt 1 went");
    assert.equal(seen[1]?.prev, "1");
    assert.equal(req.header.get(PREVIOUS_ATTEMPTS_KEY), undefined, "the caller's header is untouched");
    assert.equal(limiter.inFlight, 0, "the permit is released after the call");
  });

  it("every attempt is recorded on the breaker: it opens, and open rejections are retried then fail UNAVAILABLE", async () => {
    const clock = new FakeClock();
    const { ics, events, limiter } = fused(clock, { windowSize: 2, minimumNumberOfCalls: 2, waitDurationInOpenState: "10s" });
    const s = scripted([err(Code.UNAVAILABLE)]);
    const call = applyInterceptors<AnyFn>(s.next, ics);
    const e = await settle(clock, call(unaryReq())).then(
      () => assert.fail("expected a failure"),
      (x: unknown) => x,
    );
    assert.ok(e instanceof RpcError);
    assert.equal(e.code, Code.UNAVAILABLE);
    // Two attempts reached the transport and opened the breaker; the third was rejected locally.
    assert.equal(s.calls.length, 2);
    assert.match(e.message, /circuit open/);
    assert.ok(events.includes("state_change:open"));
    assert.equal(limiter.inFlight, 0);
  });

  it("a full limiter rejects with RESOURCE_EXHAUSTED before any attempt; a non-retryable error is not retried", async () => {
    const clock = new FakeClock();
    const { ics, limiter } = fused(clock, {}, createBulkhead({ maxConcurrent: 1 }));
    let release!: () => void;
    const s = scripted([
      () =>
        new Promise((resolve) => {
          release = () => resolve(ok());
        }),
      err(Code.INVALID_ARGUMENT),
    ]);
    const call = applyInterceptors<AnyFn>(s.next, ics);
    const first = call(unaryReq());
    await assert.rejects(call(unaryReq()), (x: unknown) => x instanceof RpcError && x.code === Code.RESOURCE_EXHAUSTED);
    assert.equal(s.calls.length, 1);
    release();
    await first;
    assert.equal(limiter.inFlight, 0);
    await assert.rejects(settle(clock, call(unaryReq())), (x: unknown) => x instanceof RpcError && x.code === Code.INVALID_ARGUMENT);
    assert.equal(s.calls.length, 2, "INVALID_ARGUMENT is not retried");
    assert.equal(limiter.inFlight, 0);
  });
});
