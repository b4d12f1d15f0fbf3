import { type Code, RpcError, type HandlerContext, type ServiceImpl } from "@petrel/core";
import type { TestService, EchoRequest } from "./gen/petrel/testing/v1/test_pb.js";

/** Observations a test can make about what the server saw. */
export interface TestServiceProbe {
  /** Calls whose handler saw its abort signal fire, by method name. */
  cancelled: string[];
  /** The last request headers seen by any method. */
  lastHeaders: Record<string, string>;
}

function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(true);
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(false);
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      resolve(true);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function failIfAsked(req: EchoRequest): void {
  if (req.failCode !== 0) throw new RpcError(req.failCode as Code, req.failMessage, { metadata: { "x-fail": "yes" } });
}

function echoHeaders(ctx: HandlerContext): void {
  const v = ctx.requestHeader.get("x-echo");
  if (typeof v === "string") {
    ctx.responseHeader.set("x-echo", v);
    ctx.responseTrailer.set("x-echo-trailer", v);
  }
  const b = ctx.requestHeader.get("x-echo-bin");
  if (b instanceof Uint8Array) ctx.responseTrailer.set("x-echo-bin", b);
}

/** The reference implementation of `petrel.testing.v1.TestService` used by transport tests. */
export function createTestServiceImpl(probe: TestServiceProbe = { cancelled: [], lastHeaders: {} }): ServiceImpl<typeof TestService> {
  return {
    echo(req, ctx) {
      probe.lastHeaders = ctx.requestHeader.toJSON();
      echoHeaders(ctx);
      if (req.text === "throw-plain-error") throw new Error("secret internal detail");
      failIfAsked(req);
      const remaining = ctx.timeRemaining();
      return { text: req.text, payload: req.payload, seq: req.seq, deadlineMs: remaining === undefined ? -1n : BigInt(remaining) };
    },
    async sleep(req, ctx) {
      const cancelled = await sleep(req.sleepMs, ctx.signal);
      if (cancelled) probe.cancelled.push("Sleep");
      return { cancelled };
    },
    async *serverStream(req, ctx) {
      echoHeaders(ctx);
      try {
        for (let i = 0; i < req.count; i++) {
          if (req.intervalMs > 0 && (await sleep(req.intervalMs, ctx.signal))) return;
          if (ctx.signal.aborted) return;
          yield { text: req.text, count: i, payload: req.payload };
        }
      } finally {
        // Also runs when the consumer stops pulling and the generator is returned at a yield.
        if (ctx.signal.aborted) probe.cancelled.push("ServerStream");
      }
      if (req.failCode !== 0) throw new RpcError(req.failCode as Code, "stream failed on purpose");
    },
    async clientStream(reqs, ctx) {
      echoHeaders(ctx);
      let text = "";
      let count = 0;
      for await (const r of reqs) {
        failIfAsked(r);
        text += r.text;
        count++;
      }
      return { text, count };
    },
    async *bidi(reqs, ctx) {
      echoHeaders(ctx);
      let count = 0;
      for await (const r of reqs) {
        failIfAsked(r);
        yield { text: r.text, count: count++, seq: r.seq };
      }
    },
  };
}
