/**
 * Tracing interceptors without an OpenTelemetry context manager (Petrel's own context storage
 * links handler calls), on streams, with a user-supplied propagator, and option validation.
 * In-memory transports: no sockets.
 */
import assert from "node:assert/strict";
import { after, afterEach, describe, it } from "node:test";
import { SpanKind, SpanStatusCode, propagation, type TextMapPropagator } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { Code, RpcError, createClient, createInMemoryTransport, createRouter } from "@petrel/core";
import "@petrel/node"; // installs Petrel's AsyncLocalStorage context storage
import { TestService, createTestServiceImpl } from "@petrel/testing";
import { createTracingClientInterceptor, createTracingServerInterceptor, type TracingOptions } from "./tracing.js";

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

function setup(extra: TracingOptions = {}) {
  const tracer = (name: string) => ({ ...extra, tracer: provider.getTracer(name) });
  const routerB = createRouter({ interceptors: [createTracingServerInterceptor(tracer("B"))] }).service(
    TestService,
    createTestServiceImpl(),
  );
  const toB = createClient(TestService, createInMemoryTransport(routerB), { interceptors: [createTracingClientInterceptor(tracer("A"))] });
  const routerA = createRouter({ interceptors: [createTracingServerInterceptor(tracer("A"))] }).service(TestService, {
    ...createTestServiceImpl(),
    echo: (req) => toB.echo(req),
  });
  return createClient(TestService, createInMemoryTransport(routerA), { interceptors: [createTracingClientInterceptor(tracer("client"))] });
}

function one(scope: string, kind: SpanKind): ReadableSpan {
  const found = exporter.getFinishedSpans().filter((s) => s.instrumentationScope.name === scope && s.kind === kind);
  assert.equal(found.length, 1, `one ${scope} ${SpanKind[kind]} span`);
  return found[0] as ReadableSpan;
}

function assertChain(): void {
  const chain = [one("client", SpanKind.CLIENT), one("A", SpanKind.SERVER), one("A", SpanKind.CLIENT), one("B", SpanKind.SERVER)];
  assert.equal(new Set(chain.map((s) => s.spanContext().traceId)).size, 1, "one trace");
  for (let i = 1; i < chain.length; i++) {
    assert.equal(chain[i]?.parentSpanContext?.spanId, chain[i - 1]?.spanContext().spanId);
  }
}

describe("tracing interceptors", () => {
  afterEach(() => exporter.reset());
  after(() => provider.shutdown());

  it("link calls made in handlers through Petrel's context storage when OTel has no context manager", async () => {
    const client = setup();
    assert.equal((await client.echo({ text: "hi" })).text, "hi");
    assertChain();
    assert.equal(one("A", SpanKind.SERVER).attributes["rpc.system"], "petrel");
    assert.equal(one("A", SpanKind.SERVER).attributes["network.peer.address"], undefined);
  });

  it("use a propagator the user supplies (the API's global one here)", async () => {
    const fields: string[] = [];
    const spy: TextMapPropagator = {
      inject: (c, carrier, setter) => {
        propagation.inject(c, carrier, setter);
        fields.push("inject");
      },
      extract: (c, carrier, getter) => propagation.extract(c, carrier, getter),
      fields: () => propagation.fields(),
    };
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    try {
      const client = setup({ propagator: spy });
      await client.echo({ text: "hi" });
      assertChain();
      assert.deepEqual(fields, ["inject", "inject"]);
    } finally {
      propagation.disable();
    }
  });

  it("end a server stream's spans when the stream ends, with its status", async () => {
    const client = setup();
    const seen: number[] = [];
    await assert.rejects(
      (async () => {
        for await (const m of client.serverStream({ text: "s", count: 3, failCode: Code.DATA_LOSS })) {
          // Nothing has ended while the stream is still being read.
          assert.equal(exporter.getFinishedSpans().length, 0);
          seen.push(m.count);
        }
      })(),
      (e) => RpcError.from(e).code === Code.DATA_LOSS,
    );
    assert.deepEqual(seen, [0, 1, 2]);
    const clientSpan = one("client", SpanKind.CLIENT);
    const serverSpan = one("A", SpanKind.SERVER);
    assert.equal(serverSpan.parentSpanContext?.spanId, clientSpan.spanContext().spanId);
    assert.equal(serverSpan.name, "petrel.testing.v1.TestService/ServerStream");
    for (const s of [clientSpan, serverSpan]) {
      assert.equal(s.status.code, SpanStatusCode.ERROR);
      assert.equal(s.attributes["rpc.grpc.status_code"], Code.DATA_LOSS);
    }
  });

  it("mark a stream the caller stops reading as CANCELLED", async () => {
    const client = setup();
    for await (const m of client.serverStream({ text: "s", count: 5 })) {
      assert.equal(m.count, 0);
      break;
    }
    const clientSpan = one("client", SpanKind.CLIENT);
    assert.equal(clientSpan.attributes["rpc.grpc.status_code"], Code.CANCELLED);
    assert.equal(clientSpan.status.code, SpanStatusCode.ERROR);
  });

  it("reject options that are not a tracer or a propagator", () => {
    assert.throws(() => createTracingServerInterceptor({ propagator: {} as TextMapPropagator }), TypeError);
    assert.throws(() => createTracingClientInterceptor({ tracer: {} as never }), TypeError);
  });
});
