import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type AnyRequest, type AnyResponse, Code, type RpcError } from "@petrel/core";
import { FakeClock } from "./clock.js";
import { type HedgingEvent, createHedgingInterceptor } from "./hedging.js";
import { attemptInfo } from "./retry-signals.js";
import { RetryThrottle } from "./retry-throttle.js";
import { controlled, err, flush, ok, unaryReq } from "./retry-test-util.js";

/** A transport whose attempts stay pending until the test settles them. */
function manual() {
  const attempts: { req: AnyRequest; c: ReturnType<typeof controlled> }[] = [];
  const next = (req: AnyRequest): Promise<AnyResponse> => {
    const c = controlled(() => req.signal);
    attempts.push({ req, c });
    return c.promise;
  };
  return { next, attempts };
}

function setup(extra: Partial<Parameters<typeof createHedgingInterceptor>[0]> = {}) {
  const clock = new FakeClock();
  const events: HedgingEvent[] = [];
  const ic = createHedgingInterceptor({
    policy: { maxAttempts: 3, hedgingDelayMs: 100, nonFatalStatusCodes: [Code.UNAVAILABLE] },
    clock,
    onEvent: (e) => events.push(e),
    ...extra,
  });
  return { clock, events, ic };
}

describe("hedging interceptor", () => {
  it("sends a hedge every hedgingDelay; the first success wins and the others are cancelled", async () => {
    const { clock, events, ic } = setup();
    const { next, attempts } = manual();
    const p = ic(next)(unaryReq());
    assert.equal(attempts.length, 1);
    clock.advance(99);
    assert.equal(attempts.length, 1);
    clock.advance(1);
    assert.equal(attempts.length, 2);
    clock.advance(100);
    assert.equal(attempts.length, 3);
    clock.advance(1000);
    assert.equal(attempts.length, 3); // maxAttempts
    attempts[1]?.c.resolve(ok("second"));
    const res = await p;
    assert.equal((res.message as unknown as { text: string }).text, "second");
    assert.deepEqual(
      attempts.map((a) => a.req.signal?.aborted),
      [true, false, true],
    );
    assert.deepEqual(
      attempts.map((a) => attemptInfo(a.req)?.attempt),
      [1, 2, 3],
    );
    assert.deepEqual(events.at(-1), { type: "hedge-won", path: "/petrel.testing.v1.TestService/Echo", attempt: 2, ok: true, cancelled: 2 });
    assert.equal(clock.pending, 0);
  });

  it("a fatal error wins and cancels the rest", async () => {
    const { clock, ic } = setup();
    const { next, attempts } = manual();
    const p = ic(next)(unaryReq());
    clock.advance(100);
    attempts[0]?.c.reject(err(Code.INVALID_ARGUMENT));
    await assert.rejects(p, (e: RpcError) => e.code === Code.INVALID_ARGUMENT);
    assert.equal(attempts[1]?.req.signal?.aborted, true);
    clock.advance(1000);
    assert.equal(attempts.length, 2);
  });

  it("a non-fatal error sends the next hedge at once; all failing returns the last error", async () => {
    const { clock, ic } = setup();
    const { next, attempts } = manual();
    const p = ic(next)(unaryReq());
    attempts[0]?.c.reject(err(Code.UNAVAILABLE));
    await flush();
    assert.equal(attempts.length, 2);
    assert.equal(clock.now(), 0);
    attempts[1]?.c.reject(err(Code.UNAVAILABLE));
    await flush();
    assert.equal(attempts.length, 3);
    attempts[2]?.c.reject(err(Code.UNAVAILABLE, { "x-last": "1" }));
    await assert.rejects(p, (e: RpcError) => e.code === Code.UNAVAILABLE && e.metadata.get("x-last") === "1");
  });

  it("pushback delays the next hedge by exactly that long; a stop pushback sends no more", async () => {
    const { clock, ic } = setup();
    const { next, attempts } = manual();
    const p = ic(next)(unaryReq());
    attempts[0]?.c.reject(err(Code.UNAVAILABLE, { "grpc-retry-pushback-ms": "250" }));
    await flush();
    clock.advance(249);
    assert.equal(attempts.length, 1);
    clock.advance(1);
    assert.equal(attempts.length, 2);
    attempts[1]?.c.reject(err(Code.UNAVAILABLE, { "grpc-retry-pushback-ms": "-1" }));
    await assert.rejects(p, (e: RpcError) => e.code === Code.UNAVAILABLE);
    clock.advance(1000);
    assert.equal(attempts.length, 2);
  });

  it("shares the throttle: no hedges while tokens are at or below half", async () => {
    const throttle = new RetryThrottle({ maxTokens: 4, tokenRatio: 1 });
    throttle.onFailure();
    throttle.onFailure(); // 2 <= 2: throttled
    const { clock, ic } = setup({ throttle });
    const { next, attempts } = manual();
    const p = ic(next)(unaryReq());
    clock.advance(500);
    assert.equal(attempts.length, 1);
    attempts[0]?.c.resolve(ok());
    await p;
    assert.equal(throttle.tokens, 3);
  });

  it("the caller's cancellation cancels every attempt", async () => {
    const { clock, ic } = setup();
    const { next, attempts } = manual();
    const ac = new AbortController();
    const p = ic(next)(unaryReq({ signal: ac.signal }));
    clock.advance(100);
    ac.abort();
    await assert.rejects(p, (e: RpcError) => e.code === Code.CANCELLED);
    assert.ok(attempts.every((a) => a.req.signal?.aborted));
    assert.equal(clock.pending, 0);
  });
});
