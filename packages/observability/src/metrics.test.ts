import assert from "node:assert/strict";
import { channel as diagnosticsChannel } from "node:diagnostics_channel";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";
import { Code, createClient, createInMemoryTransport, createRouter, RpcError } from "@petrel/core";
import { createTestServiceImpl, TestService } from "@petrel/testing";
import { Registry } from "prom-client";
import { createMetrics } from "./metrics.js";
import { METRIC_NAMES } from "./metrics-adapters.js";
import { rpcSystemOf } from "./metrics-labels.js";
import { metricValue, parseMetricsText } from "./metrics-text.js";

const SVC = "petrel.testing.v1.TestService";

function setup(options: Parameters<typeof createMetrics>[0] = {}) {
  const metrics = createMetrics(options);
  const router = createRouter({ interceptors: [metrics.serverInterceptor] }).service(TestService, createTestServiceImpl());
  const client = createClient(TestService, createInMemoryTransport(router), { interceptors: [metrics.clientInterceptor] });
  const scrape = async () => parseMetricsText(await metrics.registry.metrics());
  return { metrics, client, scrape };
}

async function* requests(texts: string[]) {
  for (const text of texts) yield { text };
}

describe("createMetrics: call metrics", () => {
  it("records durations per system/service/method/status on server and client, messages per RPC, and no calls left in flight", async () => {
    const { client, scrape } = setup();
    await client.echo({ text: "a" });
    await client.echo({ text: "b" });
    await assert.rejects(client.echo({ text: "c", failCode: Code.INVALID_ARGUMENT, failMessage: "no" }), RpcError);
    const streamed: string[] = [];
    for await (const r of client.serverStream({ text: "s", count: 3 })) streamed.push(r.text);
    assert.equal(streamed.length, 3);
    assert.equal((await client.clientStream(requests(["x", "y"]))).count, 2);

    const s = await scrape();
    const server = { rpc_system: "in_memory", rpc_service: SVC };
    const client_ = { rpc_system: "petrel", rpc_service: SVC };
    const ok = { rpc_grpc_status_code: "0", rpc_status: "OK" };
    const bad = { rpc_grpc_status_code: "3", rpc_status: "INVALID_ARGUMENT" };
    const dur = METRIC_NAMES.server.duration;
    assert.equal(metricValue(s, `${dur}_count`, { ...server, rpc_method: "Echo", ...ok }), 2);
    assert.equal(metricValue(s, `${dur}_count`, { ...server, rpc_method: "Echo", ...bad }), 1);
    assert.equal(metricValue(s, `${dur}_count`, { ...server, rpc_method: "ServerStream", ...ok }), 1);
    assert.equal(metricValue(s, `${dur}_count`, { ...server, rpc_method: "ClientStream", ...ok }), 1);
    assert.equal(metricValue(s, `${METRIC_NAMES.client.duration}_count`, { ...client_, rpc_method: "Echo", ...bad }), 1);
    assert.equal(metricValue(s, `${METRIC_NAMES.client.duration}_count`, { ...client_, rpc_method: "Echo" }), 3);
    // Every observation is in the +Inf bucket and the sum is a non-negative number of seconds.
    assert.equal(metricValue(s, `${dur}_bucket`, { ...server, rpc_method: "Echo", ...ok, le: "+Inf" }), 2);
    assert.ok((metricValue(s, `${dur}_sum`, { ...server, rpc_method: "Echo", ...ok }) ?? -1) >= 0);
    // Messages per RPC: the server received 2 on ClientStream, sent 3 on ServerStream.
    assert.equal(metricValue(s, `${METRIC_NAMES.server.requestsPerRpc}_sum`, { ...server, rpc_method: "ClientStream" }), 2);
    assert.equal(metricValue(s, `${METRIC_NAMES.server.responsesPerRpc}_sum`, { ...server, rpc_method: "ServerStream" }), 3);
    assert.equal(metricValue(s, `${METRIC_NAMES.client.responsesPerRpc}_sum`, { ...client_, rpc_method: "ServerStream" }), 3);
    // A failed unary call received its request and sent no response.
    assert.equal(metricValue(s, `${METRIC_NAMES.server.responsesPerRpc}_sum`, { ...server, rpc_method: "Echo" }), 2);
    assert.equal(metricValue(s, METRIC_NAMES.server.active, { ...server, rpc_method: "Echo" }), 0);
    assert.equal(metricValue(s, METRIC_NAMES.client.active, { ...client_, rpc_method: "ServerStream" }), 0);
    // No size histograms unless asked for.
    assert.equal(metricValue(s, `${METRIC_NAMES.server.requestSize}_count`), undefined);
  });

  it("a response stream the reader abandons counts as CANCELLED", async () => {
    const { client, scrape } = setup();
    for await (const _ of client.serverStream({ text: "s", count: 5 })) break;
    const s = await scrape();
    assert.equal(metricValue(s, `${METRIC_NAMES.client.duration}_count`, { rpc_method: "ServerStream", rpc_status: "CANCELLED" }), 1);
  });

  it("messageSizes: true records protobuf-encoded request and response sizes", async () => {
    const { client, scrape } = setup({ messageSizes: true });
    const payload = new Uint8Array(100).fill(7);
    await client.echo({ text: "hi", payload });
    // EchoRequest: text "hi" (tag, length, 2 bytes) + payload (tag, length, 100 bytes) = 106 bytes.
    // EchoResponse: the same 106 + deadline_ms = -1 (tag + 10-byte varint) = 117 bytes.
    const s = await scrape();
    for (const side of ["server", "client"] as const) {
      assert.equal(metricValue(s, `${METRIC_NAMES[side].requestSize}_sum`, { rpc_method: "Echo" }), 106);
      assert.equal(metricValue(s, `${METRIC_NAMES[side].responseSize}_sum`, { rpc_method: "Echo" }), 117);
      assert.equal(metricValue(s, `${METRIC_NAMES[side].requestSize}_bucket`, { rpc_method: "Echo", le: "64" }), 0);
      assert.equal(metricValue(s, `${METRIC_NAMES[side].requestSize}_bucket`, { rpc_method: "Echo", le: "256" }), 1);
    }
  });

  it("clientInterceptorFor(system) labels client calls with that system; a shared registry is reused", async () => {
    const registry = new Registry();
    const metrics = createMetrics({ registry, clientSystem: "grpc" });
    assert.equal(metrics.registry, registry);
    const router = createRouter().service(TestService, createTestServiceImpl());
    const t = createInMemoryTransport(router);
    await createClient(TestService, t, { interceptors: [metrics.clientInterceptor] }).echo({ text: "a" });
    await createClient(TestService, t, { interceptors: [metrics.clientInterceptorFor("jsonrpc/http")] }).echo({ text: "a" });
    const s = parseMetricsText(await registry.metrics());
    assert.equal(metricValue(s, `${METRIC_NAMES.client.duration}_count`, { rpc_system: "grpc" }), 1);
    assert.equal(metricValue(s, `${METRIC_NAMES.client.duration}_count`, { rpc_system: "jsonrpc" }), 1);
    assert.throws(() => createMetrics({ path: "metrics" }), /path must start with "\/"/);
  });

  it("rpcSystemOf maps every Petrel protocol and sanitizes unknown ones", () => {
    assert.deepEqual(
      [
        "petrel/1",
        "grpc",
        "connect",
        "grpc-web",
        "rest",
        "jsonrpc/http",
        "jsonrpc/ws",
        "jsonrpc/tcp",
        "netrpc-gob",
        "in-memory",
        "My Proto/2",
        "",
      ].map(rpcSystemOf),
      ["petrel", "grpc", "connect", "grpc_web", "rest", "jsonrpc", "jsonrpc", "jsonrpc", "netrpc", "in_memory", "my_proto_2", "unknown"],
    );
  });
});

describe("createMetrics: /metrics handler", () => {
  it("serves GET and HEAD on its path in the text format, 405 for other methods, and leaves other paths alone", async () => {
    const { metrics, client } = setup();
    await client.echo({ text: "a" });
    const server: Server = createServer((req, res) => {
      if (!metrics.handler(req, res)) {
        res.writeHead(404);
        res.end("not mine");
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const r = await fetch(`${base}/metrics?x=1`);
      assert.equal(r.status, 200);
      assert.match(r.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
      const body = await r.text();
      assert.match(body, /^# HELP rpc_server_duration_seconds /m);
      assert.match(body, /^# TYPE rpc_server_duration_seconds histogram$/m);
      assert.equal(metricValue(parseMetricsText(body), "rpc_server_duration_seconds_count", { rpc_method: "Echo", rpc_status: "OK" }), 1);
      const head = await fetch(`${base}/metrics`, { method: "HEAD" });
      assert.equal(head.status, 200);
      assert.equal(await head.text(), "");
      const post = await fetch(`${base}/metrics`, { method: "POST", body: "x" });
      assert.equal(post.status, 405);
      assert.equal(post.headers.get("allow"), "GET, HEAD");
      await post.text();
      const other = await fetch(`${base}/metricsx`);
      assert.deepEqual([other.status, await other.text()], [404, "not mine"]);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe("createMetrics: event adapters", () => {
  it("observeBreakers: one state at 1, transitions and rejected calls counted", async () => {
    const m = createMetrics();
    const onEvent = m.observeBreakers();
    onEvent({ type: "state_change", name: "inv", from: "closed", to: "open" });
    onEvent({ type: "not_permitted", name: "inv", state: "open" });
    onEvent({ type: "not_permitted", name: "inv", state: "open" });
    onEvent({ type: "state_change", name: "inv", from: "open", to: "half_open" });
    const s = parseMetricsText(await m.registry.metrics());
    assert.equal(metricValue(s, METRIC_NAMES.breakerState, { breaker: "inv", state: "half_open" }), 1);
    assert.equal(metricValue(s, METRIC_NAMES.breakerState, { breaker: "inv", state: "open" }), 0);
    assert.equal(metricValue(s, METRIC_NAMES.breakerState, { breaker: "inv" }), 1);
    assert.equal(metricValue(s, METRIC_NAMES.breakerTransitions, { breaker: "inv", from: "closed", to: "open" }), 1);
    assert.equal(metricValue(s, METRIC_NAMES.breakerRejected, { breaker: "inv" }), 2);
    // A second adapter on the same registry shares the metrics instead of failing to register.
    m.observeBreakers()({ type: "not_permitted", name: "inv", state: "open" });
    assert.equal(metricValue(parseMetricsText(await m.registry.metrics()), METRIC_NAMES.breakerRejected, { breaker: "inv" }), 3);
  });

  it("observeLimiter: drops by reason, adaptive limit and queue length", async () => {
    const m = createMetrics();
    const onEvent = m.observeLimiter("bulk");
    onEvent({ type: "rejected", reason: "queue_full" });
    onEvent({ type: "rejected", reason: "queue_full" });
    onEvent({ type: "dropped" });
    onEvent({ type: "limit", to: 17 });
    onEvent({ type: "queued", queued: 4 });
    onEvent({ type: "something-else" });
    const s = parseMetricsText(await m.registry.metrics());
    assert.equal(metricValue(s, METRIC_NAMES.limiterDrops, { limiter: "bulk", reason: "queue_full" }), 2);
    assert.equal(metricValue(s, METRIC_NAMES.limiterDrops, { limiter: "bulk", reason: "throttled" }), 1);
    assert.equal(metricValue(s, METRIC_NAMES.limiterLimit, { limiter: "bulk" }), 17);
    assert.equal(metricValue(s, METRIC_NAMES.limiterQueued, { limiter: "bulk" }), 4);
  });

  it("observeChannel: endpoint states, ready endpoints, ejections; SHUTDOWN drops the series; unsubscribe stops it", async () => {
    const m = createMetrics();
    const listeners = new Set<(e: { t: string; [k: string]: unknown }) => void>();
    const channel = {
      onEvent(l: (e: { t: string; [k: string]: unknown }) => void) {
        listeners.add(l);
        return () => listeners.delete(l);
      },
    };
    const emit = (e: { t: string; [k: string]: unknown }) => {
      for (const l of listeners) l(e);
    };
    const stop = m.observeChannel(channel, "inv");
    emit({ t: "state", id: "a", from: "IDLE", to: "READY" });
    emit({ t: "state", id: "b", from: "IDLE", to: "TRANSIENT_FAILURE" });
    emit({ t: "picker", ready: ["a"] });
    emit({ t: "eject", id: "b", reason: "errors", durationMs: 30000 });
    let s = parseMetricsText(await m.registry.metrics());
    assert.equal(metricValue(s, METRIC_NAMES.channelEndpointState, { channel: "inv", endpoint: "a", state: "READY" }), 1);
    assert.equal(metricValue(s, METRIC_NAMES.channelEndpointState, { channel: "inv", endpoint: "b", state: "READY" }), 0);
    assert.equal(metricValue(s, METRIC_NAMES.channelReadyEndpoints, { channel: "inv" }), 1);
    assert.equal(metricValue(s, METRIC_NAMES.channelEjections, { channel: "inv", endpoint: "b" }), 1);
    emit({ t: "state", id: "b", from: "TRANSIENT_FAILURE", to: "SHUTDOWN" });
    s = parseMetricsText(await m.registry.metrics());
    assert.equal(metricValue(s, METRIC_NAMES.channelEndpointState, { endpoint: "b" }), undefined);
    stop();
    assert.equal(listeners.size, 0);
  });

  it("observeBalancerPicks: counts calls per picked endpoint and outcome", async () => {
    const m = createMetrics();
    const picked = new WeakMap<object, { id: string }>();
    const router = createRouter().service(TestService, createTestServiceImpl());
    const inner = createInMemoryTransport(router);
    // A stand-in for the channel: notes an endpoint per request the way @petrel/channel's notePicked does.
    let n = 0;
    const channelLike = {
      unary: (req: Parameters<typeof inner.unary>[0]) => {
        picked.set(req, { id: n++ % 2 === 0 ? "10.0.0.1:80" : "10.0.0.2:80" });
        return inner.unary(req);
      },
      stream: inner.stream.bind(inner),
    } as typeof inner;
    const client = createClient(TestService, channelLike, { interceptors: [m.observeBalancerPicks((req) => picked.get(req), "inv")] });
    await client.echo({ text: "1" });
    await client.echo({ text: "2" });
    await assert.rejects(client.echo({ text: "3", failCode: Code.UNAVAILABLE }));
    const s = parseMetricsText(await m.registry.metrics());
    assert.equal(metricValue(s, METRIC_NAMES.balancerPicks, { channel: "inv", endpoint: "10.0.0.1:80", rpc_status: "OK" }), 1);
    assert.equal(metricValue(s, METRIC_NAMES.balancerPicks, { channel: "inv", endpoint: "10.0.0.1:80", rpc_status: "UNAVAILABLE" }), 1);
    assert.equal(metricValue(s, METRIC_NAMES.balancerPicks, { endpoint: "10.0.0.2:80" }), 1);
  });

  it("observeServer reads detected counts at scrape time; observeGrpcConnections counts diagnostics events", async () => {
    const m = createMetrics();
    const detected = { native: 0, h2: 0, refused: 0 };
    const stop = m.observeServer({ detected, connections: 2 }, "arith");
    detected.h2 = 3;
    detected.refused = 1;
    let s = parseMetricsText(await m.registry.metrics());
    assert.equal(metricValue(s, METRIC_NAMES.serverConnections, { server: "arith", protocol: "h2" }), 3);
    assert.equal(metricValue(s, METRIC_NAMES.serverConnections, { server: "arith", protocol: "refused" }), 1);
    assert.equal(metricValue(s, METRIC_NAMES.serverOpenConnections, { server: "arith" }), 2);
    detected.h2 = 5;
    s = parseMetricsText(await m.registry.metrics());
    assert.equal(metricValue(s, METRIC_NAMES.serverConnections, { server: "arith", protocol: "h2" }), 5);
    stop();
    s = parseMetricsText(await m.registry.metrics());
    assert.equal(metricValue(s, METRIC_NAMES.serverConnections, { server: "arith" }), undefined);

    const unsubscribe = m.observeGrpcConnections();
    const ch = diagnosticsChannel("petrel:grpc:connection");
    ch.publish({ t: "too_many_pings", peer: "1.2.3.4:5", strikes: 3 });
    ch.publish({ t: "keepalive_timeout", side: "client", peer: "x", timeoutMs: 1 });
    ch.publish("garbage");
    unsubscribe();
    ch.publish({ t: "too_many_pings", peer: "1.2.3.4:5", strikes: 3 });
    s = parseMetricsText(await m.registry.metrics());
    assert.equal(metricValue(s, METRIC_NAMES.grpcConnectionEvents, { event: "too_many_pings", side: "server" }), 1);
    assert.equal(metricValue(s, METRIC_NAMES.grpcConnectionEvents, { event: "keepalive_timeout", side: "client" }), 1);
  });
});
