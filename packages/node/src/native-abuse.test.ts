/**
 * petrel/1 server limits against abusive clients, each driven by a raw TCP client that breaks the
 * rule on purpose: max connections, max concurrent streams, max message and metadata size, the
 * preface/SETTINGS timeout (slow-loris), the idle timeout, PING floods (keepalive enforcement) and
 * CANCEL floods (rapid reset). After each, the server keeps serving.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { createClient, createRouter, Code } from "@petrel/core";
import { ErrorCode, FrameType, FrameWriter, parseGoAway, parseTrailers, type Frame } from "@petrel/protocol-native";
import { EchoRequestSchema, SleepRequestSchema, TestService, createTestServiceImpl } from "@petrel/testing";
import { createNativeServer, createNativeTransport, type NativeServer, type NativeServerOptions } from "./index.js";
import { RawPeer } from "./raw-peer-fixture.js";

const SVC = "/petrel.testing.v1.TestService/";
const ECHO = `${SVC}Echo`;
const SLEEP = `${SVC}Sleep`;
const WAIT_MS = 10_000;

const servers: NativeServer[] = [];
const peers: RawPeer[] = [];
after(async () => {
  for (const p of peers) p.destroy();
  await Promise.all(servers.map((s) => s.close({ graceMs: 100 })));
});

async function startServer(opts: Omit<NativeServerOptions, "router"> = {}): Promise<{ server: NativeServer; port: number }> {
  const server = createNativeServer({ router: createRouter().service(TestService, createTestServiceImpl()), ...opts });
  servers.push(server);
  const { port } = await server.listen();
  return { server, port };
}

async function peer(port: number): Promise<RawPeer> {
  const p = await RawPeer.connect(port);
  peers.push(p);
  return p;
}

function goaway(frames: Frame[]): { code: number; debug: string } | undefined {
  const f = frames.find((x) => x.type === FrameType.GOAWAY);
  if (f === undefined) return undefined;
  const g = parseGoAway(f.payload);
  return { code: g.errorCode, debug: g.debug };
}

function trailers(frames: Frame[], id: number): { code: number; message: string } | undefined {
  const f = frames.find((x) => x.type === FrameType.TRAILERS && x.streamId === id);
  return f === undefined ? undefined : parseTrailers(f.payload);
}

const echoBytes = (text: string, payloadSize = 0) =>
  toBinary(EchoRequestSchema, create(EchoRequestSchema, { text, payload: new Uint8Array(payloadSize) }));

/** Sends one Echo call on `id` and waits for its trailers. */
async function echoWorks(p: RawPeer, id: number): Promise<boolean> {
  p.writer.writeRequestHeaders(id, "proto", ECHO, undefined);
  p.writer.writeMessage(id, 0x1, echoBytes("still there"));
  p.send();
  await p.waitFor((fs) => trailers(fs, id) !== undefined, WAIT_MS);
  return trailers(p.frames, id)?.code === Code.OK;
}

/** A healthy client on its own connection gets an answer. */
async function serverServes(port: number): Promise<void> {
  const transport = createNativeTransport({ address: `127.0.0.1:${port}` });
  try {
    const client = createClient(TestService, transport);
    const res = await client.echo({ text: "ok" }, { timeoutMs: WAIT_MS });
    assert.equal(res.text, "ok");
  } finally {
    await transport.close();
  }
}

describe("petrel/1 server limits", () => {
  it("maxConnections: a connection over the limit is closed at once and counted", async () => {
    const { server, port } = await startServer({ maxConnections: 2 });
    const a = await peer(port);
    const b = await peer(port);
    a.hello();
    b.hello();
    assert.ok(await a.waitFor((fs) => fs.some((f) => f.type === FrameType.SETTINGS)));
    assert.ok(await b.waitFor((fs) => fs.some((f) => f.type === FrameType.SETTINGS)));
    const c = await peer(port);
    c.hello();
    assert.ok(await c.waitClosed(WAIT_MS), "the third connection is closed");
    assert.equal(c.frames.length, 0, "and gets nothing");
    assert.equal(server.droppedConnections, 1);
    assert.equal(server.connections, 2);
    assert.ok(await echoWorks(a, 1), "connections under the limit keep working");
    a.destroy();
    await assert.doesNotReject(async () => {
      for (let i = 0; i < 100 && server.connections > 1; i++) await new Promise((r) => setTimeout(r, 20));
      await serverServes(port);
    });
  });

  it("maxConcurrentStreams: streams over the limit end RESOURCE_EXHAUSTED, the others complete", async () => {
    const { port } = await startServer({ settings: { maxConcurrentStreams: 2 } });
    const p = await peer(port);
    p.hello();
    const sleep = toBinary(SleepRequestSchema, create(SleepRequestSchema, { sleepMs: 200 }));
    // A client that ignores the advertised limit: four calls at once.
    for (const id of [1, 3, 5, 7]) {
      p.writer.writeRequestHeaders(id, "proto", SLEEP, undefined);
      p.writer.writeMessage(id, 0x1, sleep);
    }
    p.send();
    assert.ok(await p.waitFor((fs) => [1, 3, 5, 7].every((id) => trailers(fs, id) !== undefined)));
    assert.equal(trailers(p.frames, 1)?.code, Code.OK);
    assert.equal(trailers(p.frames, 3)?.code, Code.OK);
    for (const id of [5, 7]) {
      const t = trailers(p.frames, id);
      assert.equal(t?.code, Code.RESOURCE_EXHAUSTED);
      assert.match(t?.message ?? "", /too many concurrent streams \(limit 2\)/);
    }
    assert.equal(goaway(p.frames), undefined, "the connection survives");
    assert.ok(await echoWorks(p, 9));
  });

  it("maxMessageSize: a larger request ends RESOURCE_EXHAUSTED, whole or in CONTINUED chunks; the connection survives", async () => {
    const { port } = await startServer({ settings: { maxMessageSize: 1024 } });
    const p = await peer(port);
    p.hello();
    p.writer.writeRequestHeaders(1, "proto", ECHO, undefined);
    p.writer.writeMessage(1, 0x1, echoBytes("big", 2000));
    // The same, split in CONTINUED frames that each fit: the reassembled size counts.
    p.writer.writeRequestHeaders(3, "proto", ECHO, undefined);
    p.writer.writeMessageChunked(3, echoBytes("big", 4000), 512, 0x1);
    p.send();
    assert.ok(await p.waitFor((fs) => trailers(fs, 1) !== undefined && trailers(fs, 3) !== undefined));
    for (const id of [1, 3]) {
      const t = trailers(p.frames, id);
      assert.equal(t?.code, Code.RESOURCE_EXHAUSTED);
      assert.match(t?.message ?? "", /exceeds the limit of 1024/);
    }
    assert.equal(goaway(p.frames), undefined);
    assert.ok(await echoWorks(p, 5));
  });

  it("maxHeaderBytes: oversized request metadata ends RESOURCE_EXHAUSTED; the connection survives", async () => {
    const { port } = await startServer({ settings: { maxHeaderBytes: 1024 } });
    const p = await peer(port);
    p.hello();
    p.writer.writeRequestHeaders(1, "proto", ECHO, undefined, ["x-big", "a".repeat(4000)]);
    p.writer.writeMessage(1, 0x1, echoBytes("x"));
    p.send();
    assert.ok(await p.waitFor((fs) => trailers(fs, 1) !== undefined));
    const t = trailers(p.frames, 1);
    assert.equal(t?.code, Code.RESOURCE_EXHAUSTED);
    assert.match(t?.message ?? "", /request metadata exceeds 1024 bytes/);
    assert.equal(goaway(p.frames), undefined);
    assert.ok(await echoWorks(p, 3));
  });

  it("handshake timeout: a silent client, a byte-by-byte preface and a preface without SETTINGS are cut off", async () => {
    const { server, port } = await startServer({ handshakeTimeoutMs: 300 });
    const silent = await peer(port);
    const trickle = await peer(port);
    const noSettings = await peer(port);
    noSettings.writer.writePreface();
    noSettings.send();
    const w = new FrameWriter();
    w.writePreface();
    const preface = w.take();
    let i = 0;
    const timer = setInterval(() => {
      // One byte every 100 ms: the 300 ms budget runs out long before the preface is complete.
      if (i < preface.length && !trickle.closed) trickle.send(preface.subarray(i, ++i));
    }, 100);
    try {
      assert.ok(await silent.waitClosed(WAIT_MS), "silent client closed");
      assert.ok(await trickle.waitClosed(WAIT_MS), "slow-loris client closed");
      assert.ok(await noSettings.waitClosed(WAIT_MS), "client without SETTINGS closed");
    } finally {
      clearInterval(timer);
    }
    assert.equal(silent.frames.length, 0, "a client without a valid preface gets nothing back (spec §2.1)");
    assert.equal(trickle.frames.length, 0);
    assert.ok(i < preface.length, "closed before the preface was complete");
    const g = goaway(noSettings.frames);
    assert.equal(g?.code, ErrorCode.ENHANCE_YOUR_CALM);
    assert.match(g?.debug ?? "", /no SETTINGS within 300 ms/);
    for (let n = 0; n < 100 && server.connections > 0; n++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(server.connections, 0);
    await serverServes(port);
  });

  it("idle timeout: a connection without streams gets GOAWAY(IDLE_TIMEOUT), one with a stream open does not", async () => {
    const { port } = await startServer({ idleTimeoutMs: 300 });
    const idle = await peer(port);
    idle.hello();
    const busy = await peer(port);
    busy.hello();
    busy.writer.writeRequestHeaders(1, "proto", SLEEP, undefined);
    busy.writer.writeMessage(1, 0x1, toBinary(SleepRequestSchema, create(SleepRequestSchema, { sleepMs: 1500 })));
    busy.send();
    assert.ok(await idle.waitClosed(WAIT_MS));
    assert.equal(goaway(idle.frames)?.code, ErrorCode.IDLE_TIMEOUT);
    assert.ok(await busy.waitFor((fs) => trailers(fs, 1) !== undefined));
    assert.equal(trailers(busy.frames, 1)?.code, Code.OK, "the call outlives the idle timeout");
    // Idle again after the call: now it goes.
    assert.ok(await busy.waitClosed(WAIT_MS));
    assert.equal(goaway(busy.frames)?.code, ErrorCode.IDLE_TIMEOUT);
  });

  it("PING flood: more PINGs than allowed get GOAWAY(ENHANCE_YOUR_CALM); the ACKs stop at the limit", async () => {
    const { port } = await startServer({ maxPingsPerWindow: 20, floodWindowMs: 60_000 });
    const p = await peer(port);
    p.hello();
    for (let i = 0; i < 500; i++) p.writer.writePing(new Uint8Array(8));
    p.send();
    assert.ok(await p.waitClosed(WAIT_MS));
    const g = goaway(p.frames);
    assert.equal(g?.code, ErrorCode.ENHANCE_YOUR_CALM);
    assert.match(g?.debug ?? "", /too many PINGs/);
    assert.equal(p.frames.filter((f) => f.type === FrameType.PING).length, 20, "exactly the allowed PINGs were answered");
    await serverServes(port);
  });

  it("PING flood with the default limit: a raw client sending 5000 PINGs is cut off", async () => {
    const { port } = await startServer();
    const p = await peer(port);
    p.hello();
    for (let i = 0; i < 5000; i++) p.writer.writePing(new Uint8Array(8));
    p.send();
    assert.ok(await p.waitClosed(WAIT_MS));
    assert.equal(goaway(p.frames)?.code, ErrorCode.ENHANCE_YOUR_CALM);
    assert.ok(p.frames.filter((f) => f.type === FrameType.PING).length <= 200);
  });

  it("keepalive enforcement: a client within the ping budget keeps its connection, one over it is closed", async () => {
    const { server, port } = await startServer({ maxPingsPerWindow: 1000, floodWindowMs: 60_000 });
    // A real client pinging every 20 ms when idle: well within 1000 per minute over this test.
    const transport = createNativeTransport({ address: `127.0.0.1:${port}`, keepaliveMs: 20 });
    try {
      const client = createClient(TestService, transport);
      await client.echo({ text: "a" }, { timeoutMs: WAIT_MS });
      await new Promise((r) => setTimeout(r, 400));
      // The client connects lazily: a connection closed by the server would show as 0 here.
      assert.equal(server.connections, 1, "the pinging connection is still open");
      assert.equal((await client.echo({ text: "b" }, { timeoutMs: WAIT_MS })).text, "b");
    } finally {
      await transport.close();
    }
    // The same client against a server allowing 3 PINGs a minute: its connection is closed.
    const { server: strict, port: strictPort } = await startServer({ maxPingsPerWindow: 3, floodWindowMs: 60_000 });
    const pinger = createNativeTransport({ address: `127.0.0.1:${strictPort}`, keepaliveMs: 20 });
    try {
      await createClient(TestService, pinger).echo({ text: "a" }, { timeoutMs: WAIT_MS });
      for (let n = 0; n < 500 && strict.connections > 0; n++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(strict.connections, 0, "closed for pinging too often");
    } finally {
      await pinger.close();
    }
    // A raw client pinging one by one is cut off at the same limit.
    const p = await peer(strictPort);
    p.hello();
    let sent = 0;
    while (!p.closed && sent < 50) {
      p.writer.writePing(new Uint8Array(8));
      p.send();
      sent++;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(await p.waitClosed(WAIT_MS));
    assert.equal(goaway(p.frames)?.code, ErrorCode.ENHANCE_YOUR_CALM);
  });

  it("CANCEL flood (rapid reset): opening and cancelling streams fast gets GOAWAY(ENHANCE_YOUR_CALM)", async () => {
    const { server, port } = await startServer({ maxResetsPerWindow: 50, floodWindowMs: 60_000 });
    const p = await peer(port);
    p.hello();
    const sleep = toBinary(SleepRequestSchema, create(SleepRequestSchema, { sleepMs: 5000 }));
    let id = 1;
    for (let i = 0; i < 200; i++, id += 2) {
      p.writer.writeRequestHeaders(id, "proto", SLEEP, undefined);
      p.writer.writeMessage(id, 0x1, sleep);
      p.writer.writeCancel(id, Code.CANCELLED, "");
    }
    p.send();
    assert.ok(await p.waitClosed(WAIT_MS));
    const g = goaway(p.frames);
    assert.equal(g?.code, ErrorCode.ENHANCE_YOUR_CALM);
    assert.match(g?.debug ?? "", /too many CANCELs \(over 50 within 60000 ms\)/);
    for (let n = 0; n < 100 && server.connections > 0; n++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(server.connections, 0);
    await serverServes(port);
  });

  it("CANCEL flood with the default limit: 5000 open+cancel pairs are cut off", async () => {
    const { port } = await startServer();
    const p = await peer(port);
    p.hello();
    const sleep = toBinary(SleepRequestSchema, create(SleepRequestSchema, { sleepMs: 5000 }));
    let id = 1;
    for (let i = 0; i < 5000; i++, id += 2) {
      p.writer.writeRequestHeaders(id, "proto", SLEEP, undefined);
      p.writer.writeMessage(id, 0x1, sleep);
      p.writer.writeCancel(id, Code.CANCELLED, "");
    }
    p.send();
    assert.ok(await p.waitClosed(WAIT_MS));
    assert.equal(goaway(p.frames)?.code, ErrorCode.ENHANCE_YOUR_CALM);
    await serverServes(port);
  });
});
