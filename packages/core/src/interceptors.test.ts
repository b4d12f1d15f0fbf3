import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, RpcError, createClient, createInMemoryTransport, createRouter, type Interceptor, type ServerInterceptor } from "./index.js";
import { TestService, createTestServiceImpl } from "@petrel/testing";

async function* from<T>(items: T[]): AsyncGenerator<T> {
  for (const x of items) yield x;
}

describe("interceptors", () => {
  it("run in onion order on both sides for all four kinds, change headers, wrap streams and see outcomes", async () => {
    const log: string[] = [];
    const serverIc =
      (name: string): ServerInterceptor =>
      (next) =>
      async (req) => {
        log.push(`s-${name}-in:${req.method.name}`);
        try {
          const res = await next(req);
          log.push(`s-${name}-out`);
          return res;
        } catch (e) {
          log.push(`s-${name}-err:${RpcError.from(e).code}`);
          throw e;
        }
      };
    const clientIc =
      (name: string): Interceptor =>
      (next) =>
      async (req) => {
        log.push(`c-${name}-in`);
        req.header.append("x-chain", name);
        try {
          const res = await next(req);
          log.push(`c-${name}-out`);
          return res;
        } catch (e) {
          log.push(`c-${name}-err:${RpcError.from(e).code}`);
          throw e;
        }
      };
    // A stream-wrapping interceptor that upper-cases every streamed response text.
    const upper: Interceptor = (next) => async (req) => {
      const res = await next(req);
      if (!res.stream) return res;
      const inner = res.message;
      return {
        ...res,
        message: (async function* () {
          for await (const m of inner) yield { ...m, text: String((m as unknown as { text: string }).text).toUpperCase() } as typeof m;
        })(),
      };
    };
    const router = createRouter({ interceptors: [serverIc("a"), serverIc("b")] }).service(TestService, createTestServiceImpl());
    const client = createClient(TestService, createInMemoryTransport(router), { interceptors: [clientIc("1"), clientIc("2"), upper] });

    await client.echo({ text: "hi" }, { headers: { "x-echo": "e" } });
    assert.deepEqual(log, ["c-1-in", "c-2-in", "s-a-in:Echo", "s-b-in:Echo", "s-b-out", "s-a-out", "c-2-out", "c-1-out"]);

    log.length = 0;
    await assert.rejects(client.echo({ failCode: Code.ABORTED }), RpcError);
    assert.deepEqual(log, ["c-1-in", "c-2-in", "s-a-in:Echo", "s-b-in:Echo", "s-b-err:10", "s-a-err:10", "c-2-err:10", "c-1-err:10"]);

    const texts: string[] = [];
    for await (const m of client.serverStream({ text: "abc", count: 2 })) texts.push(m.text);
    assert.deepEqual(texts, ["ABC", "ABC"]);
    const cs = await client.clientStream(from([{ text: "x" }, { text: "y" }]));
    assert.equal(cs.text, "XY");
    const bidi: string[] = [];
    for await (const m of client.bidi(from([{ text: "p" }, { text: "q" }]))) bidi.push(m.text);
    assert.deepEqual(bidi, ["P", "Q"]);
  });

  it("a client interceptor can rewrite headers the server sees", async () => {
    let seen: string | undefined;
    const router = createRouter({
      interceptors: [
        (next) => (req) => {
          seen = req.ctx.requestHeader.getString("authorization");
          return next(req);
        },
      ],
    }).service(TestService, createTestServiceImpl());
    const auth: Interceptor = (next) => (req) => {
      req.header.set("authorization", "Bearer t0k3n");
      return next(req);
    };
    const client = createClient(TestService, createInMemoryTransport(router), { interceptors: [auth] });
    await client.echo({ text: "x" });
    assert.equal(seen, "Bearer t0k3n");
  });
});

describe("deadline and cancellation propagation", () => {
  it("a handler's outbound call inherits its deadline and is cancelled with it (explicit parent)", async () => {
    const downstream = createRouter().service(TestService, createTestServiceImpl());
    const downstreamClient = createClient(TestService, createInMemoryTransport(downstream));
    let innerDeadline: bigint | undefined;
    let innerError: RpcError | undefined;
    const impl = createTestServiceImpl();
    const front = createRouter().service(TestService, {
      ...impl,
      async echo(req, ctx) {
        const r = await downstreamClient.echo({ text: req.text }, { parent: ctx });
        innerDeadline = r.deadlineMs;
        return r;
      },
      async sleep(req, ctx) {
        try {
          return await downstreamClient.sleep(req, { parent: ctx });
        } catch (e) {
          innerError = RpcError.from(e);
          throw e;
        }
      },
    });
    const client = createClient(TestService, createInMemoryTransport(front));
    await client.echo({ text: "x" }, { timeoutMs: 30_000 });
    assert.ok(innerDeadline !== undefined && innerDeadline > 0n && innerDeadline <= 30_000n, String(innerDeadline));

    const ac = new AbortController();
    const p = client.sleep({ sleepMs: 60_000 }, { signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    await assert.rejects(p, (e: RpcError) => e.code === Code.CANCELLED);
    const start = Date.now();
    while (innerError === undefined && Date.now() - start < 10_000) await new Promise((r) => setTimeout(r, 5));
    assert.equal(innerError?.code, Code.CANCELLED, "the outbound call was cancelled with the inbound one");
  });
});
