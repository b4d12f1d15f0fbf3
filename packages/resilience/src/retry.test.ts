import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type AnyRequest, Code, Metadata, type RpcError, type StreamResponse, setErrorEndpoint } from "@petrel/core";
import { TestService } from "@petrel/testing";
import { create } from "@bufbuild/protobuf";
import { FakeClock } from "./clock.js";
import { type RetryEvent, type RetryPolicy, createRetryInterceptor } from "./retry.js";
import { COMMITTED, PREVIOUS_ATTEMPTS_KEY, UNPROCESSED, attemptInfo, markError, noteAttemptEndpoint } from "./retry-signals.js";
import { RetryThrottle } from "./retry-throttle.js";
import { controlled, err, flush, ok, scripted, settle, streamReq, unaryReq } from "./retry-test-util.js";

const policy: RetryPolicy = {
  maxAttempts: 4,
  initialBackoffMs: 100,
  maxBackoffMs: 1000,
  backoffMultiplier: 2,
  retryableStatusCodes: [Code.UNAVAILABLE],
};

function giveUpReason(events: RetryEvent[]): string | undefined {
  const e = events.at(-1);
  return e?.type === "retry-give-up" ? e.reason : undefined;
}

function setup(extra: Partial<Parameters<typeof createRetryInterceptor>[0]> = {}) {
  const clock = new FakeClock();
  const events: RetryEvent[] = [];
  const ic = createRetryInterceptor({ policy, clock, random: () => 0.5, onEvent: (e) => events.push(e), ...extra });
  return { clock, events, ic };
}

describe("retry interceptor (unary)", () => {
  it("retries retryable codes until success, with full-jitter backoff from the policy", async () => {
    const { clock, events, ic } = setup();
    const { next, calls } = scripted([err(Code.UNAVAILABLE), err(Code.UNAVAILABLE), err(Code.UNAVAILABLE), ok("yes")]);
    const res = await settle(clock, ic(next)(unaryReq()));
    assert.equal((res.message as unknown as { text: string }).text, "yes");
    assert.equal(calls.length, 4);
    // random 0.5 * ceilings 100, 200, 400
    assert.deepEqual(
      events.filter((e) => e.type === "retry").map((e) => e.delayMs),
      [50, 100, 200],
    );
    assert.equal(clock.now(), 350);
    assert.deepEqual(
      calls.map((c) => c.header.getString(PREVIOUS_ATTEMPTS_KEY)),
      [undefined, "1", "2", "3"],
    );
    assert.deepEqual(
      calls.map((c) => attemptInfo(c)?.attempt),
      [undefined, 2, 3, 4],
      "attempt 1 is the caller's request, without a hint",
    );
  });

  it("stops at maxAttempts and returns the last error", async () => {
    const { clock, events, ic } = setup();
    const { next, calls } = scripted([err(Code.UNAVAILABLE)]);
    await assert.rejects(settle(clock, ic(next)(unaryReq())), (e: RpcError) => e.code === Code.UNAVAILABLE);
    assert.equal(calls.length, 4);
    assert.equal(giveUpReason(events), "max-attempts");
  });

  it("caps maxAttempts at 5 (A6)", async () => {
    const { clock, ic } = setup({ policy: { ...policy, maxAttempts: 9 } });
    const { next, calls } = scripted([err(Code.UNAVAILABLE)]);
    await assert.rejects(settle(clock, ic(next)(unaryReq())));
    assert.equal(calls.length, 5);
  });

  it("does not retry codes outside retryableStatusCodes", async () => {
    const { clock, ic } = setup();
    const { next, calls } = scripted([err(Code.INVALID_ARGUMENT), ok()]);
    await assert.rejects(settle(clock, ic(next)(unaryReq())), (e: RpcError) => e.code === Code.INVALID_ARGUMENT);
    assert.equal(calls.length, 1);
  });

  it("honours pushback: waits exactly that long, then backoff starts again at initialBackoff", async () => {
    const { clock, events, ic } = setup();
    const { next, calls } = scripted([
      err(Code.UNAVAILABLE),
      err(Code.UNAVAILABLE, { "grpc-retry-pushback-ms": "700" }),
      err(Code.UNAVAILABLE),
      ok(),
    ]);
    await settle(clock, ic(next)(unaryReq()));
    assert.equal(calls.length, 4);
    const delays = events.filter((e) => e.type === "retry").map((e) => [e.delayMs, e.pushback]);
    // 0.5*100, then pushback 700, then reset: 0.5*100 again (not 0.5*400)
    assert.deepEqual(delays, [
      [50, false],
      [700, true],
      [50, false],
    ]);
    assert.equal(clock.now(), 800);
  });

  for (const bad of ["-1", "soon", "", "1.5"]) {
    it(`stops retrying on pushback ${JSON.stringify(bad)}`, async () => {
      const { clock, events, ic } = setup();
      const { next, calls } = scripted([err(Code.UNAVAILABLE, { "grpc-retry-pushback-ms": bad }), ok()]);
      await assert.rejects(settle(clock, ic(next)(unaryReq())), (e: RpcError) => e.code === Code.UNAVAILABLE);
      assert.equal(calls.length, 1);
      assert.equal(events[0]?.type === "retry-give-up" && events[0].reason, "pushback");
    });
  }

  it("does not retry a committed call (response headers had arrived)", async () => {
    const { clock, events, ic } = setup();
    const { next, calls } = scripted([markError(err(Code.UNAVAILABLE), COMMITTED), ok()]);
    await assert.rejects(settle(clock, ic(next)(unaryReq())));
    assert.equal(calls.length, 1);
    assert.equal(events[0]?.type === "retry-give-up" && events[0].reason, "committed");
  });

  it("retries an unprocessed call transparently: no delay, no attempt spent, no tokens taken", async () => {
    const throttle = new RetryThrottle({ maxTokens: 10, tokenRatio: 0.5 });
    const { clock, events, ic } = setup({ throttle, policy: { ...policy, maxAttempts: 2 } });
    // INTERNAL is not retryable by the policy: only the transparent rule can retry it.
    const { next, calls } = scripted([markError(err(Code.INTERNAL), UNPROCESSED), err(Code.UNAVAILABLE), ok("third")]);
    const res = await settle(clock, ic(next)(unaryReq()));
    assert.equal((res.message as unknown as { text: string }).text, "third");
    assert.equal(calls.length, 3); // transparent + 2 policy attempts
    const first = events[0];
    assert.ok(first?.type === "retry" && first.transparent && first.delayMs === 0);
    assert.equal(attemptInfo(calls[1] as AnyRequest)?.transparent, true);
    assert.equal(throttle.tokens, 9.5); // one UNAVAILABLE (-1), one success (+0.5)
  });

  it("retries unprocessed calls only maxTransparentRetries times", async () => {
    const { clock, ic } = setup({ maxTransparentRetries: 2 });
    const { next, calls } = scripted([markError(err(Code.INTERNAL), UNPROCESSED)]);
    await assert.rejects(settle(clock, ic(next)(unaryReq())), (e: RpcError) => e.code === Code.INTERNAL);
    assert.equal(calls.length, 3);
  });

  it("stops retrying when the throttle has no tokens above half", async () => {
    const throttle = new RetryThrottle({ maxTokens: 3, tokenRatio: 1 });
    const { clock, events, ic } = setup({ throttle });
    const { next, calls } = scripted([err(Code.UNAVAILABLE)]);
    await assert.rejects(settle(clock, ic(next)(unaryReq())));
    // 3 -> 2 (2 > 1.5: retry) -> 1 (1 <= 1.5: stop)
    assert.equal(calls.length, 2);
    assert.equal(throttle.tokens, 1);
    assert.equal(giveUpReason(events), "throttled");
  });

  it("keeps the overall deadline on every attempt and does not retry past it", async () => {
    const clock = new FakeClock();
    const events: RetryEvent[] = [];
    const start = 1_000_000;
    const deadline = start + 250;
    const ic = createRetryInterceptor({
      policy,
      clock,
      random: () => 0.999,
      now: () => start + clock.now(),
      onEvent: (e) => events.push(e),
    });
    const { next, calls } = scripted([err(Code.UNAVAILABLE)]);
    await assert.rejects(settle(clock, ic(next)(unaryReq({ deadline }))), (e: RpcError) => e.code === Code.UNAVAILABLE);
    assert.ok(calls.every((c) => c.deadline === deadline));
    // waits 99.9 (ends before the deadline), then 199.8 would end at 299.7 >= 250: gives up
    assert.equal(calls.length, 2);
    assert.equal(giveUpReason(events), "deadline");
  });

  it("ends the backoff wait at once when the call is cancelled", async () => {
    const { clock, ic } = setup();
    const ac = new AbortController();
    const { next, calls } = scripted([err(Code.UNAVAILABLE)]);
    const p = ic(next)(unaryReq({ signal: ac.signal }));
    await flush();
    assert.equal(clock.pending, 1); // the backoff timer
    ac.abort();
    await assert.rejects(p, (e: RpcError) => e.code === Code.CANCELLED);
    assert.equal(clock.pending, 0);
    assert.equal(calls.length, 1);
  });

  it("gives each attempt the caller's signal (attempts are never abandoned while running) and shares endpoints", async () => {
    const { clock, ic } = setup();
    const caller = new AbortController();
    const seen: AbortSignal[] = [];
    let n = 0;
    const next = (req: AnyRequest) => {
      seen.push(req.signal as AbortSignal);
      const endpoint = `10.0.0.${++n}:1`;
      assert.deepEqual(
        attemptInfo(req)?.previousEndpoints.slice(0, n - 1) ?? [],
        Array.from({ length: n - 1 }, (_, i) => `10.0.0.${i + 1}:1`),
      );
      // Attempt 1 has no hint: a channel reports its endpoint on the error; later attempts are
      // noted by the endpoint-hint interceptor (and may be reported on the error as well).
      noteAttemptEndpoint(req, endpoint);
      return n < 3 ? Promise.reject(setErrorEndpoint(err(Code.UNAVAILABLE), endpoint)) : Promise.resolve(ok());
    };
    await settle(clock, ic(next)(unaryReq({ signal: caller.signal })));
    assert.equal(seen.length, 3);
    assert.ok(seen.every((s) => s === caller.signal));
  });

  it("rejects a bad policy with a clear error", () => {
    assert.throws(() => createRetryInterceptor({ policy: { ...policy, maxAttempts: 1 } }), /maxAttempts must be an integer >= 2/);
    assert.throws(() => createRetryInterceptor({ policy: { ...policy, retryableStatusCodes: [] } }), /retryableStatusCodes/);
    assert.throws(() => createRetryInterceptor({ policy: { ...policy, initialBackoffMs: 0 } }), /initialBackoffMs/);
  });
});

const bidi = TestService.method.bidi;

function streamOk(texts: string[], failAfter?: RpcError): StreamResponse {
  async function* gen() {
    for (const text of texts) yield create(bidi.output, { text });
    if (failAfter !== undefined) throw failAfter;
  }
  return {
    stream: true,
    service: TestService,
    method: bidi,
    header: new Metadata(),
    trailer: new Metadata(),
    message: gen(),
  } as unknown as StreamResponse;
}

/** A stream attempt that reads all its input, then answers. */
function streamAttempt(inputs: string[][], answer: (i: number) => StreamResponse) {
  let i = 0;
  return async (req: AnyRequest) => {
    const got: string[] = [];
    for await (const m of (req as { message: AsyncIterable<{ text: string }> }).message) got.push(m.text);
    inputs.push(got);
    return answer(i++);
  };
}

async function collect(res: StreamResponse): Promise<string[]> {
  const out: string[] = [];
  for await (const m of res.message) out.push((m as unknown as { text: string }).text);
  return out;
}

describe("retry interceptor (streaming)", () => {
  it("replays the client's messages to a retry when the stream fails before the first response", async () => {
    const { clock, ic } = setup();
    const inputs: string[][] = [];
    const next = streamAttempt(inputs, (i) => (i === 0 ? streamOk([], err(Code.UNAVAILABLE)) : streamOk(["r1", "r2"])));
    const res = (await settle(clock, ic(next)(streamReq(["a", "b", "c"])))) as StreamResponse;
    assert.deepEqual(await collect(res), ["r1", "r2"]);
    assert.deepEqual(inputs, [
      ["a", "b", "c"],
      ["a", "b", "c"],
    ]);
  });

  it("does not retry once a response message was delivered", async () => {
    const { clock, ic } = setup();
    const inputs: string[][] = [];
    const next = streamAttempt(inputs, () => streamOk(["r1"], err(Code.UNAVAILABLE)));
    const res = (await settle(clock, ic(next)(streamReq(["a"])))) as StreamResponse;
    await assert.rejects(collect(res), (e: RpcError) => e.code === Code.UNAVAILABLE);
    assert.equal(inputs.length, 1);
  });

  it("does not retry once the client sent more than maxBufferedMessages", async () => {
    const { clock, events, ic } = setup({ maxBufferedMessages: 2 });
    const inputs: string[][] = [];
    const next = streamAttempt(inputs, () => streamOk([], err(Code.UNAVAILABLE)));
    await assert.rejects(settle(clock, ic(next)(streamReq(["a", "b", "c"]))), (e: RpcError) => e.code === Code.UNAVAILABLE);
    assert.equal(inputs.length, 1);
    assert.equal(giveUpReason(events), "committed");
  });

  it("retries a stream whose start fails", async () => {
    const { clock, ic } = setup();
    const d = controlled();
    let n = 0;
    const next = (req: AnyRequest) => {
      n++;
      if (n === 1) return Promise.reject(err(Code.UNAVAILABLE));
      void req;
      d.resolve(streamOk(["x"]));
      return d.promise;
    };
    const res = (await settle(clock, ic(next)(streamReq(["a"])))) as StreamResponse;
    assert.deepEqual(await collect(res), ["x"]);
    assert.equal(n, 2);
  });
});
