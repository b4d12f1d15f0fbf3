/**
 * Tracing end to end with the OpenTelemetry SDK's in-memory exporter: a 3-hop call
 * client -(gRPC)-> A -(JSON-RPC over HTTP | petrel/1)-> B, and HTTP -(REST)-> A -(gRPC)-> B,
 * each yields one trace with client -> A server -> A client -> B server links and the status of
 * B's failure on every span; tracestate travels along; a malformed traceparent starts a new trace.
 */
import assert from "node:assert/strict";
import * as http from "node:http";
import { after, afterEach, before, describe, it } from "node:test";
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  context,
  createTraceState,
  propagation,
  trace,
  type Context,
} from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { Code, type Client, RpcError, type Transport, createClient, createRouter } from "@petrel/core";
import {
  createGrpcTransport,
  createJsonRpcHttpHandler,
  createJsonRpcTransport,
  createNativeTransport,
  createPetrelServer,
  type PetrelServer,
} from "@petrel/node";
import { TestService, createTestServiceImpl } from "@petrel/testing";
import { createRestGateway } from "@petrel/gateway";
// The gateway's test library service carries google.api.http rules; A serves it over REST.
import { LibraryService } from "../../gateway/src/gen/petrel/gateway/testing/v1/library_pb.js";
import { createLibraryImpl } from "../../gateway/src/library-fixture.js";
import { createTracingClientInterceptor, createTracingServerInterceptor } from "./tracing.js";

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const contextManager = new AsyncLocalStorageContextManager();
// A distinct tracer (instrumentation scope) per process role, to tell the spans apart.
const tracerOf = (name: string) => provider.getTracer(name);

type Hop = "jsonrpc" | "native" | "grpc";
const TID = "4bf92f3577b34da6a3ce929d0e0e4736";
type ClosableTransport = Transport & { close(): Promise<void> };

describe("tracing across protocols", () => {
  let serverA: PetrelServer;
  let serverB: PetrelServer;
  let urlA = "";
  let portA = 0;
  const transports: ClosableTransport[] = [];
  /** Request headers B's handler saw on its last call. */
  let seenByB: Record<string, string> = {};
  /** The span A's handler saw as active on its last call. */
  let activeInA: string | undefined;

  before(async () => {
    context.setGlobalContextManager(contextManager.enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());

    const probe = { cancelled: [] as string[], lastHeaders: {} as Record<string, string> };
    const implB = createTestServiceImpl(probe);
    const routerB = createRouter({ interceptors: [createTracingServerInterceptor({ tracer: tracerOf("B") })] }).service(TestService, {
      ...implB,
      echo(req, ctx) {
        seenByB = ctx.requestHeader.toJSON();
        return implB.echo(req, ctx);
      },
    });
    serverB = createPetrelServer({ router: routerB, http: [createJsonRpcHttpHandler(routerB)] });
    const b = await serverB.listen({ host: "127.0.0.1", port: 0 });

    const clientInterceptor = (rpcSystem: string) => [createTracingClientInterceptor({ tracer: tracerOf("A"), rpcSystem })];
    const track = <T extends ClosableTransport>(t: T): T => {
      transports.push(t);
      return t;
    };
    const toB: Record<Hop, Client<typeof TestService>> = {
      jsonrpc: createClient(TestService, track(createJsonRpcTransport({ url: `http://127.0.0.1:${b.port}/jsonrpc` })), {
        interceptors: clientInterceptor("jsonrpc"),
      }),
      native: createClient(TestService, track(createNativeTransport({ address: `127.0.0.1:${b.port}` })), {
        interceptors: clientInterceptor("petrel"),
      }),
      grpc: createClient(TestService, track(createGrpcTransport({ baseUrl: `http://127.0.0.1:${b.port}` })), {
        interceptors: clientInterceptor("grpc"),
      }),
    };
    const hopOf = (v: string | undefined): Hop => (v === "native" || v === "grpc" ? v : "jsonrpc");

    const library = createLibraryImpl();
    const routerA = createRouter({ interceptors: [createTracingServerInterceptor({ tracer: tracerOf("A") })] })
      .service(TestService, {
        ...createTestServiceImpl(),
        // A forwards the request to B over the protocol the caller names.
        async echo(req, ctx) {
          activeInA = trace.getActiveSpan()?.spanContext().spanId;
          return await toB[hopOf(ctx.requestHeader.getString("x-hop"))].echo(req);
        },
      })
      .service(LibraryService, {
        ...library,
        async getBook(req, ctx) {
          const failCode = req.name.endsWith("/fail") ? Code.UNAVAILABLE : 0;
          await toB.grpc.echo({ text: req.name, failCode, failMessage: "B is down" });
          return library.getBook({ ...req, name: "shelves/s1/books/b1" }, ctx);
        },
      });
    serverA = createPetrelServer({ router: routerA, http: [createRestGateway({ router: routerA })] });
    const a = await serverA.listen({ host: "127.0.0.1", port: 0 });
    portA = a.port;
    urlA = `http://127.0.0.1:${a.port}`;
  });

  after(async () => {
    for (const t of transports) await t.close();
    await serverA?.close({ graceMs: 1000 });
    await serverB?.close({ graceMs: 1000 });
    await provider.shutdown();
    context.disable();
    propagation.disable();
  });

  afterEach(() => exporter.reset());

  function newClient() {
    const transport = createGrpcTransport({ baseUrl: urlA });
    transports.push(transport);
    return createClient(TestService, transport, {
      interceptors: [createTracingClientInterceptor({ tracer: tracerOf("client"), rpcSystem: "grpc" })],
    });
  }

  /** The finished spans of one scope and kind (exactly one expected). */
  function one(scope: string, kind: SpanKind, spans = exporter.getFinishedSpans()): ReadableSpan {
    const found = spans.filter((s) => s.instrumentationScope.name === scope && s.kind === kind);
    assert.equal(
      found.length,
      1,
      `one ${scope} ${SpanKind[kind]} span, got ${spans.map((s) => `${s.instrumentationScope.name}:${SpanKind[s.kind]}`)}`,
    );
    return found[0] as ReadableSpan;
  }

  function assertChain(spans: ReadableSpan[]): void {
    const traceIds = new Set(exporter.getFinishedSpans().map((s) => s.spanContext().traceId));
    assert.equal(traceIds.size, 1, "one trace");
    for (let i = 1; i < spans.length; i++) {
      const parent = spans[i - 1] as ReadableSpan;
      const child = spans[i] as ReadableSpan;
      assert.equal(
        child.parentSpanContext?.spanId,
        parent.spanContext().spanId,
        `${child.instrumentationScope.name} ${SpanKind[child.kind]} parent`,
      );
    }
  }

  /** Finished spans arrive when each call ends; the server spans end just after the reply is sent. */
  async function spansSettled(n: number): Promise<ReadableSpan[]> {
    for (let i = 0; i < 500 && exporter.getFinishedSpans().length < n; i++) await new Promise((r) => setTimeout(r, 10));
    return exporter.getFinishedSpans();
  }

  for (const hop of ["jsonrpc", "native"] as const) {
    describe(`client -(gRPC)-> A -(${hop})-> B`, () => {
      it("yields one trace with correct parent links and OK status", async () => {
        const client = newClient();
        const res = await client.echo({ text: "hello" }, { headers: { "x-hop": hop } });
        assert.equal(res.text, "hello");
        await spansSettled(4);
        const chain = [one("client", SpanKind.CLIENT), one("A", SpanKind.SERVER), one("A", SpanKind.CLIENT), one("B", SpanKind.SERVER)];
        assertChain(chain);
        for (const s of chain) {
          assert.equal(s.name, "petrel.testing.v1.TestService/Echo");
          assert.equal(s.attributes["rpc.service"], "petrel.testing.v1.TestService");
          assert.equal(s.attributes["rpc.method"], "Echo");
          assert.equal(s.attributes["rpc.grpc.status_code"], 0);
          assert.equal(s.status.code, SpanStatusCode.UNSET);
        }
        const [, aServer, aClient, bServer] = chain as [ReadableSpan, ReadableSpan, ReadableSpan, ReadableSpan];
        assert.equal(aServer.attributes["rpc.system"], "grpc");
        assert.equal(aServer.attributes["petrel.protocol"], "grpc");
        assert.equal(aServer.attributes["network.peer.address"], "127.0.0.1");
        assert.equal(aClient.attributes["rpc.system"], hop === "jsonrpc" ? "jsonrpc" : "petrel");
        assert.equal(bServer.attributes["rpc.system"], hop === "jsonrpc" ? "jsonrpc" : "petrel");
        assert.equal(bServer.attributes["petrel.protocol"], hop === "jsonrpc" ? "jsonrpc/http" : "petrel/1");
        assert.equal(seenByB.traceparent, `00-${bServer.parentSpanContext?.traceId}-${aClient.spanContext().spanId}-01`);
        // The server span is the active one while the handler runs.
        assert.equal(activeInA, aServer.spanContext().spanId);
      });

      it("an error in B marks B's span and every span up to the client", async () => {
        const client = newClient();
        await assert.rejects(
          client.echo({ text: "x", failCode: Code.UNAVAILABLE, failMessage: "B is down" }, { headers: { "x-hop": hop } }),
          (e) => {
            assert.equal(RpcError.from(e).code, Code.UNAVAILABLE);
            return true;
          },
        );
        await spansSettled(4);
        const chain = [one("client", SpanKind.CLIENT), one("A", SpanKind.SERVER), one("A", SpanKind.CLIENT), one("B", SpanKind.SERVER)];
        assertChain(chain);
        for (const s of chain) {
          assert.equal(s.attributes["rpc.grpc.status_code"], Code.UNAVAILABLE, `${s.instrumentationScope.name} ${SpanKind[s.kind]}`);
          assert.equal(s.status.code, SpanStatusCode.ERROR);
          assert.equal(s.attributes["error.type"], "UNAVAILABLE");
        }
        assert.equal(chain[3]?.status.message, "B is down");
      });

      it("a client error code fails client spans only (server spans stay unset, per the conventions)", async () => {
        const client = newClient();
        await assert.rejects(
          client.echo({ text: "x", failCode: Code.NOT_FOUND, failMessage: "no such thing" }, { headers: { "x-hop": hop } }),
        );
        await spansSettled(4);
        const bServer = one("B", SpanKind.SERVER);
        assert.equal(bServer.attributes["rpc.grpc.status_code"], Code.NOT_FOUND);
        assert.equal(bServer.status.code, SpanStatusCode.UNSET);
        assert.equal(one("A", SpanKind.CLIENT).status.code, SpanStatusCode.ERROR);
        assert.equal(one("client", SpanKind.CLIENT).status.code, SpanStatusCode.ERROR);
        assertChain([one("client", SpanKind.CLIENT), one("A", SpanKind.SERVER), one("A", SpanKind.CLIENT), bServer]);
      });

      it("tracestate travels with the trace", async () => {
        const client = newClient();
        const parent: Context = trace.setSpanContext(ROOT_CONTEXT, {
          traceId: TID,
          spanId: "00f067aa0ba902b7",
          traceFlags: TraceFlags.SAMPLED,
          isRemote: true,
          traceState: createTraceState("vendor=abc,other=1"),
        });
        await context.with(parent, () => client.echo({ text: "ts" }, { headers: { "x-hop": hop } }));
        await spansSettled(4);
        const bServer = one("B", SpanKind.SERVER);
        assert.equal(bServer.spanContext().traceId, TID);
        assert.equal(bServer.spanContext().traceState?.serialize(), "vendor=abc,other=1");
        assert.equal(seenByB.tracestate, "vendor=abc,other=1");
        assert.equal(one("client", SpanKind.CLIENT).parentSpanContext?.spanId, "00f067aa0ba902b7");
      });
    });
  }

  it("a malformed traceparent is ignored: A starts a new trace and the call succeeds", async () => {
    const transport = createGrpcTransport({ baseUrl: urlA });
    transports.push(transport);
    const plain = createClient(TestService, transport);
    const bad = `00-${TID.toUpperCase()}-00f067aa0ba902b7-01`;
    const res = await plain.echo({ text: "ok" }, { headers: { traceparent: bad, tracestate: "vendor=abc", "x-hop": "native" } });
    assert.equal(res.text, "ok");
    await spansSettled(3);
    const aServer = one("A", SpanKind.SERVER);
    assert.equal(aServer.parentSpanContext, undefined);
    assert.notEqual(aServer.spanContext().traceId, TID.toLowerCase());
    assert.equal(aServer.spanContext().traceState, undefined);
    assertChain([aServer, one("A", SpanKind.CLIENT), one("B", SpanKind.SERVER)]);
    assert.notEqual(seenByB.traceparent, bad);
  });

  describe("HTTP -(REST)-> A -(gRPC)-> B", () => {
    /** A GET through the REST gateway, as an OTel-instrumented HTTP client would send it. */
    function restGet(path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
      return new Promise((resolve, reject) => {
        const agent = new http.Agent({ keepAlive: false });
        const req = http.request({ host: "127.0.0.1", port: portA, path, method: "GET", agent, headers }, (res) => {
          let body = "";
          res.setEncoding("utf8").on("data", (d: string) => {
            body += d;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on("error", reject);
        req.end();
      });
    }

    /** Runs a REST call inside a CLIENT span, its context injected into the HTTP headers. */
    async function tracedGet(path: string, traceState?: string): Promise<{ res: { status: number; body: string }; span: ReadableSpan }> {
      const tracer = tracerOf("client");
      const span = tracer.startSpan(`GET ${path}`, { kind: SpanKind.CLIENT });
      const headers: Record<string, string> = {};
      let ctx = trace.setSpan(ROOT_CONTEXT, span);
      if (traceState !== undefined) ctx = trace.setSpanContext(ctx, { ...span.spanContext(), traceState: createTraceState(traceState) });
      propagation.inject(ctx, headers);
      const res = await restGet(path, headers);
      if (res.status !== 200) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
      return { res, span: span as unknown as ReadableSpan };
    }

    it("yields one trace with correct parent links", async () => {
      const { res } = await tracedGet("/v1/shelves/s1/books/b1", "rojo=00f067aa0ba902b7");
      assert.equal(res.status, 200, res.body);
      assert.equal(JSON.parse(res.body).title, "Dune");
      await spansSettled(4);
      const chain = [one("client", SpanKind.CLIENT), one("A", SpanKind.SERVER), one("A", SpanKind.CLIENT), one("B", SpanKind.SERVER)];
      assertChain(chain);
      const aServer = chain[1] as ReadableSpan;
      assert.equal(aServer.name, "petrel.gateway.testing.v1.LibraryService/GetBook");
      assert.equal(aServer.attributes["petrel.protocol"], "rest");
      assert.equal(chain[3]?.name, "petrel.testing.v1.TestService/Echo");
      assert.equal(chain[3]?.spanContext().traceState?.serialize(), "rojo=00f067aa0ba902b7");
    });

    it("B's failure marks B's span, A's spans and the HTTP status", async () => {
      const { res } = await tracedGet("/v1/shelves/s1/books/fail");
      assert.equal(res.status, 503, res.body);
      await spansSettled(4);
      const chain = [one("client", SpanKind.CLIENT), one("A", SpanKind.SERVER), one("A", SpanKind.CLIENT), one("B", SpanKind.SERVER)];
      assertChain(chain);
      for (const s of chain) assert.equal(s.status.code, SpanStatusCode.ERROR);
      for (const s of chain.slice(1)) assert.equal(s.attributes["rpc.grpc.status_code"], Code.UNAVAILABLE);
    });

    it("a malformed traceparent header starts a new trace", async () => {
      const res = await restGet("/v1/shelves/s1/books/b1", { traceparent: "00-not-a-trace-01", tracestate: "vendor=abc" });
      assert.equal(res.status, 200, res.body);
      await spansSettled(3);
      const aServer = one("A", SpanKind.SERVER);
      assert.equal(aServer.parentSpanContext, undefined);
      assertChain([aServer, one("A", SpanKind.CLIENT), one("B", SpanKind.SERVER)]);
    });
  });
});
