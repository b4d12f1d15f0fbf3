// Transport.unarySettled on petrel/1 and gRPC: the outcome of a unary call passes through a settle
// hook (ok / fail), whose return value becomes the call's result — the fast path the fused
// resilience interceptor uses instead of a promise of its own.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import {
  type AnyFn,
  Code,
  codeName,
  type Interceptor,
  Metadata,
  RpcError,
  type UnarySettle,
  createClient,
  createRouter,
  unarySettledOf,
} from "@petrel/core";
import { createResilienceInterceptors } from "@petrel/resilience";
import { TestService, createTestServiceImpl, expectRpcError } from "@petrel/testing";
import { createGrpcServer } from "./grpc-server.js";
import { createGrpcTransport } from "./grpc-transport.js";
import { createNativeServer } from "./native-server.js";
import { createNativeTransport } from "./native-transport.js";

const protocols = [
  {
    name: "petrel/1",
    serve: (router: ReturnType<typeof createRouter>) => createNativeServer({ router }),
    dial: (port: number) => createNativeTransport({ address: `127.0.0.1:${port}`, connectTimeoutMs: 5_000 }),
  },
  {
    name: "gRPC",
    serve: (router: ReturnType<typeof createRouter>) => createGrpcServer({ router }),
    dial: (port: number) => createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }),
  },
];

/** Retries UNAVAILABLE up to `maxAttempts`, with a per-method breaker that never opens here. */
function retryConfig(maxAttempts: number) {
  return {
    methodConfig: [
      {
        name: [{ service: "petrel.testing.v1.TestService" }],
        retryPolicy: {
          maxAttempts,
          initialBackoff: "0.01s",
          maxBackoff: "0.01s",
          backoffMultiplier: 1,
          retryableStatusCodes: ["UNAVAILABLE"],
        },
        circuitBreaker: { minimumNumberOfCalls: 100 },
      },
    ],
  };
}

/** An interceptor that runs every unary call through `settle` (and records that it could). */
function settling(settle: UnarySettle, used: boolean[]): Interceptor {
  return (next: AnyFn) => {
    const settled = unarySettledOf(next);
    used.push(settled !== undefined);
    return (req) => (req.stream || settled === undefined ? next(req) : settled(req, settle));
  };
}

for (const proto of protocols)
  describe(`${proto.name} unarySettled`, () => {
    let server: ReturnType<typeof proto.serve>;
    let port: number;
    before(async () => {
      server = proto.serve(createRouter().service(TestService, createTestServiceImpl()));
      ({ port } = await server.listen({ port: 0, host: "127.0.0.1" }));
    });
    after(async () => {
      await server.close({ graceMs: 1000 });
    });

    it("ok() sees the response and its return value is the result; fail() can turn an error into a result", async () => {
      const transport = proto.dial(port);
      const seen: string[] = [];
      const used: boolean[] = [];
      const settle: UnarySettle = {
        ok(res) {
          seen.push(`ok:${(res.message as unknown as { text: string }).text}`);
          return { ...res, message: create(TestService.method.echo.output, { text: "replaced" }) };
        },
        fail(err) {
          seen.push(`fail:${codeName(err.code)}`);
          if (err.code === Code.NOT_FOUND) {
            const message = create(TestService.method.echo.output, { text: "fallback" });
            const method = TestService.method.echo;
            return Promise.resolve({
              stream: false,
              service: TestService,
              method,
              header: new Metadata(),
              trailer: new Metadata(),
              message,
            });
          }
          throw new RpcError(Code.ABORTED, `wrapped: ${err.message}`);
        },
      };
      try {
        const client = createClient(TestService, transport, { interceptors: [settling(settle, used)] });
        assert.deepEqual(used, [true, false], "offered to the unary chain (directly on the transport), not the streaming one");
        assert.equal((await client.echo({ text: "hi" })).text, "replaced");
        assert.equal((await client.echo({ text: "x", failCode: Code.NOT_FOUND })).text, "fallback");
        const err = await expectRpcError(client.echo({ text: "x", failCode: Code.INTERNAL, failMessage: "boom" }), Code.ABORTED);
        assert.match(err.message, /wrapped: \[internal\] boom/);
        assert.deepEqual(seen, ["ok:hi", "fail:NOT_FOUND", "fail:INTERNAL"]);
      } finally {
        await transport.close();
      }
    });

    it("a call that cannot reach a connection goes through fail() as UNAVAILABLE", async () => {
      const transport = proto.dial(1);
      const codes: Code[] = [];
      try {
        const client = createClient(TestService, transport, {
          interceptors: [
            settling(
              {
                ok: (r) => r,
                fail: (e) => {
                  codes.push(e.code);
                  throw e;
                },
              },
              [],
            ),
          ],
        });
        await expectRpcError(client.echo({ text: "x" }), Code.UNAVAILABLE);
        assert.deepEqual(codes, [Code.UNAVAILABLE]);
      } finally {
        await transport.close();
      }
    });

    it("is not offered through another interceptor", () => {
      const used: boolean[] = [];
      const pass: Interceptor = (next) => (req) => next(req);
      createClient(TestService, proto.dial(port), {
        interceptors: [settling({ ok: (r) => r, fail: (e) => Promise.reject(e) }, used), pass],
      });
      assert.deepEqual(used, [false, false]);
    });

    it("the fused resilience interceptor retries through it and keeps its books", async () => {
      const transport = proto.dial(port);
      let calls = 0;
      // Counts unarySettled calls: the fused interceptor must use the hook for first attempts.
      const counted = Object.assign(Object.create(transport), {
        unarySettled(req: Parameters<NonNullable<typeof transport.unarySettled>>[0], s: UnarySettle) {
          calls++;
          return (transport.unarySettled as NonNullable<typeof transport.unarySettled>)(req, s);
        },
      });
      const events: string[] = [];
      const interceptors = createResilienceInterceptors(retryConfig(3), { deadline: false, onEvent: (e) => events.push(e.type) });
      try {
        const client = createClient(TestService, counted, { interceptors });
        assert.equal((await client.echo({ text: "one" })).text, "one");
        assert.equal(calls, 1, "the first attempt went through unarySettled");
        // UNAVAILABLE is retried (attempt 2 on goes through the composed breaker path) and fails again.
        await expectRpcError(client.echo({ text: "x", failCode: Code.UNAVAILABLE }), Code.UNAVAILABLE);
        assert.equal(events.filter((e) => e === "retry").length, 2, `events: ${events.join(",")}`);
        assert.equal((await client.echo({ text: "after" })).text, "after");
      } finally {
        await transport.close();
      }
    });

    it("a retry after a failed settled first attempt re-sends the caller's header unchanged", async () => {
      // The fused interceptor snapshots the header only after the first attempt failed: the
      // transport must have left it as the caller sent it (Transport.unarySettled's contract).
      const seen: string[] = [];
      const impl = createTestServiceImpl();
      const own = proto.serve(
        createRouter().service(TestService, {
          ...impl,
          echo(req, ctx) {
            seen.push(`${ctx.requestHeader.get("x-tag")}|${ctx.requestHeader.get("x-tag-bin") instanceof Uint8Array}`);
            if (seen.length === 1) throw new RpcError(Code.UNAVAILABLE, "first attempt fails");
            return { text: req.text };
          },
        }),
      );
      const { port: ownPort } = await own.listen({ port: 0, host: "127.0.0.1" });
      const transport = proto.dial(ownPort);
      const interceptors = createResilienceInterceptors(retryConfig(2), { deadline: false });
      try {
        const client = createClient(TestService, transport, { interceptors });
        const headers = new Metadata();
        headers.set("x-tag", "t1");
        headers.set("x-tag-bin", new Uint8Array([1, 2]));
        assert.equal((await client.echo({ text: "two" }, { headers })).text, "two");
        assert.deepEqual(seen, ["t1|true", "t1|true"]);
      } finally {
        await transport.close();
        await own.close({ graceMs: 1000 });
      }
    });
  });
