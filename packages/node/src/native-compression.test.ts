/**
 * petrel/1 message compression (docs/protocol-native.md §4.3.1): Petrel client <-> Petrel server
 * over TCP, both directions, unary and streaming, the compressMinBytes threshold, per-call and
 * per-method choices, negotiation fallback, and the failure modes (bomb, corrupt data, an id the
 * receiver did not advertise, COMPRESSED without negotiation).
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, createClient, createRouter, setMessageCompression, wasCompressed, type Client } from "@petrel/core";
import { createCompressionRegistry, type Compression, type CompressionRegistry } from "@petrel/protocol-grpc";
import {
  ErrorCode,
  FrameFlag,
  FrameReader,
  FrameType,
  FrameWriter,
  parseGoAway,
  parseSettings,
  parseTrailers,
  type Dialer,
} from "@petrel/protocol-native";
import { EchoRequestSchema, TestService, createTestServiceImpl, expectRpcError } from "@petrel/testing";
import { brotliCompression, deflateCompression, gzipCompression } from "./grpc-compression.js";
import { createNativeServer, type NativeServer, type NativeServerOptions } from "./native-server.js";
import { createNativeTransport, type NativeTcpTransportOptions } from "./native-transport.js";
import { tcpDialer } from "./tcp-channel.js";

const ECHO = "/petrel.testing.v1.TestService/Echo";

/** Compressible, non-trivial bytes. */
function payload(n: number, seed = 0): Uint8Array {
  const out = new Uint8Array(n);
  const word = new TextEncoder().encode(`petrel native compression ${seed} `);
  for (let i = 0; i < n; i++) out[i] = word[i % word.length] as number;
  return out;
}

interface Counted {
  registry: CompressionRegistry;
  compressed: Record<string, number>;
  decompressed: Record<string, number>;
}

/** A registry whose algorithms count their calls, so a test sees what really went over the wire. */
function counted(algorithms: Compression[] = [deflateCompression, gzipCompression, brotliCompression]): Counted {
  const compressed: Record<string, number> = { gzip: 0, deflate: 0, br: 0 };
  const decompressed: Record<string, number> = { gzip: 0, deflate: 0, br: 0 };
  const wrap = (c: Compression): Compression => ({
    name: c.name,
    compress(b) {
      compressed[c.name] = (compressed[c.name] ?? 0) + 1;
      return c.compress(b);
    },
    decompress(b, max) {
      decompressed[c.name] = (decompressed[c.name] ?? 0) + 1;
      return c.decompress(b, max);
    },
  });
  return { registry: createCompressionRegistry(...algorithms.map(wrap)), compressed, decompressed };
}

/** What the server's handlers saw. */
interface Seen {
  echoCompressed: boolean[];
  bidiCompressed: boolean[];
  headers: Array<Record<string, unknown>>;
}

function router(seen: Seen) {
  const base = createTestServiceImpl();
  return createRouter().service(TestService, {
    ...base,
    echo(req, ctx) {
      seen.echoCompressed.push(wasCompressed(req));
      seen.headers.push(ctx.requestHeader.toJSON());
      const want = ctx.requestHeader.getString("x-want-response-compression");
      if (want !== undefined) ctx.responseHeader.set("x-petrel-compress", want);
      return { text: req.text, payload: req.payload, seq: req.seq };
    },
    async *bidi(reqs) {
      let count = 0;
      for await (const r of reqs) {
        seen.bidiCompressed.push(wasCompressed(r));
        const res = { text: r.text, count: count++, seq: r.seq };
        // Every third response asks to go uncompressed.
        yield count % 3 === 0 ? setMessageCompression(res, false) : res;
      }
    },
  });
}

/** A server + transport pair; the transport counts the connections it dials. */
class Pair {
  server!: NativeServer;
  transport!: ReturnType<typeof createNativeTransport>;
  client!: Client<typeof TestService>;
  dials = 0;
  readonly seen: Seen = { echoCompressed: [], bidiCompressed: [], headers: [] };

  async start(serverOptions: Partial<NativeServerOptions>, clientOptions: Partial<NativeTcpTransportOptions>): Promise<this> {
    this.server = createNativeServer({ router: router(this.seen), ...serverOptions });
    const { port } = await this.server.listen({ port: 0, host: "127.0.0.1" });
    const dial: Dialer = (address, events) => {
      this.dials++;
      return tcpDialer(address, events);
    };
    this.transport = createNativeTransport({ address: `127.0.0.1:${port}`, dial, ...clientOptions });
    // Compression needs the peer's COMPRESSIONS: wait for its SETTINGS.
    await this.transport.connect();
    this.client = createClient(TestService, this.transport);
    return this;
  }

  async stop(): Promise<void> {
    await this.transport?.close();
    await this.server?.close({ graceMs: 1000 });
  }
}

async function* items<T>(xs: T[]): AsyncGenerator<T> {
  for (const x of xs) yield x;
}

describe("petrel/1 compression: both directions", () => {
  const srv = counted();
  const cli = counted();
  const pair = new Pair();
  before(() => pair.start({ compressions: srv.registry, compression: "gzip" }, { compressions: cli.registry, compression: "gzip" }));
  after(() => pair.stop());

  it("unary: a large request and response are gzip-compressed, round-trip intact", async () => {
    const big = payload(64 * 1024);
    const c0 = { ...cli.compressed };
    const s0 = { ...srv.decompressed };
    const res = await pair.client.echo({ text: "big", payload: big });
    assert.deepEqual(res.payload, big);
    assert.equal(wasCompressed(res), true, "response arrived compressed");
    assert.equal(pair.seen.echoCompressed.at(-1), true, "request arrived compressed");
    assert.equal(cli.compressed.gzip, (c0.gzip ?? 0) + 1);
    assert.equal(srv.decompressed.gzip, (s0.gzip ?? 0) + 1);
    assert.equal(pair.dials, 1);
  });

  it("below compressMinBytes (1024) a message goes uncompressed", async () => {
    const before = { c: cli.compressed.gzip, s: srv.compressed.gzip };
    const res = await pair.client.echo({ text: "small", payload: payload(500) });
    assert.equal(res.payload.length, 500);
    assert.equal(wasCompressed(res), false);
    assert.equal(pair.seen.echoCompressed.at(-1), false);
    assert.equal(cli.compressed.gzip, before.c);
    assert.equal(srv.compressed.gzip, before.s);
  });

  it("a request marked setMessageCompression(msg, false) goes uncompressed", async () => {
    const msg = setMessageCompression(create(EchoRequestSchema, { text: "plain", payload: payload(8192) }), false);
    const res = await pair.client.echo(msg);
    assert.equal(res.payload.length, 8192);
    assert.equal(pair.seen.echoCompressed.at(-1), false);
    assert.equal(wasCompressed(res), true, "the response still compresses");
  });

  it("server streaming: every large response compressed, in order", async () => {
    const msgs = [];
    for await (const m of pair.client.serverStream({ text: "s", count: 20, payload: payload(4096) })) msgs.push(m);
    assert.deepEqual(
      msgs.map((m) => m.count),
      Array.from({ length: 20 }, (_, i) => i),
    );
    assert.ok(msgs.every((m) => wasCompressed(m) && m.payload.length === 4096));
  });

  it("bidi: mixed compressed/uncompressed messages both ways stay in order", async () => {
    const n = 60;
    const reqs = Array.from({ length: n }, (_, i) =>
      // Alternate large (compressed) and small (not) requests, so uncompressed ones queue behind decompression.
      create(EchoRequestSchema, { text: `${i % 2 === 0 ? "x".repeat(3000) : ""}#${i}`, seq: BigInt(i) }),
    );
    pair.seen.bidiCompressed.length = 0;
    const got = [];
    for await (const r of pair.client.bidi(items(reqs))) got.push(r);
    assert.deepEqual(
      got.map((r) => r.seq),
      reqs.map((r) => r.seq),
    );
    assert.deepEqual(
      pair.seen.bidiCompressed,
      reqs.map((_, i) => i % 2 === 0),
    );
    // Responses echo the text: large ones compressed, except every third (marked uncompressed).
    assert.deepEqual(
      got.map((r) => wasCompressed(r)),
      got.map((r, i) => r.text.length >= 1024 && (i + 1) % 3 !== 0),
    );
  });

  it("client streaming: compressed requests, then the half-close, in order", async () => {
    const reqs = Array.from({ length: 10 }, (_, i) => ({ text: `${"y".repeat(2000)}${i}` }));
    const res = await pair.client.clientStream(items(reqs));
    assert.equal(res.count, 10);
    assert.equal(res.text, reqs.map((r) => r.text).join(""));
  });
});

describe("petrel/1 compression: choices and negotiation", () => {
  it("x-petrel-compress picks the request compression per call (and is never sent); identity turns it off", async () => {
    const srv = counted();
    const pair = await new Pair().start({ compressions: srv.registry }, { compression: "gzip" });
    try {
      await pair.client.echo({ text: "a", payload: payload(8192) }, { headers: { "x-petrel-compress": "deflate" } });
      assert.equal(srv.decompressed.deflate, 1);
      assert.equal(srv.decompressed.gzip, 0);
      assert.equal(pair.seen.headers.at(-1)?.["x-petrel-compress"], undefined, "the switch is not sent");
      await pair.client.echo({ text: "b", payload: payload(8192) }, { headers: { "x-petrel-compress": "identity" } });
      assert.equal(pair.seen.echoCompressed.at(-1), false);
      await pair.client.echo({ text: "c", payload: payload(8192) });
      assert.equal(srv.decompressed.gzip, 1, "the transport default applies otherwise");
      const err = await expectRpcError(pair.client.echo({ text: "d" }, { headers: { "x-petrel-compress": "lz4" } }), Code.INVALID_ARGUMENT);
      assert.match(err.message, /unknown compression "lz4"/);
    } finally {
      await pair.stop();
    }
  });

  it("response compression: handler header > compressResponses(method) > compression", async () => {
    const cli = counted();
    const pair = await new Pair().start(
      { compression: "gzip", compressResponses: (m) => (m.name === "ServerStream" ? "br" : undefined) },
      { compressions: cli.registry },
    );
    try {
      const a = await pair.client.echo({ text: "a", payload: payload(8192) });
      assert.equal(wasCompressed(a), true);
      assert.equal(cli.decompressed.gzip, 1);
      const call = await pair.client.echo(
        { text: "b", payload: payload(8192) },
        { headers: { "x-want-response-compression": "deflate" }, onHeader: (h) => assert.equal(h.has("x-petrel-compress"), false) },
      );
      assert.equal(wasCompressed(call), true);
      assert.equal(cli.decompressed.deflate, 1);
      for await (const m of pair.client.serverStream({ count: 3, payload: payload(4096) })) assert.equal(wasCompressed(m), true);
      assert.equal(cli.decompressed.br, 3);
    } finally {
      await pair.stop();
    }
  });

  it("falls back to identity when the receiver lacks the algorithm (both directions)", async () => {
    const srv = counted([gzipCompression]);
    const cli = counted([deflateCompression, gzipCompression, brotliCompression]);
    // The client wants br for requests: the server did not advertise it. The server wants deflate
    // for responses: the client did advertise it... but the server cannot write it.
    const pair = await new Pair().start(
      { compressions: srv.registry, compression: "gzip" },
      { compressions: createCompressionRegistry(deflateCompression, brotliCompression), compression: "br" },
    );
    try {
      const res = await pair.client.echo({ text: "x", payload: payload(8192) });
      assert.equal(res.payload.length, 8192);
      assert.equal(pair.seen.echoCompressed.at(-1), false, "request: br not advertised by the server -> identity");
      assert.equal(wasCompressed(res), false, "response: gzip not advertised by the client -> identity");
      assert.equal(srv.compressed.gzip, 0);
      assert.equal(cli.compressed.br, 0);
    } finally {
      await pair.stop();
    }
  });

  it("a server advertising only identity gets uncompressed requests from a gzip client", async () => {
    const pair = await new Pair().start({ settings: { compressions: ["identity"] } }, { compression: "gzip" });
    try {
      const res = await pair.client.echo({ text: "x", payload: payload(8192) });
      assert.equal(res.payload.length, 8192);
      assert.equal(pair.seen.echoCompressed.at(-1), false);
    } finally {
      await pair.stop();
    }
  });
});

/** A "gzip" whose compress() produces a bomb or garbage instead of the real thing. */
function evilGzip(kind: "bomb" | "corrupt"): Compression {
  return {
    name: "gzip",
    async compress() {
      if (kind === "corrupt") return new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      // 64 MiB of zeros: about 64 KiB gzipped, far above the 4 MiB receive limit.
      return gzipCompression.compress(new Uint8Array(64 * 1024 * 1024));
    },
    decompress: (b, max) => gzipCompression.decompress(b, max),
  };
}

describe("petrel/1 compression: failures are stream errors, the connection keeps serving", () => {
  for (const [kind, code, codeName] of [
    ["bomb", Code.RESOURCE_EXHAUSTED, "RESOURCE_EXHAUSTED"],
    ["corrupt", Code.INTERNAL, "INTERNAL"],
  ] as const) {
    it(`request ${kind} -> ${codeName}; the next call on the same connection works`, async () => {
      const pair = await new Pair().start({}, { compressions: createCompressionRegistry(evilGzip(kind)), compression: "gzip" });
      try {
        // Larger than the bomb's ~64 KiB, so the sender does not fall back to identity.
        await expectRpcError(pair.client.echo({ text: "x", payload: payload(256 * 1024) }), code);
        const ok = await pair.client.echo({ text: "fine" }, { headers: { "x-petrel-compress": "identity" } });
        assert.equal(ok.text, "fine");
        assert.equal(pair.dials, 1, "no reconnect: the connection survived");
        assert.equal(pair.server.connections, 1);
      } finally {
        await pair.stop();
      }
    });

    it(`response ${kind} -> ${codeName} at the client; the connection keeps working`, async () => {
      const pair = await new Pair().start({ compressions: createCompressionRegistry(evilGzip(kind)), compression: "gzip" }, {});
      try {
        // Larger than the bomb's ~64 KiB, so the sender does not fall back to identity.
        await expectRpcError(pair.client.echo({ text: "x", payload: payload(256 * 1024) }), code);
        const ok = await pair.client.echo({ text: "fine" });
        assert.equal(ok.text, "fine");
        assert.equal(pair.dials, 1);
      } finally {
        await pair.stop();
      }
    });
  }
});

/** Raw petrel/1 exchanges, to send what a Petrel client never would. */
async function raw(port: number, build: (w: FrameWriter) => void, until: (type: number, streamId: number) => boolean) {
  const frames: Array<{ type: number; flags: number; streamId: number; payload: Uint8Array }> = [];
  const socket = connect(port, "127.0.0.1");
  const reader = new FrameReader(
    { onFrame: (type, flags, streamId, p) => frames.push({ type, flags, streamId, payload: p.slice() }) },
    { expectPreface: true },
  );
  const w = new FrameWriter();
  w.writePreface();
  w.writeSettings({});
  build(w);
  socket.write(w.take());
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timeout waiting for the server")), 10_000);
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    };
    socket.on("data", (chunk) => {
      reader.push(chunk);
      if (frames.some((f) => until(f.type, f.streamId))) done();
    });
    socket.on("close", done);
    socket.on("error", () => {});
  });
  return frames;
}

describe("petrel/1 compression on the wire", () => {
  let server: NativeServer | undefined;
  let identityServer: NativeServer | undefined;
  let port = 0;
  let identityPort = 0;
  const seen: Seen = { echoCompressed: [], bidiCompressed: [], headers: [] };
  before(async () => {
    server = createNativeServer({ router: router(seen) });
    ({ port } = await server.listen({ port: 0, host: "127.0.0.1" }));
    identityServer = createNativeServer({ router: router(seen), settings: { compressions: ["identity"] } });
    ({ port: identityPort } = await identityServer.listen({ port: 0, host: "127.0.0.1" }));
  });
  after(async () => {
    await server?.close({ graceMs: 500 });
    await identityServer?.close({ graceMs: 500 });
  });

  const echoBytes = toBinary(EchoRequestSchema, create(EchoRequestSchema, { text: "hello" }));

  it("the server advertises identity plus its registry in COMPRESSIONS", async () => {
    const frames = await raw(
      port,
      () => {},
      (t) => t === FrameType.SETTINGS,
    );
    const s = parseSettings((frames.find((f) => f.type === FrameType.SETTINGS && f.flags === 0) as { payload: Uint8Array }).payload);
    assert.deepEqual(s.compressions, ["identity", "deflate", "gzip", "br"]);
  });

  it("COMPRESSED without negotiation (server advertised only identity) is a connection PROTOCOL_ERROR", async () => {
    const frames = await raw(
      identityPort,
      (w) => {
        w.writeRequestHeaders(1, "proto", ECHO, undefined);
        w.writeMessage(1, FrameFlag.END_STREAM | FrameFlag.COMPRESSED, new Uint8Array([1, 2, 3]));
      },
      (t) => t === FrameType.GOAWAY,
    );
    const g = frames.find((f) => f.type === FrameType.GOAWAY);
    assert.ok(g, "GOAWAY expected");
    assert.equal(parseGoAway(g.payload).errorCode, ErrorCode.PROTOCOL_ERROR);
  });

  it("an id the server did not advertise is a stream error (UNIMPLEMENTED); the next stream is served", async () => {
    const frames = await raw(
      port,
      (w) => {
        w.writeRequestHeaders(1, "proto", ECHO, undefined);
        w.writeMessage(1, FrameFlag.END_STREAM | FrameFlag.COMPRESSED, new Uint8Array([200, 1, 2, 3]));
        // identity (id 0) under COMPRESSED is not a compression either.
        w.writeRequestHeaders(2, "proto", ECHO, undefined);
        w.writeMessage(2, FrameFlag.END_STREAM | FrameFlag.COMPRESSED, new Uint8Array([0, ...echoBytes]));
        w.writeRequestHeaders(3, "proto", ECHO, undefined);
        w.writeMessage(3, FrameFlag.END_STREAM, echoBytes);
      },
      (t, id) => t === FrameType.TRAILERS && id === 3,
    );
    assert.equal(
      frames.find((f) => f.type === FrameType.GOAWAY),
      undefined,
      "no connection error",
    );
    const trailers = (id: number) =>
      parseTrailers((frames.find((f) => f.type === FrameType.TRAILERS && f.streamId === id) as { payload: Uint8Array }).payload);
    assert.equal(trailers(1).code, Code.UNIMPLEMENTED);
    assert.equal(trailers(2).code, Code.UNIMPLEMENTED);
    assert.equal(trailers(3).code, Code.OK);
  });

  it("a compressed message split into CONTINUED chunks (all COMPRESSED) is reassembled, then decompressed", async () => {
    const zipped = await gzipCompression.compress(echoBytes);
    const wire = new Uint8Array([2, ...zipped]); // COMPRESSIONS = identity,deflate,gzip,br: gzip is id 2
    const frames = await raw(
      port,
      (w) => {
        w.writeRequestHeaders(1, "proto", ECHO, undefined);
        w.writeMessageChunked(1, wire, 5, FrameFlag.END_STREAM | FrameFlag.COMPRESSED);
      },
      (t, id) => t === FrameType.TRAILERS && id === 1,
    );
    const t = parseTrailers((frames.find((f) => f.type === FrameType.TRAILERS) as { payload: Uint8Array }).payload);
    assert.equal(t.code, Code.OK, t.message);
    assert.ok(frames.some((f) => f.type === FrameType.MESSAGE && f.streamId === 1));
    assert.equal(seen.echoCompressed.at(-1), true);
  });
});
