import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { after, describe, it } from "node:test";
import { Code, RpcError, createClient, createRouter, type Router } from "@petrel/core";
import { FrameType, parseCancel, parseGoAway, parseTrailers } from "@petrel/protocol-native";
import { TestService, createTestServiceImpl, eventually, type TestServiceProbe } from "@petrel/testing";
import { createNativeServer, createNativeTransport, handlerErrorChannel, type NativeServerOptions } from "./index.js";
import { RawPeer } from "./raw-peer-fixture.js";

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

function testRouter(probe?: TestServiceProbe): Router {
  return createRouter().service(TestService, createTestServiceImpl(probe));
}

async function startServer(options: Partial<NativeServerOptions> = {}, router = testRouter()) {
  const server = createNativeServer({ router, ...options });
  const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
  cleanups.push(() => server.close({ graceMs: 1000 }));
  return { server, port };
}

function client(port: number, options: Partial<Parameters<typeof createNativeTransport>[0]> = {}) {
  const transport = createNativeTransport({ address: `127.0.0.1:${port}`, ...options });
  cleanups.push(() => transport.close());
  return { transport, client: createClient(TestService, transport) };
}

async function codeOf(p: Promise<unknown>): Promise<Code | "ok"> {
  try {
    await p;
    return "ok";
  } catch (e) {
    assert.ok(e instanceof RpcError, String(e));
    return e.code;
  }
}

async function freePort(): Promise<number> {
  const s: Server = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("petrel/1 lifecycle", () => {
  it("graceful shutdown: in-flight calls finish, new streams are refused with UNAVAILABLE", async () => {
    const { server, port } = await startServer();
    const { client: c } = client(port);
    const inflight = c.sleep({ sleepMs: 300 });
    await eventually(() => server.connections === 1, 10_000, "connection");
    // A raw peer too, to see the GOAWAY and send a stream after it.
    const raw = await RawPeer.connect(port);
    cleanups.push(() => raw.destroy());
    raw.hello();
    // An open stream keeps the raw connection alive through the shutdown: Sleep(300 ms).
    raw.writer.writeRequestHeaders(1, "proto", "/petrel.testing.v1.TestService/Sleep", undefined, []);
    raw.writer.writeMessage(1, 1, new Uint8Array([0x08, 0xac, 0x02]));
    raw.send();
    // The server ACKs our SETTINGS in the same flush that follows handling the HEADERS behind it.
    await raw.waitFor((f) => f.some((x) => x.type === FrameType.SETTINGS && (x.flags & 1) === 1));
    const closing = server.close({ graceMs: 10_000 });
    assert.ok(await raw.waitFor((f) => f.some((x) => x.type === FrameType.GOAWAY)), "GOAWAY received");
    const goaway = parseGoAway(raw.frames.find((x) => x.type === FrameType.GOAWAY)?.payload as Uint8Array);
    assert.equal(goaway.errorCode, 0);
    assert.equal(goaway.lastStreamId, 1);
    raw.writer.writeRequestHeaders(3, "proto", "/petrel.testing.v1.TestService/Echo", undefined, []);
    raw.send();
    assert.ok(await raw.waitFor((f) => f.some((x) => x.type === FrameType.CANCEL && x.streamId === 3)), "late stream refused");
    const cancel = parseCancel(raw.frames.find((x) => x.type === FrameType.CANCEL)?.payload as Uint8Array);
    assert.equal(cancel.code, Code.UNAVAILABLE);
    assert.ok(await raw.waitFor((f) => f.some((x) => x.type === FrameType.TRAILERS && x.streamId === 1)), "stream 1 completed");
    assert.equal(parseTrailers(raw.frames.find((x) => x.type === FrameType.TRAILERS)?.payload as Uint8Array).code, Code.OK);
    assert.ok(await raw.waitClosed(), "server closed the drained connection");
    const res = await inflight;
    assert.equal(res.cancelled, false, "the in-flight call ran to completion");
    await closing;
    assert.equal(await codeOf(c.echo({ text: "after" })), Code.UNAVAILABLE, "nothing listens any more");
  });

  it("idle timeout closes a connection without streams; the client reconnects on the next call", async () => {
    const { server, port } = await startServer({ idleTimeoutMs: 150 });
    const { client: c } = client(port);
    assert.equal((await c.echo({ text: "1" })).text, "1");
    await eventually(() => server.connections === 0, 10_000, "idle close");
    assert.equal((await c.echo({ text: "2" })).text, "2");
  });

  it("an unknown protocol version gets the server's preface, GOAWAY UNSUPPORTED_VERSION and a close", async () => {
    const { port } = await startServer();
    const raw = await RawPeer.connect(port);
    cleanups.push(() => raw.destroy());
    raw.hello(2);
    assert.ok(await raw.waitClosed(), "server closed the connection");
    assert.equal(raw.serverVersion, 1);
    const g = raw.frames.find((x) => x.type === FrameType.GOAWAY);
    assert.ok(g, "GOAWAY received");
    const goaway = parseGoAway(g.payload);
    assert.equal(goaway.errorCode, 5);
    assert.match(goaway.debug, /unsupported protocol version 2/);
  });

  it("a malformed frame closes that connection with PROTOCOL_ERROR; other connections keep serving", async () => {
    const { port } = await startServer();
    const { client: c } = client(port);
    assert.equal((await c.echo({ text: "before" })).text, "before");
    const raw = await RawPeer.connect(port);
    cleanups.push(() => raw.destroy());
    raw.hello();
    // An unknown frame type 0x2a on stream 0.
    raw.send(new Uint8Array([0, 0, 0, 0, 0x2a, 0, 0, 0, 0, 0]));
    assert.ok(await raw.waitClosed(), "server closed the bad connection");
    const g = raw.frames.find((x) => x.type === FrameType.GOAWAY);
    assert.equal(g && parseGoAway(g.payload).errorCode, 1);
    assert.equal((await c.echo({ text: "after" })).text, "after");
  });

  it("a request over the server's message limit gets RESOURCE_EXHAUSTED (server-side check)", async () => {
    const { port } = await startServer({ settings: { maxMessageSize: 1000 } });
    const raw = await RawPeer.connect(port);
    cleanups.push(() => raw.destroy());
    raw.hello();
    raw.writer.writeRequestHeaders(1, "proto", "/petrel.testing.v1.TestService/Echo", undefined, []);
    raw.writer.writeMessage(1, 1, new Uint8Array(2000));
    raw.send();
    assert.ok(await raw.waitFor((f) => f.some((x) => x.type === FrameType.TRAILERS)));
    const t = parseTrailers(raw.frames.find((x) => x.type === FrameType.TRAILERS)?.payload as Uint8Array);
    assert.equal(t.code, Code.RESOURCE_EXHAUSTED);
    assert.match(t.message, /2000 bytes exceeds the limit of 1000/);
  });

  it("message size limits: client refuses to send over the server's limit; server refuses to send over the client's", async () => {
    const { port } = await startServer({ settings: { maxMessageSize: 10_000 } });
    const { client: c } = client(port, { settings: { maxMessageSize: 5_000 } });
    await c.echo({ text: "warm-up: SETTINGS exchanged" });
    assert.equal(await codeOf(c.echo({ payload: new Uint8Array(20_000) })), Code.RESOURCE_EXHAUSTED);
    assert.equal(await codeOf(c.echo({ payload: new Uint8Array(8_000) })), Code.RESOURCE_EXHAUSTED);
    assert.equal((await c.echo({ payload: new Uint8Array(4_000) })).payload.length, 4_000);
    // Default limit: 4 MiB.
    const { port: p2 } = await startServer();
    const { client: c2 } = client(p2);
    assert.equal(await codeOf(c2.echo({ payload: new Uint8Array(5 * 1024 * 1024) })), Code.RESOURCE_EXHAUSTED);
  });

  it("max concurrent streams: a stream beyond the limit gets RESOURCE_EXHAUSTED", async () => {
    const { port } = await startServer({ settings: { maxConcurrentStreams: 2 } });
    const { client: c } = client(port);
    const a = c.sleep({ sleepMs: 500 });
    const b = c.sleep({ sleepMs: 500 });
    const third = codeOf(c.sleep({ sleepMs: 500 }));
    assert.equal(await third, Code.RESOURCE_EXHAUSTED);
    await Promise.all([a, b]);
    assert.equal((await c.echo({ text: "later" })).text, "later");
  });

  it("request metadata over the server's header limit gets RESOURCE_EXHAUSTED", async () => {
    const { port } = await startServer({ settings: { maxHeaderBytes: 1024 } });
    const { client: c } = client(port);
    assert.equal(await codeOf(c.echo({ text: "x" }, { headers: { "x-big": "a".repeat(2000) } })), Code.RESOURCE_EXHAUSTED);
    assert.equal((await c.echo({ text: "ok" }, { headers: { "x-small": "a" } })).text, "ok");
  });

  it("response metadata over the client's header limit fails the call with RESOURCE_EXHAUSTED, the connection lives", async () => {
    const { port } = await startServer();
    const { client: c } = client(port, { settings: { maxHeaderBytes: 300 } });
    assert.equal(await codeOf(c.echo({ text: "x" }, { headers: { "x-echo": "b".repeat(500) } })), Code.RESOURCE_EXHAUSTED);
    assert.equal((await c.echo({ text: "fine" }, { headers: { "x-echo": "short" } })).text, "fine");
  });

  it("a handler's plain Error is published on the diagnostics channel with its message, while the peer sees INTERNAL", async () => {
    const { port } = await startServer();
    const { client: c } = client(port);
    const seen: Array<{ error: unknown; method: string }> = [];
    const onMessage = (m: unknown) => seen.push(m as { error: unknown; method: string });
    handlerErrorChannel.subscribe(onMessage);
    try {
      assert.equal(await codeOf(c.echo({ text: "throw-plain-error" })), Code.INTERNAL);
      await eventually(() => seen.length > 0, 10_000, "diagnostics message");
      assert.equal(seen[0]?.method, "Echo");
      assert.match(String((seen[0] as { error: Error }).error.message), /secret internal detail/);
    } finally {
      handlerErrorChannel.unsubscribe(onMessage);
    }
  });

  it("keepalive detects a dead peer: calls fail UNAVAILABLE instead of hanging", async () => {
    // A TCP server that accepts and reads but never answers: a peer that vanished behind a NAT.
    const sockets: import("node:net").Socket[] = [];
    const blackhole = createServer((s) => {
      sockets.push(s);
      s.on("data", () => {});
      s.on("error", () => {});
    });
    await new Promise<void>((r) => blackhole.listen(0, "127.0.0.1", r));
    cleanups.push(() => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => blackhole.close(() => r()));
    });
    const port = (blackhole.address() as { port: number }).port;
    const { client: c } = client(port, { keepaliveMs: 100, keepaliveTimeoutMs: 200 });
    const err = await c.sleep({ sleepMs: 1 }).then(
      () => assert.fail("a black hole answered"),
      (e: RpcError) => e,
    );
    assert.equal(err.code, Code.UNAVAILABLE);
    assert.match(err.message, /keepalive/);
  });

  it("reconnects with backoff: fails fast while the server is down, works once it is up", async () => {
    const port = await freePort();
    const { client: c } = client(port, { backoff: { initialMs: 20, maxMs: 100 } });
    assert.equal(await codeOf(c.echo({ text: "down" })), Code.UNAVAILABLE);
    const server = createNativeServer({ router: testRouter() });
    await server.listen({ port, host: "127.0.0.1" });
    cleanups.push(() => server.close({ graceMs: 1000 }));
    let last: Code | "ok" = Code.UNAVAILABLE;
    const start = Date.now();
    while (last !== "ok" && Date.now() - start < 20_000) {
      last = await codeOf(c.echo({ text: "up" }));
      if (last !== "ok") {
        assert.equal(last, Code.UNAVAILABLE);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    assert.equal(last, "ok");
    // The server restarts: the client follows.
    await server.close({ graceMs: 1000 });
    const again = createNativeServer({ router: testRouter() });
    await again.listen({ port, host: "127.0.0.1" });
    cleanups.push(() => again.close({ graceMs: 1000 }));
    last = Code.UNAVAILABLE;
    const t2 = Date.now();
    while (last !== "ok" && Date.now() - t2 < 20_000) {
      last = await codeOf(c.echo({ text: "again" }));
      if (last !== "ok") await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(last, "ok");
  });

  it("a handler's outbound call inherits deadline and cancellation implicitly (AsyncLocalStorage), over TCP", async () => {
    const probe: TestServiceProbe = { cancelled: [], lastHeaders: {} };
    const { port: downPort } = await startServer({}, testRouter(probe));
    const { client: down } = client(downPort);
    let innerDeadline: bigint | undefined;
    const impl = createTestServiceImpl();
    const front = createRouter().service(TestService, {
      ...impl,
      async echo(req) {
        const r = await down.echo({ text: req.text });
        innerDeadline = r.deadlineMs;
        return r;
      },
      sleep: (req) => down.sleep(req),
    });
    const { port: frontPort } = await startServer({}, front);
    const { client: c } = client(frontPort);
    await c.echo({ text: "hop" }, { timeoutMs: 20_000 });
    assert.ok(innerDeadline !== undefined && innerDeadline > 0n && innerDeadline <= 20_000n, `downstream saw ${innerDeadline}`);
    const ac = new AbortController();
    const p = c.sleep({ sleepMs: 60_000 }, { signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    assert.equal(await codeOf(p), Code.CANCELLED);
    await eventually(() => probe.cancelled.includes("Sleep"), 10_000, "downstream handler cancelled");
  });
});
