import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type AnyRequest, Code, type HandlerContext, type RpcError } from "@petrel/core";
import { createDeadlineInterceptor, createTimeoutInterceptor } from "./deadline.js";
import { ok, unaryReq } from "./retry-test-util.js";

function parent(deadline: number | undefined, signal = new AbortController().signal): HandlerContext {
  return { deadline, signal } as HandlerContext;
}

function capture() {
  const seen: AnyRequest[] = [];
  return {
    seen,
    next: (req: AnyRequest) => {
      seen.push(req);
      return Promise.resolve(ok());
    },
  };
}

describe("deadline propagation", () => {
  const now = () => 10_000;

  it("sets the child deadline to the parent's minus the margin", async () => {
    const { seen, next } = capture();
    const ic = createDeadlineInterceptor({ parent: () => parent(10_100), now, marginMs: 5 });
    await ic(next)(unaryReq());
    assert.equal(seen[0]?.deadline, 10_095);
  });

  it("uses the fraction margin when larger, and keeps an earlier own deadline", async () => {
    const { seen, next } = capture();
    const ic = createDeadlineInterceptor({ parent: () => parent(11_000), now, marginMs: 5, marginFraction: 0.1 });
    await ic(next)(unaryReq());
    assert.equal(seen[0]?.deadline, 10_900);
    await ic(next)(unaryReq({ deadline: 10_500 }));
    assert.equal(seen[1]?.deadline, 10_500);
  });

  it("fails fast with DEADLINE_EXCEEDED when the budget is spent", async () => {
    const { seen, next } = capture();
    const ic = createDeadlineInterceptor({ parent: () => parent(10_004), now, marginMs: 5 });
    await assert.rejects(ic(next)(unaryReq()), (e: RpcError) => e.code === Code.DEADLINE_EXCEEDED);
    assert.equal(seen.length, 0);
  });

  it("links the parent's cancellation and fails fast when the parent is already cancelled", async () => {
    const { seen, next } = capture();
    const ac = new AbortController();
    const ic = createDeadlineInterceptor({ parent: () => parent(undefined, ac.signal), now });
    await ic(next)(unaryReq());
    assert.equal(seen[0]?.signal, ac.signal);
    assert.equal(seen[0]?.deadline, undefined);
    ac.abort();
    await assert.rejects(ic(next)(unaryReq()), (e: RpcError) => e.code === Code.CANCELLED);
  });

  it("does nothing outside a handler", async () => {
    const { seen, next } = capture();
    await createDeadlineInterceptor({ parent: () => undefined })(next)(unaryReq({ deadline: 5 }));
    assert.equal(seen[0]?.deadline, 5);
  });

  it("timeout interceptor takes the earlier of own deadline and now + timeout", async () => {
    const { seen, next } = capture();
    const ic = createTimeoutInterceptor(300, now);
    await ic(next)(unaryReq());
    await ic(next)(unaryReq({ deadline: 10_100 }));
    assert.deepEqual(
      seen.map((r) => r.deadline),
      [10_300, 10_100],
    );
    assert.throws(() => createTimeoutInterceptor(0), /timeout/);
    assert.throws(() => createDeadlineInterceptor({ marginFraction: 1 }), /marginFraction/);
  });
});
