/**
 * Keepalive end to end, over real sockets: client and server dead-peer detection behind a TCP
 * proxy that can be frozen (a dead network path: nothing passes, nothing closes), and ping policy
 * enforcement against @grpc/grpc-js clients (one flooding pings, one well-behaved).
 * No assertion depends on timing; waits are bounded by generous timeouts only.
 */
import assert from "node:assert/strict";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import * as http2 from "node:http2";
import * as net from "node:net";
import { describe, it } from "node:test";
import { Worker } from "node:worker_threads";
import * as grpc from "@grpc/grpc-js";
import { Code, createClient, createRouter, type ServiceImpl } from "@petrel/core";
import { createGrpcServer, createGrpcTransport, grpcConnectionChannel, type GrpcConnectionEvent, type GrpcServer } from "@petrel/node";
import { TestService, createTestServiceImpl, eventually, expectRpcError } from "@petrel/testing";
import { collectUnary, createGrpcJsClient, type EchoResponse, type TestServiceClient } from "../../../interop/grpc-js/grpc-js-peer.ts";
import { KeepalivePinger } from "./grpc-keepalive.ts";

/** Per-test bound: keepalive needs well under a second here, but the box may be busy. */
const TEST_TIMEOUT = { timeout: 60_000 };
const WAIT_MS = 20_000;

function connectionEvents(): { events: GrpcConnectionEvent[]; stop(): void } {
  const events: GrpcConnectionEvent[] = [];
  const fn = (m: unknown) => events.push(m as GrpcConnectionEvent);
  subscribe(grpcConnectionChannel.name, fn);
  return { events, stop: () => unsubscribe(grpcConnectionChannel.name, fn) };
}

interface ProxiedConnection {
  client: net.Socket;
  upstream: net.Socket;
  /** The server's view of this connection ("127.0.0.1:port" of the proxy's upstream socket). */
  serverSidePeer: string;
  /** What the server sent towards the client. */
  fromServer: Buffer[];
  frozen: boolean;
}

interface FreezableProxy {
  port: number;
  connections: ProxiedConnection[];
  /** Stops forwarding on every open connection, both ways, without closing anything. */
  freeze(): void;
  close(): Promise<void>;
}

/**
 * A TCP proxy to `127.0.0.1:targetPort`. A frozen connection drops whatever arrives (the network
 * path is dead), but still passes on a close, so that sockets are released once an endpoint gives
 * up. Connections made after `freeze()` work normally.
 */
async function startProxy(targetPort: number): Promise<FreezableProxy> {
  const connections: ProxiedConnection[] = [];
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, "127.0.0.1");
    const c: ProxiedConnection = { client, upstream, serverSidePeer: "", fromServer: [], frozen: false };
    connections.push(c);
    upstream.once("connect", () => (c.serverSidePeer = `${upstream.localAddress}:${upstream.localPort}`));
    client.on("data", (chunk: Buffer) => {
      if (!c.frozen) upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (c.frozen) return;
      c.fromServer.push(chunk);
      client.write(chunk);
    });
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ]) {
      a.on("error", () => {});
      a.on("close", () => b.destroy());
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    connections,
    freeze() {
      for (const c of connections) c.frozen = true;
    },
    close() {
      for (const c of connections) {
        c.client.destroy();
        c.upstream.destroy();
      }
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** TestService whose `sleep` answers only when released (or when the call is cancelled). */
function gatedRouter() {
  const impl = createTestServiceImpl();
  const gate = { started: 0, aborted: 0, release: () => {} };
  const released = new Promise<void>((resolve) => (gate.release = resolve));
  const withGate: ServiceImpl<typeof TestService> = {
    ...impl,
    async sleep(_req, ctx) {
      gate.started++;
      await new Promise<void>((resolve) => {
        void released.then(resolve);
        ctx.signal.addEventListener("abort", () => resolve(), { once: true });
      });
      if (ctx.signal.aborted) gate.aborted++;
      return { cancelled: ctx.signal.aborted };
    },
  };
  return { router: createRouter().service(TestService, withGate), gate };
}

/** Every session the server accepts, in order. */
function trackSessions(server: GrpcServer): http2.ServerHttp2Session[] {
  const all: http2.ServerHttp2Session[] = [];
  server.http2Server.on("session", (s: http2.ServerHttp2Session) => all.push(s));
  return all;
}

function connectRaw(port: number): Promise<http2.ClientHttp2Session> {
  const s = http2.connect(`http://127.0.0.1:${port}`);
  s.on("error", () => {});
  return new Promise((resolve, reject) => {
    s.once("connect", () => resolve(s));
    s.once("close", () => reject(new Error("raw session closed before connecting")));
  });
}

/** A gRPC Echo with an empty request over a bare http2 session; resolves with grpc-status. */
function rawEcho(s: http2.ClientHttp2Session): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const req = s.request({
      ":method": "POST",
      ":path": "/petrel.testing.v1.TestService/Echo",
      "content-type": "application/grpc",
      te: "trailers",
    });
    req.on("error", reject);
    req.on("trailers", (t) => resolve(t["grpc-status"] as string | undefined));
    req.on("close", () => resolve(undefined));
    req.resume();
    // One uncompressed, empty message: flag 0, length 0.
    req.end(Buffer.alloc(5));
  });
}

function grpcJsEcho(client: TestServiceClient, text: string) {
  return collectUnary<EchoResponse>((cb) => client.Echo({ text }, new grpc.Metadata(), { deadline: Date.now() + WAIT_MS }, cb));
}

/** Collects grpc-js's own log lines (it reports "excess pings" there), silencing them. */
function captureGrpcJsLog(): { lines: string[]; stop(): void } {
  const lines: string[] = [];
  // The "excess pings" line is an ERROR: make sure GRPC_VERBOSITY=NONE does not hide it.
  if ((process.env.GRPC_VERBOSITY ?? "").toUpperCase() === "NONE") grpc.setLogVerbosity(grpc.logVerbosity.ERROR);
  const push = (...args: unknown[]) => lines.push(args.map(String).join(" "));
  grpc.setLogger({ error: push, warn: push, info: push, debug: push });
  return { lines, stop: () => grpc.setLogger(console) };
}

describe("keepalive end to end", () => {
  it("client: unanswered pings fail the call in flight with UNAVAILABLE; the next call reconnects", TEST_TIMEOUT, async () => {
    const seen = connectionEvents();
    const { router, gate } = gatedRouter();
    // No ping enforcement: this test is about the client's dead-peer detection only.
    const server = createGrpcServer({ router, keepaliveMinTimeMs: 0, keepalivePermitWithoutCalls: true });
    const { port } = await server.listen();
    const proxy = await startProxy(port);
    const baseUrl = `http://127.0.0.1:${proxy.port}`;
    const transport = createGrpcTransport({ baseUrl, keepaliveTimeMs: 200, keepaliveTimeoutMs: 1000 });
    try {
      const client = createClient(TestService, transport);
      assert.equal((await client.echo({ text: "warm" })).text, "warm");
      const stuck = client.sleep({ sleepMs: 1 });
      stuck.catch(() => {});
      await eventually(() => gate.started === 1, WAIT_MS, "the call to reach its handler");
      proxy.freeze();
      const err = await expectRpcError(stuck, Code.UNAVAILABLE);
      assert.match(err.message, /keepalive ping .* not acknowledged/);
      const timeouts = seen.events.filter((e) => e.t === "keepalive_timeout");
      assert.deepEqual(timeouts, [{ t: "keepalive_timeout", side: "client", peer: baseUrl, timeoutMs: 1000 }]);
      assert.equal(proxy.connections.length, 1);

      // The same transport dials again, through the (still working) proxy.
      assert.equal((await client.echo({ text: "after" })).text, "after");
      assert.equal(proxy.connections.length, 2, "a new connection");
      // The dead connection's close reached the server: the stuck handler was cancelled.
      await eventually(() => gate.aborted === 1, WAIT_MS, "the stuck handler to see the cancellation");
    } finally {
      seen.stop();
      gate.release();
      await transport.close();
      await proxy.close();
      await server.close({ graceMs: 2000 });
    }
  });

  it("a grpc-js client flooding pings gets GOAWAY too_many_pings, then reconnects", TEST_TIMEOUT, async () => {
    const seen = connectionEvents();
    const log = captureGrpcJsLog();
    // Default enforcement: pings at most every 5 minutes, and none without calls.
    const server = createGrpcServer({ router: createRouter().service(TestService, createTestServiceImpl()) });
    const { port } = await server.listen();
    const proxy = await startProxy(port);
    const client = createGrpcJsClient(`127.0.0.1:${proxy.port}`, {
      "grpc.keepalive_time_ms": 100,
      "grpc.keepalive_permit_without_calls": 1,
    });
    try {
      const first = await grpcJsEcho(client, "before");
      assert.equal(first.response?.text, "before", first.error?.message);
      await eventually(() => seen.events.some((e) => e.t === "too_many_pings"), WAIT_MS, "the server to refuse the pings");
      const ev = seen.events.find((e) => e.t === "too_many_pings");
      assert.ok(ev?.t === "too_many_pings");
      assert.ok(ev.strikes > 2, `GOAWAY after ${ev.strikes} strikes`);
      assert.equal(ev.peer, proxy.connections[0]?.serverSidePeer);
      // The GOAWAY reached grpc-js's connection, which understood it (A8: it doubles its ping interval).
      await eventually(() => log.lines.some((l) => /excess pings/.test(l)), WAIT_MS, "grpc-js to report the excess pings");
      assert.ok(Buffer.concat(proxy.connections[0]?.fromServer ?? []).includes("too_many_pings"), "GOAWAY debug data on the wire");

      // grpc-js reconnects for the next call. It still pings too often (every 200 ms now), so a
      // fresh connection may be refused again before a call on it ends on a very busy box: allow
      // a few attempts, each of which may only fail with UNAVAILABLE.
      let after: Awaited<ReturnType<typeof grpcJsEcho>> | undefined;
      for (let i = 0; i < 3 && after?.response === undefined; i++) {
        after = await grpcJsEcho(client, "after");
        if (after.error !== undefined) assert.equal(after.error.code, grpc.status.UNAVAILABLE, after.error.message);
      }
      assert.equal(after?.response?.text, "after", after?.error?.message);
      assert.ok(proxy.connections.length >= 2, "grpc-js opened a new connection");
    } finally {
      client.close();
      log.stop();
      seen.stop();
      await proxy.close();
      await server.close({ graceMs: 2000 });
    }
  });

  it("a grpc-js client pinging within the policy is never refused", TEST_TIMEOUT, async () => {
    const seen = connectionEvents();
    const log = captureGrpcJsLog();
    const server = createGrpcServer({
      router: createRouter().service(TestService, createTestServiceImpl()),
      keepaliveMinTimeMs: 100,
      keepalivePermitWithoutCalls: true,
    });
    const sessions = trackSessions(server);
    let pings = 0;
    server.http2Server.on("session", (s: http2.ServerHttp2Session) => s.on("ping", () => pings++));
    const { port } = await server.listen();
    // grpc-js sends each ping keepalive_time_ms after the previous ACK, so the server never sees
    // two of them closer than that, however late either side runs.
    const client = createGrpcJsClient(`127.0.0.1:${port}`, {
      "grpc.keepalive_time_ms": 200,
      "grpc.keepalive_permit_without_calls": 1,
    });
    try {
      const first = await grpcJsEcho(client, "before");
      assert.equal(first.response?.text, "before", first.error?.message);
      // Enough idle pings for the third strike, had the policy counted any.
      await eventually(() => pings >= 8, WAIT_MS, "eight pings from grpc-js");
      assert.deepEqual(
        seen.events.filter((e) => e.t === "too_many_pings"),
        [],
      );
      assert.equal(sessions.length, 1);
      assert.equal(sessions[0]?.closed || sessions[0]?.destroyed, false, "the session is still open");
      const second = await grpcJsEcho(client, "after");
      assert.equal(second.response?.text, "after", second.error?.message);
      assert.equal(sessions.length, 1, "the call used the same connection");
      assert.ok(!log.lines.some((l) => /excess pings/.test(l)), log.lines.join("\n"));
    } finally {
      client.close();
      log.stop();
      seen.stop();
      await server.close({ graceMs: 2000 });
    }
  });

  it("server: a client that stops answering pings is dropped; a healthy one keeps working", TEST_TIMEOUT, async () => {
    const seen = connectionEvents();
    const server = createGrpcServer({
      router: createRouter().service(TestService, createTestServiceImpl()),
      keepaliveTimeMs: 200,
      // Both ends of the healthy session live in this process: a generous timeout keeps a busy
      // event loop from passing for a dead peer.
      keepaliveTimeoutMs: 2000,
    });
    const sessions = trackSessions(server);
    const { port } = await server.listen();
    const proxy = await startProxy(port);
    let healthy: http2.ClientHttp2Session | undefined;
    let dying: http2.ClientHttp2Session | undefined;
    try {
      healthy = await connectRaw(port);
      let healthyPings = 0;
      healthy.on("ping", () => healthyPings++);
      assert.equal(await rawEcho(healthy), "0");
      dying = await connectRaw(proxy.port);
      let dyingPings = 0;
      dying.on("ping", () => dyingPings++);
      assert.equal(await rawEcho(dying), "0");
      // Both answer the server's pings while the path works.
      await eventually(() => healthyPings >= 1 && dyingPings >= 1, WAIT_MS, "server pings on both sessions");
      assert.equal(sessions.length, 2);
      const dyingPeer = proxy.connections[0]?.serverSidePeer;

      proxy.freeze();
      await eventually(() => seen.events.some((e) => e.t === "keepalive_timeout"), WAIT_MS, "the server's keepalive timeout");
      assert.deepEqual(seen.events, [{ t: "keepalive_timeout", side: "server", peer: dyingPeer, timeoutMs: 2000 }]);
      await eventually(() => sessions[1]?.destroyed === true, WAIT_MS, "the server to drop the silent session");
      // The proxy passed the close on, so the client learns of it too.
      await eventually(() => dying?.destroyed === true || dying?.closed === true, WAIT_MS, "the silent client's session to close");

      // The healthy session went on answering pings and still serves calls.
      const before = healthyPings;
      await eventually(() => healthyPings >= before + 2, WAIT_MS, "more server pings on the healthy session");
      assert.equal(await rawEcho(healthy), "0");
      assert.equal(sessions[0]?.closed || sessions[0]?.destroyed, false);
      assert.equal(seen.events.length, 1, "one keepalive timeout only");
    } finally {
      seen.stop();
      healthy?.destroy();
      dying?.destroy();
      await proxy.close();
      await server.close({ graceMs: 2000 });
    }
  });

  it("a stalled event loop is not mistaken for a dead peer", TEST_TIMEOUT, async () => {
    // The peer runs in a worker thread, so it answers pings while this thread is blocked. It
    // counts each ping it has answered in `acks` (after the tick in which nghttp2 wrote the ACK).
    const acks = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(
      `const { parentPort, workerData } = require("node:worker_threads");
      const http2 = require("node:http2");
      const srv = http2.createServer();
      srv.on("session", (s) => {
        s.on("error", () => {});
        s.on("ping", () => setImmediate(() => { Atomics.add(workerData.acks, 0, 1); Atomics.notify(workerData.acks, 0); }));
      });
      srv.listen(0, "127.0.0.1", () => parentPort.postMessage(srv.address().port));`,
      { eval: true, workerData: { acks } },
    );
    let session: http2.ClientHttp2Session | undefined;
    let pinger: KeepalivePinger | undefined;
    try {
      const port = await new Promise<number>((resolve, reject) => {
        worker.once("message", resolve);
        worker.once("error", reject);
      });
      session = await connectRaw(port);
      let sent = 0;
      let timeouts = 0;
      let stalled: string | undefined;
      const timeoutMs = 100;
      pinger = new KeepalivePinger(session, {
        timeMs: 20,
        timeoutMs,
        shouldPing: () => true,
        onTimeout: () => timeouts++,
        onSent: () => {
          if (++sent !== 1) return;
          const at = Date.now();
          setImmediate(() => {
            // Block until the peer has answered, then past the deadline: the ACK now waits in
            // the socket while the deadline timer is overdue.
            stalled = Atomics.wait(acks, 0, 0, WAIT_MS);
            while (Date.now() - at <= 2 * timeoutMs) {}
          });
        },
      });
      pinger.start();
      await eventually(() => sent >= 3 || timeouts > 0, WAIT_MS, "three pings or a timeout");
      // "ok": the peer answered during the stall; "not-equal": it had answered already before the
      // stall began (a busy box can run the worker first). Either way the ACK was there before the
      // deadline; only "timed-out" would mean the peer never answered.
      assert.ok(stalled === "ok" || stalled === "not-equal", `the peer answered the first ping (${stalled})`);
      assert.equal(timeouts, 0, "no keepalive timeout");
    } finally {
      pinger?.stop();
      session?.destroy();
      await worker.terminate();
    }
  });
});
