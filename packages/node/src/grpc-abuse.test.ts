/**
 * gRPC (HTTP/2) server limits against abusive clients, driven by a raw HTTP/2 client that writes
 * hand-built frames (grpc-abuse-fixture.ts), or node:http2 where the abuse is well-formed: max
 * connections, max concurrent streams, max message and header size, the preface/SETTINGS timeout
 * (slow-loris), the idle timeout, PING floods and rapid reset (CVE-2023-44487). After each, the
 * server keeps serving.
 */
import assert from "node:assert/strict";
import * as http2 from "node:http2";
import { after, describe, it } from "node:test";
import { createRouter } from "@petrel/core";
import { TestService, createTestServiceImpl } from "@petrel/testing";
import { H2, H2_ERROR, H2_PREFACE, RawH2Peer, grpcMessage, grpcRequestBlock, h2Frame } from "./grpc-abuse-fixture.js";
import { grpcConnectionChannel, type GrpcConnectionEvent } from "./grpc-keepalive.js";
import { createGrpcServer, type GrpcServer, type GrpcServerOptions } from "./grpc-server.js";

const SVC = "/petrel.testing.v1.TestService/";
const ECHO = `${SVC}Echo`;
const SLEEP = `${SVC}Sleep`;
const WAIT_MS = 10_000;
const COMPRESSION_ERROR = 9;

const servers: GrpcServer[] = [];
const peers: RawH2Peer[] = [];
const events: GrpcConnectionEvent[] = [];
const onEvent = (e: unknown) => {
  events.push(e as GrpcConnectionEvent);
};
grpcConnectionChannel.subscribe(onEvent);
after(async () => {
  grpcConnectionChannel.unsubscribe(onEvent);
  for (const p of peers) p.destroy();
  await Promise.all(servers.map((s) => s.close({ graceMs: 100 })));
});

async function startServer(opts: Omit<GrpcServerOptions, "router"> = {}): Promise<{ server: GrpcServer; port: number }> {
  const server = createGrpcServer({ router: createRouter().service(TestService, createTestServiceImpl()), ...opts });
  servers.push(server);
  const { port } = await server.listen();
  return { server, port };
}

async function peer(port: number): Promise<RawH2Peer> {
  const p = await RawH2Peer.connect(port);
  peers.push(p);
  return p;
}

/** SleepRequest{sleep_ms} in protobuf (field 1, varint). */
function sleepMessage(ms: number): Buffer {
  const v: number[] = [];
  let x = ms;
  while (x >= 0x80) {
    v.push((x & 0x7f) | 0x80);
    x >>>= 7;
  }
  v.push(x);
  return grpcMessage(Buffer.from([0x08, ...v]));
}

/** One well-formed unary call over node:http2; resolves with its grpc-status (or the RST code). */
function h2Call(
  session: http2.ClientHttp2Session,
  path: string,
  body: Uint8Array,
  headers: Record<string, string> = {},
): Promise<{ status?: string; message?: string; rst: number }> {
  return new Promise((resolve) => {
    const st = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers", ...headers });
    let status: string | undefined;
    let message: string | undefined;
    const take = (h: http2.IncomingHttpHeaders) => {
      if (h["grpc-status"] !== undefined) status = String(h["grpc-status"]);
      if (h["grpc-message"] !== undefined) message = decodeURIComponent(String(h["grpc-message"]));
    };
    st.on("response", take);
    st.on("trailers", take);
    st.on("error", () => {});
    st.on("close", () => resolve({ status, message, rst: st.rstCode ?? 0 }));
    st.resume();
    st.end(body);
  });
}

/** A healthy client on its own connection gets an answer. */
async function serverServes(port: number): Promise<void> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on("error", () => {});
  try {
    const r = await h2Call(session, ECHO, grpcMessage(new Uint8Array(0)));
    assert.equal(r.status, "0");
  } finally {
    session.destroy();
  }
}

const endedStreams = (p: RawH2Peer) => new Set(p.frames.filter((f) => f.type === H2.HEADERS && (f.flags & 1) !== 0).map((f) => f.streamId));

describe("gRPC server limits", () => {
  it("maxConnections: a connection over the limit is closed at once, counted and published", async () => {
    const { server, port } = await startServer({ maxConnections: 2 });
    const a = await peer(port);
    const b = await peer(port);
    await a.handshake();
    await b.handshake();
    const c = await peer(port);
    assert.ok(await c.waitClosed(WAIT_MS), "the third connection is closed");
    assert.equal(c.frames.length, 0);
    assert.equal(server.droppedConnections, 1);
    assert.ok(events.some((e) => e.t === "connection_dropped" && e.limit === 2));
    a.send(h2Frame(H2.HEADERS, 4, 1, grpcRequestBlock(ECHO)), h2Frame(H2.DATA, 1, 1, grpcMessage(new Uint8Array(0))));
    assert.ok(await a.waitFor(() => endedStreams(a).has(1)), "connections under the limit keep working");
  });

  it("maxConcurrentStreams: a client ignoring the advertised limit loses its connection; the server serves on", async () => {
    const { port } = await startServer({ maxConcurrentStreams: 2 });
    const p = await peer(port);
    await p.handshake();
    const settings = p.frames.find((f) => f.type === H2.SETTINGS && (f.flags & 1) === 0);
    assert.ok(settings !== undefined && settingValue(settings.payload, 0x3) === 2, "MAX_CONCURRENT_STREAMS 2 advertised");
    // Well-behaved clients (grpc-js, grpc-go, ours) queue beyond the limit (grpc-streams-limit.test.ts);
    // one that opens a third stream anyway is a protocol violation, and Node's HTTP/2 ends the session.
    for (const id of [1, 3, 5, 7]) p.send(h2Frame(H2.HEADERS, 4, id, grpcRequestBlock(SLEEP)), h2Frame(H2.DATA, 1, id, sleepMessage(300)));
    assert.ok(await p.waitClosed(WAIT_MS));
    const g = p.goaway();
    assert.ok(g !== undefined && g.lastStreamId <= 3, "no stream over the limit was processed");
    await serverServes(port);
  });

  it("maxReceiveMessageSize: an announced oversized message gets RESOURCE_EXHAUSTED at once; the connection survives", async () => {
    const { port } = await startServer({ maxReceiveMessageSize: 1024 });
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", () => {});
    try {
      // Only the 5-byte prefix announcing 5 MiB is sent: the server must not wait for the body.
      const prefix = Buffer.alloc(5);
      prefix.writeUInt32BE(5 * 1024 * 1024, 1);
      const big = await h2Call(session, ECHO, prefix);
      assert.equal(big.status, "8");
      assert.match(big.message ?? "", /larger than max \(5242880 vs\. 1024\)/);
      const whole = await h2Call(session, ECHO, grpcMessage(Buffer.alloc(2000, 1)));
      assert.equal(whole.status, "8");
      const ok = await h2Call(session, ECHO, grpcMessage(new Uint8Array(0)));
      assert.equal(ok.status, "0", "same connection, next call fine");
    } finally {
      session.destroy();
    }
  });

  it("header limits: too many fields or a list over maxHeaderListSize -> RST ENHANCE_YOUR_CALM; the connection survives", async () => {
    const { port } = await startServer();
    const p = await peer(port);
    await p.handshake();
    const many: Array<[string, string]> = [];
    for (let i = 0; i < 200; i++) many.push([`x-h${i}`, "v"]);
    p.send(h2Frame(H2.HEADERS, 5, 1, grpcRequestBlock(ECHO, many)));
    // 20 KB of metadata (default limit 16 KiB), in HEADERS + CONTINUATION frames.
    sendBlock(p, 3, grpcRequestBlock(ECHO, [["x-big", "a".repeat(20_000)]]));
    // Under the limit: served.
    sendBlock(p, 5, grpcRequestBlock(ECHO, [["x-fine", "a".repeat(10_000)]]));
    p.send(h2Frame(H2.DATA, 1, 5, grpcMessage(new Uint8Array(0))));
    assert.ok(await p.waitFor(() => p.resets().has(1) && p.resets().has(3) && endedStreams(p).has(5)));
    assert.equal(p.resets().get(1), H2_ERROR.ENHANCE_YOUR_CALM);
    assert.equal(p.resets().get(3), H2_ERROR.ENHANCE_YOUR_CALM);
    assert.equal(p.goaway(), undefined);
    const settings = p.frames.find((f) => f.type === H2.SETTINGS && (f.flags & 1) === 0);
    assert.equal(settingValue(settings?.payload ?? Buffer.alloc(0), 0x6), 16 * 1024, "MAX_HEADER_LIST_SIZE advertised");
  });

  it("maxHeaderListSize is configurable; gRPC clients see the reset as RESOURCE_EXHAUSTED's RST code", async () => {
    const { port } = await startServer({ maxHeaderListSize: 4096 });
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", () => {});
    try {
      await new Promise((resolve) => session.once("remoteSettings", resolve));
      assert.equal(session.remoteSettings.maxHeaderListSize, 4096);
      const big = await h2Call(session, ECHO, grpcMessage(new Uint8Array(0)), { "x-big": "b".repeat(5000) });
      assert.equal(big.rst, H2_ERROR.ENHANCE_YOUR_CALM);
      assert.equal((await h2Call(session, ECHO, grpcMessage(new Uint8Array(0)), { "x-ok": "b".repeat(3000) })).status, "0");
    } finally {
      session.destroy();
    }
  });

  it("a single header field over 64 KiB is a connection error (COMPRESSION_ERROR); the idle timeout closes the socket", async () => {
    const { port } = await startServer({ idleTimeoutMs: 300 });
    const p = await peer(port);
    await p.handshake();
    sendBlock(p, 1, grpcRequestBlock(ECHO, [["x-big", "a".repeat(70_000)]]));
    assert.ok(await p.waitFor(() => p.goaway() !== undefined));
    assert.equal(p.goaway()?.code, COMPRESSION_ERROR);
    // nghttp2 sends that GOAWAY without telling Node, which leaves the socket open: the idle timer ends it.
    assert.ok(await p.waitClosed(WAIT_MS));
    await serverServes(port);
  });

  it("handshake timeout: a silent client, a byte-by-byte preface and a preface without SETTINGS are cut off", async () => {
    const { port } = await startServer({ handshakeTimeoutMs: 300 });
    const silent = await peer(port);
    const trickle = await peer(port);
    const noSettings = await peer(port);
    noSettings.send(H2_PREFACE);
    let i = 0;
    const timer = setInterval(() => {
      // One byte every 100 ms: 24 bytes of preface need 2.4 s, the budget is 300 ms.
      if (i < H2_PREFACE.length && !trickle.closed) trickle.send(H2_PREFACE.subarray(i, ++i));
    }, 100);
    try {
      assert.ok(await silent.waitClosed(WAIT_MS), "silent client closed");
      assert.ok(await trickle.waitClosed(WAIT_MS), "slow-loris client closed");
      assert.ok(await noSettings.waitClosed(WAIT_MS), "client without SETTINGS closed");
    } finally {
      clearInterval(timer);
    }
    assert.ok(i < H2_PREFACE.length, "closed before the preface was complete");
    assert.ok(events.filter((e) => e.t === "handshake_timeout" && e.timeoutMs === 300).length >= 3);
    await serverServes(port);
  });

  it("idle timeout: a connection without calls gets GOAWAY(NO_ERROR) and is closed; one with a call open is not", async () => {
    const { port } = await startServer({ idleTimeoutMs: 300 });
    const idle = await peer(port);
    await idle.handshake();
    const busy = await peer(port);
    await busy.handshake();
    busy.send(h2Frame(H2.HEADERS, 4, 1, grpcRequestBlock(SLEEP)), h2Frame(H2.DATA, 1, 1, sleepMessage(1500)));
    assert.ok(await idle.waitClosed(WAIT_MS));
    assert.equal(idle.goaway()?.code, H2_ERROR.NO_ERROR);
    assert.ok(await busy.waitFor(() => endedStreams(busy).has(1)));
    assert.equal(busy.goaway(), undefined, "the call outlived the idle timeout");
    assert.ok(await busy.waitClosed(WAIT_MS), "idle after the call: closed");
    assert.equal(busy.goaway()?.code, H2_ERROR.NO_ERROR);
    assert.ok(events.some((e) => e.t === "idle_timeout" && e.idleMs === 300));
  });

  it("PING flood: GOAWAY ENHANCE_YOUR_CALM too_many_pings (keepalive enforcement), then closed", async () => {
    const { port } = await startServer();
    const p = await peer(port);
    await p.handshake();
    for (let i = 0; i < 1000; i++) p.send(h2Frame(H2.PING, 0, 0, Buffer.alloc(8)));
    assert.ok(await p.waitClosed(WAIT_MS));
    assert.equal(p.goaway()?.code, H2_ERROR.ENHANCE_YOUR_CALM);
    assert.equal(p.goaway()?.debug, "too_many_pings");
    await serverServes(port);
  });

  it("rapid reset: opening and resetting streams fast gets GOAWAY ENHANCE_YOUR_CALM too_many_resets", async () => {
    const { port } = await startServer({ maxResetsPerWindow: 50, floodWindowMs: 60_000 });
    const p = await peer(port);
    await p.handshake();
    const cancel = Buffer.alloc(4);
    cancel.writeUInt32BE(H2_ERROR.CANCEL);
    for (let i = 0, id = 1; i < 300 && !p.closed; i++, id += 2) {
      p.send(h2Frame(H2.HEADERS, 4, id, grpcRequestBlock(SLEEP)), h2Frame(H2.RST_STREAM, 0, id, cancel));
      // Small batches, so the server's counter (not nghttp2's own burst limit) decides.
      if (i % 10 === 9) await new Promise((r) => setTimeout(r, 1));
    }
    assert.ok(await p.waitClosed(WAIT_MS));
    assert.equal(p.goaway()?.code, H2_ERROR.ENHANCE_YOUR_CALM);
    assert.equal(p.goaway()?.debug, "too_many_resets");
    assert.ok(events.some((e) => e.t === "too_many_resets" && e.resets === 51));
    await serverServes(port);
  });

  it("rapid reset at full speed with the defaults: the connection is cut off and closed", async () => {
    const { port } = await startServer();
    const p = await peer(port);
    await p.handshake();
    const cancel = Buffer.alloc(4);
    cancel.writeUInt32BE(H2_ERROR.CANCEL);
    const burst: Buffer[] = [];
    for (let i = 0, id = 1; i < 5000; i++, id += 2)
      burst.push(h2Frame(H2.HEADERS, 4, id, grpcRequestBlock(SLEEP)), h2Frame(H2.RST_STREAM, 0, id, cancel));
    p.send(Buffer.concat(burst));
    assert.ok(await p.waitClosed(WAIT_MS), "closed, not left hanging after GOAWAY");
    // Ours (ENHANCE_YOUR_CALM) or nghttp2's own burst limit (INTERNAL_ERROR), whichever counts first.
    const code = p.goaway()?.code;
    assert.ok(code === H2_ERROR.ENHANCE_YOUR_CALM || code === H2_ERROR.INTERNAL_ERROR, `GOAWAY code ${code}`);
    await serverServes(port);
  });

  it("limit options are validated", () => {
    const router = createRouter().service(TestService, createTestServiceImpl());
    assert.throws(() => createGrpcServer({ router, maxConnections: -1 }), /maxConnections/);
    assert.throws(() => createGrpcServer({ router, idleTimeoutMs: 1.5 }), /idleTimeoutMs/);
    assert.throws(() => createGrpcServer({ router, maxResetsPerWindow: Number.NaN }), /maxResetsPerWindow/);
    assert.throws(() => createGrpcServer({ router, maxHeaderListSize: -5 }), /maxHeaderListSize/);
  });
});

/** The value of setting `id` in a SETTINGS payload. */
function settingValue(payload: Buffer, id: number): number | undefined {
  for (let o = 0; o + 6 <= payload.length; o += 6) if (payload.readUInt16BE(o) === id) return payload.readUInt32BE(o + 2);
  return undefined;
}

/** Sends a header block in HEADERS + CONTINUATION frames of 16 KiB. */
function sendBlock(p: RawH2Peer, id: number, block: Buffer): void {
  const CONTINUATION = 9;
  for (let off = 0; off < block.length; off += 16_384) {
    const end = Math.min(block.length, off + 16_384);
    p.send(h2Frame(off === 0 ? H2.HEADERS : CONTINUATION, end === block.length ? 4 : 0, id, block.subarray(off, end)));
  }
}
