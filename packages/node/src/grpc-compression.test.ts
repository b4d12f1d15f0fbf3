/**
 * gRPC message compression (grpc-encoding gzip / deflate / br): Petrel client <-> Petrel server
 * both ways, the limits and errors of compression.md, the compressMinBytes threshold, and interop
 * with @grpc/grpc-js (gzip, deflate) and connect-node's gRPC client (br, gzip).
 */
import assert from "node:assert/strict";
import * as http2 from "node:http2";
import { after, before, describe, it } from "node:test";
import { brotliCompressSync, brotliDecompressSync, deflateSync, gunzipSync, gzipSync } from "node:zlib";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { createClient as createConnectClient } from "@connectrpc/connect";
import { Http2SessionManager, compressionBrotli, createGrpcTransport as createConnectGrpcTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { Code, RpcError, createClient, createRouter, setMessageCompression, wasCompressed, type Client, type Metadata } from "@petrel/core";
import { createCompressionRegistry, type Compression, type CompressionRegistry } from "@petrel/protocol-grpc";
import { EchoRequestSchema, EchoResponseSchema, TestService, createTestServiceImpl, type TestServiceProbe } from "@petrel/testing";
import {
  collectStream,
  collectUnary,
  createGrpcJsClient,
  startGrpcJsServer,
  type EchoResponse,
} from "../../../interop/grpc-js/grpc-js-peer.ts";
import { brotliCompression } from "./grpc-compression.js";
import { COMPRESS_HEADER, createGrpcServer, createGrpcTransport, deflateCompression, gzipCompression, type GrpcServer } from "./index.js";

const MiB = 1024 * 1024;

/** 1 MiB of compressible, non-trivial bytes. */
function compressiblePayload(n = MiB): Uint8Array {
  const out = new Uint8Array(n);
  const word = new TextEncoder().encode("petrel grpc compression conformance ");
  for (let i = 0; i < n; i++) out[i] = (word[i % word.length] as number) ^ (Math.floor(i / 4096) & 1);
  return out;
}

async function expectRpcError(p: Promise<unknown>, code: Code): Promise<RpcError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof RpcError, `expected RpcError, got ${String(e)}`);
    assert.equal(e.code, code, `expected code ${code}, got ${e.code}: ${e.message}`);
    return e;
  }
  assert.fail(`expected RpcError ${code}, call succeeded`);
}

async function* from<T>(items: T[]): AsyncGenerator<T> {
  for (const x of items) yield x;
}

async function drain<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Counts what each algorithm compressed and decompressed (so a test can see the wire really was compressed). */
interface Counted {
  registry: CompressionRegistry;
  compressed: Record<string, number>;
  decompressed: Record<string, number>;
}

function counted(): Counted {
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
  return {
    registry: createCompressionRegistry(wrap(deflateCompression), wrap(gzipCompression), wrap(brotliCompression)),
    compressed,
    decompressed,
  };
}

function grpcFrame(body: Uint8Array, flag: number): Uint8Array {
  const out = new Uint8Array(5 + body.length);
  out[0] = flag;
  new DataView(out.buffer).setUint32(1, body.length);
  out.set(body, 5);
  return out;
}

/** One raw HTTP/2 request; collects headers, trailers and body. */
async function rawRequest(
  port: number,
  headers: http2.OutgoingHttpHeaders,
  body: Uint8Array,
): Promise<{ headers: http2.IncomingHttpHeaders; trailers: http2.IncomingHttpHeaders; body: Buffer }> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on("error", () => {});
  try {
    return await new Promise((resolve) => {
      const req = session.request({
        ":method": "POST",
        ":path": "/petrel.testing.v1.TestService/Echo",
        "content-type": "application/grpc",
        te: "trailers",
        ...headers,
      });
      let h: http2.IncomingHttpHeaders = {};
      let t: http2.IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      req.on("response", (r) => {
        h = r;
      });
      req.on("trailers", (tr) => {
        t = tr;
      });
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("error", () => {});
      req.on("close", () => resolve({ headers: h, trailers: t, body: Buffer.concat(chunks) }));
      req.end(body);
    });
  } finally {
    session.destroy();
  }
}

const statusOf = (r: { headers: http2.IncomingHttpHeaders; trailers: http2.IncomingHttpHeaders }) =>
  Number(r.trailers["grpc-status"] ?? r.headers["grpc-status"]);

describe("gRPC compression: the node:zlib algorithms", () => {
  for (const c of [gzipCompression, deflateCompression, brotliCompression]) {
    it(`${c.name} round trips, and its limits hold`, async () => {
      const data = compressiblePayload(256 * 1024);
      const z = await c.compress(data);
      assert.ok(z.length < data.length / 10, `${c.name} output ${z.length} bytes`);
      assert.deepEqual(await c.decompress(z, data.length), data);
      await expectRpcError(c.decompress(z, data.length - 1), Code.RESOURCE_EXHAUSTED);
      await expectRpcError(c.decompress(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), MiB), Code.INTERNAL);
      // A truncated stream is corrupt too.
      await expectRpcError(c.decompress(z.subarray(0, z.length >> 1), MiB), Code.INTERNAL);
      assert.equal((await c.decompress(await c.compress(new Uint8Array(0)), 0)).length, 0);
    });
  }

  it("br is brotli, readable by node:zlib's own decoder both ways", async () => {
    const data = compressiblePayload(64 * 1024);
    const z = await brotliCompression.compress(data);
    assert.deepEqual(new Uint8Array(brotliDecompressSync(z)), data);
    assert.deepEqual(await brotliCompression.decompress(brotliCompressSync(data), data.length), data);
  });

  it("the default registry advertises identity,deflate,gzip,br", async () => {
    const { createDefaultGrpcCompressions } = await import("./index.js");
    const r = createDefaultGrpcCompressions();
    assert.equal(r.acceptEncoding(), "identity,deflate,gzip,br");
    assert.equal(r.get("gzip"), gzipCompression);
    assert.equal(r.get("br"), brotliCompression);
    assert.equal(r.get("identity"), undefined);
    assert.ok(r.supports("identity"));
    assert.ok(!r.supports("snappy"));
  });
});

for (const alg of ["gzip", "deflate", "br"] as const) {
  describe(`gRPC compression: Petrel client <-> Petrel server, ${alg} both ways`, () => {
    let server: GrpcServer;
    let port: number;
    let transport: ReturnType<typeof createGrpcTransport>;
    let client: Client<typeof TestService>;
    const probe: TestServiceProbe = { cancelled: [], lastHeaders: {} };
    const srv = counted();
    const cli = counted();
    const payload = compressiblePayload();

    before(async () => {
      const router = createRouter().service(TestService, createTestServiceImpl(probe));
      server = createGrpcServer({ router, compression: alg, compressions: srv.registry });
      ({ port } = await server.listen());
      transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}`, compression: alg, compressions: cli.registry });
      client = createClient(TestService, transport);
    });

    after(async () => {
      await transport?.close();
      await server?.close({ graceMs: 1000 });
    });

    it("unary: a 1 MiB compressible payload echoes, compressed on the wire in both directions", async () => {
      const s0 = srv.decompressed[alg] ?? 0;
      const c0 = cli.decompressed[alg] ?? 0;
      let header: Metadata | undefined;
      const res = await client.echo({ text: "big", payload }, { onHeader: (h) => (header = h) });
      assert.equal(res.text, "big");
      assert.deepEqual(res.payload, payload);
      assert.equal(srv.decompressed[alg], s0 + 1, "server decompressed the request");
      assert.equal(cli.decompressed[alg], c0 + 1, "client decompressed the response");
      assert.equal(header?.get("grpc-encoding"), undefined, "grpc-* headers are not metadata");
    });

    it("server streaming: three 1 MiB messages arrive in order, each compressed", async () => {
      const n0 = cli.decompressed[alg] ?? 0;
      const msgs = await drain(client.serverStream({ text: "s", count: 3, payload }));
      assert.deepEqual(
        msgs.map((m) => m.count),
        [0, 1, 2],
      );
      for (const m of msgs) assert.deepEqual(m.payload, payload);
      assert.equal(cli.decompressed[alg], n0 + 3);
    });

    it("client streaming: 20 compressed requests are read in order", async () => {
      const n0 = srv.decompressed[alg] ?? 0;
      const reqs = Array.from({ length: 20 }, (_, i) => create(EchoRequestSchema, { text: String.fromCharCode(97 + i), payload }));
      const res = await client.clientStream(from(reqs));
      assert.equal(res.count, 20);
      assert.equal(res.text, "abcdefghijklmnopqrst");
      assert.equal(srv.decompressed[alg], n0 + 20);
    });

    it("bidi: 50 messages each way keep their order", async () => {
      const reqs = Array.from({ length: 50 }, (_, i) => create(EchoRequestSchema, { text: `m${i}`.repeat(100), seq: BigInt(i) }));
      const out = await drain(client.bidi(from(reqs)));
      assert.deepEqual(
        out.map((m) => m.seq),
        reqs.map((r) => r.seq),
      );
      assert.equal(out[49]?.text, "m49".repeat(100));
    });

    it("a decompressed request over the 4 MiB receive limit is RESOURCE_EXHAUSTED; the client's x-petrel-compress is not sent", async () => {
      await expectRpcError(client.echo({ payload: new Uint8Array(5 * MiB) }), Code.RESOURCE_EXHAUSTED);
      const res = await client.echo({ text: "after" }, { headers: { [COMPRESS_HEADER]: "identity" } });
      assert.equal(res.text, "after");
      assert.equal(probe.lastHeaders[COMPRESS_HEADER], undefined);
    });
  });
}

describe("gRPC compression: per-call switches, negotiation and bad input", () => {
  let server: GrpcServer;
  let port: number;
  const srv = counted();
  const probe: TestServiceProbe = { cancelled: [], lastHeaders: {} };

  before(async () => {
    const router = createRouter({
      interceptors: [
        (next) => (req) => {
          const want = req.ctx.requestHeader.getString("x-want-compress");
          if (want !== undefined) req.ctx.responseHeader.set(COMPRESS_HEADER, want);
          return next(req);
        },
      ],
    }).service(TestService, createTestServiceImpl(probe));
    server = createGrpcServer({ router, compressions: srv.registry });
    ({ port } = await server.listen());
  });

  after(async () => {
    await server?.close({ graceMs: 1000 });
  });

  it("responses are uncompressed by default; a handler's x-petrel-compress compresses that call only and is not sent", async () => {
    const cli = counted();
    const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}`, compressions: cli.registry });
    const client = createClient(TestService, transport);
    try {
      const payload = compressiblePayload(64 * 1024);
      await client.echo({ payload });
      assert.deepEqual(cli.decompressed, { gzip: 0, deflate: 0, br: 0 });
      assert.deepEqual(srv.decompressed, { gzip: 0, deflate: 0, br: 0 });
      let header: Metadata | undefined;
      const res = await client.echo(
        { payload },
        { headers: { "x-want-compress": "deflate", "x-echo": "h" }, onHeader: (h) => (header = h) },
      );
      assert.deepEqual(res.payload, payload);
      assert.equal(cli.decompressed.deflate, 1);
      assert.equal(header?.getString("x-echo"), "h");
      assert.equal(header?.get(COMPRESS_HEADER), undefined);
      // The per-call request switch of the client.
      await client.echo({ payload }, { headers: { [COMPRESS_HEADER]: "gzip" } });
      assert.equal(srv.decompressed.gzip, 1);
      assert.equal(probe.lastHeaders[COMPRESS_HEADER], undefined);
      await expectRpcError(client.echo({}, { headers: { [COMPRESS_HEADER]: "snappy" } }), Code.INVALID_ARGUMENT);
    } finally {
      await transport.close();
    }
  });

  it("the server compresses only with an encoding the client accepts, and always advertises its own", async () => {
    // Over the 1024-byte compressMinBytes default, so the response is worth compressing.
    const msg = toBinary(EchoRequestSchema, create(EchoRequestSchema, { text: "x".repeat(2000) }));
    const noAccept = await rawRequest(port, { "x-want-compress": "gzip", "grpc-accept-encoding": "identity" }, grpcFrame(msg, 0));
    assert.equal(statusOf(noAccept), 0);
    assert.equal(noAccept.headers["grpc-encoding"], undefined);
    assert.equal(noAccept.headers["grpc-accept-encoding"], "identity,deflate,gzip,br");
    assert.equal(noAccept.body[0], 0);
    const accept = await rawRequest(port, { "x-want-compress": "gzip", "grpc-accept-encoding": "identity, gzip" }, grpcFrame(msg, 0));
    assert.equal(statusOf(accept), 0);
    assert.equal(accept.headers["grpc-encoding"], "gzip");
    assert.equal(accept.body[0], 1);
    assert.ok(accept.body.length < 100, `response of ${accept.body.length} bytes`);
  });

  it("gzip and deflate requests from a raw peer decode; a flag-0 message in a gzip call is fine too", async () => {
    const msg = toBinary(EchoRequestSchema, create(EchoRequestSchema, { text: "raw" }));
    for (const [enc, z] of [
      ["gzip", gzipSync(msg)],
      ["deflate", deflateSync(msg)],
    ] as const) {
      assert.equal(statusOf(await rawRequest(port, { "grpc-encoding": enc }, grpcFrame(z, 1))), 0, enc);
    }
    assert.equal(statusOf(await rawRequest(port, { "grpc-encoding": "gzip" }, grpcFrame(msg, 0))), 0);
  });

  it("corrupt compressed bytes are INTERNAL", async () => {
    const r = await rawRequest(port, { "grpc-encoding": "gzip" }, grpcFrame(new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6]), 1));
    assert.equal(statusOf(r), Code.INTERNAL);
    const d = await rawRequest(port, { "grpc-encoding": "deflate" }, grpcFrame(new Uint8Array([9, 9, 9, 9]), 1));
    assert.equal(statusOf(d), Code.INTERNAL);
  });

  it("a decompression bomb (8 KiB of gzip inflating past 4 MiB) is RESOURCE_EXHAUSTED", async () => {
    const bomb = gzipSync(new Uint8Array(8 * MiB));
    assert.ok(bomb.length < 64 * 1024);
    const r = await rawRequest(port, { "grpc-encoding": "gzip" }, grpcFrame(bomb, 1));
    assert.equal(statusOf(r), Code.RESOURCE_EXHAUSTED, String(r.trailers["grpc-message"] ?? r.headers["grpc-message"]));
  });

  it("an unknown grpc-encoding is UNIMPLEMENTED with the supported ones listed", async () => {
    const r = await rawRequest(port, { "grpc-encoding": "snappy" }, grpcFrame(new Uint8Array(0), 0));
    assert.equal(statusOf(r), Code.UNIMPLEMENTED);
    assert.equal(r.headers["grpc-accept-encoding"], "identity,deflate,gzip,br");
  });
});

describe("gRPC compression: the Petrel client against a raw server's compressed responses", () => {
  let h2: http2.Http2Server;
  let port: number;
  /** What the raw server answers: grpc-encoding and one framed body. */
  let answer: { encoding?: string; body: Uint8Array } = { body: new Uint8Array(0) };
  let seenAccept: string | undefined;

  before(async () => {
    h2 = http2.createServer();
    h2.on("stream", (stream, headers) => {
      seenAccept = headers["grpc-accept-encoding"] as string | undefined;
      stream.on("data", () => {});
      stream.on("error", () => {});
      const h: http2.OutgoingHttpHeaders = { ":status": 200, "content-type": "application/grpc" };
      if (answer.encoding !== undefined) h["grpc-encoding"] = answer.encoding;
      stream.respond(h, { waitForTrailers: true });
      stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(answer.body);
    });
    await new Promise<void>((resolve) => h2.listen(0, "127.0.0.1", resolve));
    port = (h2.address() as { port: number }).port;
  });

  after(async () => {
    await new Promise<void>((resolve) => h2.close(() => resolve()));
  });

  it("decodes gzip, deflate, and mixed flags; rejects corrupt bytes, bombs and unknown encodings", async () => {
    const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` });
    const client = createClient(TestService, transport);
    try {
      const res = toBinary(EchoResponseSchema, create(EchoResponseSchema, { text: "zipped" }));
      answer = { encoding: "gzip", body: grpcFrame(gzipSync(res), 1) };
      assert.equal((await client.echo({})).text, "zipped");
      assert.equal(seenAccept, "identity,deflate,gzip,br");
      answer = { encoding: "deflate", body: grpcFrame(deflateSync(res), 1) };
      assert.equal((await client.echo({})).text, "zipped");
      // Order is kept when compressed and plain messages mix on one stream.
      const frames = [0, 1, 2, 3, 4, 5].map((i) => {
        const b = toBinary(EchoResponseSchema, create(EchoResponseSchema, { count: i }));
        return i % 2 === 0 ? grpcFrame(gzipSync(b), 1) : grpcFrame(b, 0);
      });
      answer = { encoding: "gzip", body: Buffer.concat(frames) };
      const msgs = await drain(client.serverStream({}));
      assert.deepEqual(
        msgs.map((m) => m.count),
        [0, 1, 2, 3, 4, 5],
      );
      answer = { encoding: "gzip", body: grpcFrame(new Uint8Array([0x1f, 0x8b, 8, 0, 7, 7, 7]), 1) };
      await expectRpcError(client.echo({}), Code.INTERNAL);
      answer = { encoding: "gzip", body: grpcFrame(gzipSync(new Uint8Array(8 * MiB)), 1) };
      await expectRpcError(client.echo({}), Code.RESOURCE_EXHAUSTED);
      answer = { body: grpcFrame(gzipSync(res), 1) };
      await expectRpcError(client.echo({}), Code.INTERNAL);
      answer = { encoding: "snappy", body: grpcFrame(res, 1) };
      await expectRpcError(client.echo({}), Code.INTERNAL);
    } finally {
      await transport.close();
    }
  });
});

describe("gRPC compression: interop with @grpc/grpc-js", () => {
  it("a grpc-js client set to gzip calls a Petrel server that compresses its responses", async () => {
    const srv = counted();
    const router = createRouter().service(TestService, createTestServiceImpl());
    const server = createGrpcServer({ router, compression: "gzip", compressions: srv.registry });
    const { port } = await server.listen();
    const gz = createGrpcJsClient(`127.0.0.1:${port}`, { "grpc.default_compression_algorithm": 2 });
    try {
      const payload = Buffer.from(compressiblePayload());
      const o = await collectUnary<EchoResponse>((cb) => gz.Echo({ text: "zip", payload }, new grpc.Metadata(), {}, cb));
      assert.equal(o.error, undefined, o.error?.details);
      assert.equal(o.response?.text, "zip");
      assert.ok(o.response?.payload.equals(payload));
      assert.equal(srv.decompressed.gzip, 1, "grpc-js compressed the request");
      assert.equal(srv.compressed.gzip, 1, "Petrel compressed the response");
      const s = await collectStream<EchoResponse>(gz.ServerStream({ text: "s", count: 3, payload }));
      assert.equal(s.error, undefined, s.error?.details);
      assert.deepEqual(
        s.messages.map((m) => m.count),
        [0, 1, 2],
      );
      const cs = await collectUnary<EchoResponse>((cb) => {
        const call = gz.ClientStream(new grpc.Metadata(), {}, cb);
        for (let i = 0; i < 10; i++) call.write({ text: String(i), payload });
        call.end();
        return call;
      });
      assert.equal(cs.error, undefined, cs.error?.details);
      assert.equal(cs.response?.text, "0123456789");
    } finally {
      gz.close();
      await server.close({ graceMs: 1000 });
    }
  });

  it("a Petrel client compressing with gzip and deflate is understood by a grpc-js server", async () => {
    // grpc-js 1.x servers decompress requests but never compress responses (its server always
    // sends the flag 0), so this direction tests request compression; compressed responses are
    // covered by the grpc-js client test above and the raw-server test.
    const peer = await startGrpcJsServer();
    try {
      for (const alg of ["gzip", "deflate"]) {
        const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${peer.port}`, compression: alg });
        const client = createClient(TestService, transport);
        try {
          const payload = compressiblePayload();
          const res = await client.echo({ text: alg, payload });
          assert.equal(res.text, alg);
          assert.deepEqual(res.payload, payload);
          const reqs = Array.from({ length: 5 }, (_, i) => create(EchoRequestSchema, { text: String(i), payload }));
          const cs = await client.clientStream(from(reqs));
          assert.equal(cs.text, "01234");
        } finally {
          await transport.close();
        }
      }
    } finally {
      peer.close();
    }
  });
});

describe("gRPC compression: per message (setMessageCompression / wasCompressed)", () => {
  it("each message's compressed flag is chosen by its sender and seen by its receiver, both ways", async () => {
    const srv = counted();
    const cli = counted();
    const seenByServer: boolean[] = [];
    const impl = {
      ...createTestServiceImpl(),
      // Echo: `text` "plain" asks for an uncompressed response on a compressing call.
      echo(req: { text: string }) {
        const res = { text: req.text };
        return req.text === "plain" ? setMessageCompression(res, false) : res;
      },
      // Bidi: records each request's flag; compresses only the responses to even seq.
      async *bidi(reqs: AsyncIterable<{ seq: bigint }>) {
        for await (const r of reqs) {
          seenByServer.push(wasCompressed(r));
          yield setMessageCompression({ seq: r.seq }, r.seq % 2n === 0n);
        }
      },
    };
    const router = createRouter().service(TestService, impl);
    // No size threshold: only the hints decide here (the threshold has its own tests).
    const server = createGrpcServer({ router, compression: "gzip", compressions: srv.registry, compressMinBytes: 0 });
    const { port } = await server.listen();
    const transport = createGrpcTransport({
      baseUrl: `http://127.0.0.1:${port}`,
      compression: "gzip",
      compressions: cli.registry,
      compressMinBytes: 0,
    });
    const client = createClient(TestService, transport);
    try {
      const zipped = await client.echo({ text: "zip" });
      const plain = await client.echo({ text: "plain" });
      assert.equal(wasCompressed(zipped), true);
      assert.equal(wasCompressed(plain), false);
      assert.equal(srv.compressed.gzip, 1, "only the first echo response was compressed");
      srv.compressed.gzip = 0;
      srv.decompressed.gzip = 0;

      const requests = [0n, 1n, 2n, 3n].map((seq) => (seq % 2n === 1n ? setMessageCompression({ seq }, false) : { seq }));
      const responses = await drain(client.bidi(from(requests)));
      assert.deepEqual(
        responses.map((r) => r.seq),
        [0n, 1n, 2n, 3n],
      );
      assert.deepEqual(seenByServer, [true, false, true, false], "request flags as the server saw them");
      assert.deepEqual(
        responses.map((r) => wasCompressed(r)),
        [true, false, true, false],
        "response flags as the client saw them",
      );
      assert.equal(srv.decompressed.gzip, 2);
      assert.equal(srv.compressed.gzip, 2);
      assert.equal(cli.compressed.gzip, 2 + 2, "two echo requests and two bidi requests were compressed");
    } finally {
      await transport.close();
      await server.close({ graceMs: 1000 });
    }
  });

  it("a compress hint on a call without an encoding changes nothing: the message goes out uncompressed", async () => {
    const router = createRouter().service(TestService, createTestServiceImpl());
    const server = createGrpcServer({ router });
    const { port } = await server.listen();
    const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` });
    const client = createClient(TestService, transport);
    try {
      const res = await client.echo(setMessageCompression({ text: "x" }, true));
      assert.equal(res.text, "x");
      assert.equal(wasCompressed(res), false);
    } finally {
      await transport.close();
      await server.close({ graceMs: 1000 });
    }
  });
});

/** Splits a gRPC body into its Length-Prefixed-Messages. */
function parseFrames(body: Uint8Array): Array<{ flag: number; bytes: Uint8Array }> {
  const out: Array<{ flag: number; bytes: Uint8Array }> = [];
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let i = 0;
  while (i < body.length) {
    assert.ok(i + 5 <= body.length, "truncated frame header");
    const len = view.getUint32(i + 1);
    assert.ok(i + 5 + len <= body.length, "truncated frame body");
    out.push({ flag: body[i] as number, bytes: body.subarray(i + 5, i + 5 + len) });
    i += 5 + len;
  }
  return out;
}

/** An EchoResponse `{ text }` whose encoding is exactly `size` bytes (size >= 3). */
function textOfEncodedSize(size: number): string {
  for (let n = size - 2; n > 0; n--) {
    const text = "t".repeat(n);
    if (toBinary(EchoResponseSchema, create(EchoResponseSchema, { text })).length === size) return text;
  }
  throw new Error(`no text encodes to ${size} bytes`);
}

describe("gRPC compression: compressMinBytes and per-message hints, server side (frames read raw)", () => {
  let server: GrpcServer;
  let port: number;

  before(async () => {
    const impl = {
      ...createTestServiceImpl(),
      // `text` comes back as is; `seq` 1 forces compression, 2 forbids it.
      echo(req: { text: string; seq: bigint }) {
        const res = { text: req.text };
        if (req.seq === 1n) return setMessageCompression(res, true);
        if (req.seq === 2n) return setMessageCompression(res, false);
        return res;
      },
    };
    server = createGrpcServer({ router: createRouter().service(TestService, impl), compression: "gzip" });
    ({ port } = await server.listen());
  });

  after(async () => {
    await server?.close({ graceMs: 1000 });
  });

  /** One raw gzip-accepting call; the response's one frame, decoded. */
  async function call(text: string, seq = 0n): Promise<{ encoding: unknown; flag: number; text: string; size: number }> {
    const msg = toBinary(EchoRequestSchema, create(EchoRequestSchema, { text, seq }));
    const r = await rawRequest(port, { "grpc-accept-encoding": "gzip" }, grpcFrame(msg, 0));
    assert.equal(statusOf(r), 0, String(r.trailers["grpc-message"]));
    const frames = parseFrames(r.body);
    assert.equal(frames.length, 1);
    const f = frames[0] as { flag: number; bytes: Uint8Array };
    const plain = f.flag === 1 ? gunzipSync(f.bytes) : f.bytes;
    return { encoding: r.headers["grpc-encoding"], flag: f.flag, text: fromBinaryText(plain), size: plain.length };
  }
  const fromBinaryText = (b: Uint8Array) => fromBinary(EchoResponseSchema, b).text;

  it("a message under 1024 bytes goes with flag 0 on a gzip call; 1024 bytes and more are compressed", async () => {
    const small = await call("hi");
    assert.equal(small.encoding, "gzip", "the call's encoding stays gzip");
    assert.equal(small.flag, 0);
    assert.equal(small.text, "hi");
    const below = await call(textOfEncodedSize(1023));
    assert.equal(below.size, 1023);
    assert.equal(below.flag, 0);
    const at = await call(textOfEncodedSize(1024));
    assert.equal(at.size, 1024);
    assert.equal(at.flag, 1);
    assert.equal(at.text, textOfEncodedSize(1024));
  });

  it("setMessageCompression overrides the threshold: true compresses a small message, false keeps a large one plain", async () => {
    const forced = await call("tiny", 1n);
    assert.equal(forced.flag, 1);
    assert.equal(forced.text, "tiny");
    const big = "b".repeat(10_000);
    const kept = await call(big, 2n);
    assert.equal(kept.flag, 0);
    assert.equal(kept.text, big);
  });

  it("compressMinBytes: 0 compresses every message; a bad value is refused at creation", async () => {
    const s0 = createGrpcServer({
      router: createRouter().service(TestService, createTestServiceImpl()),
      compression: "gzip",
      compressMinBytes: 0,
    });
    const { port: p0 } = await s0.listen();
    try {
      const msg = toBinary(EchoRequestSchema, create(EchoRequestSchema, { text: "hi" }));
      const r = await rawRequest(p0, { "grpc-accept-encoding": "gzip" }, grpcFrame(msg, 0));
      assert.equal(statusOf(r), 0);
      assert.equal(parseFrames(r.body)[0]?.flag, 1);
    } finally {
      await s0.close({ graceMs: 1000 });
    }
    const router = createRouter();
    for (const bad of [-1, 1.5, Number.NaN]) {
      assert.throws(() => createGrpcServer({ router, compressMinBytes: bad }), TypeError);
      assert.throws(() => createGrpcTransport({ baseUrl: "http://127.0.0.1:1", compressMinBytes: bad }), TypeError);
    }
  });
});

describe("gRPC compression: compressMinBytes and per-message hints, client side (a raw server reads the frames)", () => {
  let h2: http2.Http2Server;
  let port: number;
  /** Request headers and body of each call, in order. */
  const seen: Array<{ headers: http2.IncomingHttpHeaders; body: Buffer }> = [];

  before(async () => {
    h2 = http2.createServer();
    h2.on("stream", (stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on("error", () => {});
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        seen.push({ headers, body: Buffer.concat(chunks) });
        const res = toBinary(EchoResponseSchema, create(EchoResponseSchema, { text: "ok" }));
        stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
        stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
        stream.end(grpcFrame(res, 0));
      });
    });
    await new Promise<void>((resolve) => h2.listen(0, "127.0.0.1", resolve));
    port = (h2.address() as { port: number }).port;
  });

  after(async () => {
    await new Promise<void>((resolve) => h2.close(() => resolve()));
  });

  /** The flags of the request frames the raw server saw last, checking each decodes. */
  function lastFlags(): number[] {
    const last = seen[seen.length - 1] as { headers: http2.IncomingHttpHeaders; body: Buffer };
    assert.equal(last.headers["grpc-encoding"], "gzip");
    return parseFrames(last.body).map((f) => {
      fromBinary(EchoRequestSchema, f.flag === 1 ? gunzipSync(f.bytes) : f.bytes);
      return f.flag;
    });
  }

  it("unary and client streaming: small messages go with flag 0, large ones compressed, hints win", async () => {
    const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}`, compression: "gzip" });
    const client = createClient(TestService, transport);
    const big = "x".repeat(4096);
    try {
      await client.echo({ text: "small" });
      assert.deepEqual(lastFlags(), [0]);
      await client.echo({ text: big });
      assert.deepEqual(lastFlags(), [1]);
      await client.echo(setMessageCompression({ text: "forced" }, true));
      assert.deepEqual(lastFlags(), [1]);
      await client.echo(setMessageCompression({ text: big }, false));
      assert.deepEqual(lastFlags(), [0]);
      await client.clientStream(
        from([
          create(EchoRequestSchema, { text: "a" }),
          create(EchoRequestSchema, { text: big }),
          setMessageCompression(create(EchoRequestSchema, { text: "b" }), true),
          setMessageCompression(create(EchoRequestSchema, { text: big }), false),
        ]),
      );
      assert.deepEqual(lastFlags(), [0, 1, 1, 0]);
    } finally {
      await transport.close();
    }
    const eager = createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}`, compression: "gzip", compressMinBytes: 0 });
    try {
      await createClient(TestService, eager).echo({ text: "s" });
      assert.deepEqual(lastFlags(), [1]);
    } finally {
      await eager.close();
    }
  });
});

describe("gRPC compression: brotli limits and errors", () => {
  let server: GrpcServer;
  let port: number;

  before(async () => {
    server = createGrpcServer({ router: createRouter().service(TestService, createTestServiceImpl()) });
    ({ port } = await server.listen());
  });

  after(async () => {
    await server?.close({ graceMs: 1000 });
  });

  it("a br request from a raw peer decodes", async () => {
    const msg = toBinary(EchoRequestSchema, create(EchoRequestSchema, { text: "raw br" }));
    const r = await rawRequest(port, { "grpc-encoding": "br" }, grpcFrame(brotliCompressSync(msg), 1));
    assert.equal(statusOf(r), 0);
    assert.equal(fromBinary(EchoResponseSchema, parseFrames(r.body)[0]?.bytes as Uint8Array).text, "raw br");
  });

  it("a brotli bomb (~100 bytes inflating to 64 MiB) is RESOURCE_EXHAUSTED", async () => {
    const bomb = brotliCompressSync(new Uint8Array(64 * MiB));
    assert.ok(bomb.length < 1024, `bomb of ${bomb.length} bytes`);
    const r = await rawRequest(port, { "grpc-encoding": "br" }, grpcFrame(bomb, 1));
    assert.equal(statusOf(r), Code.RESOURCE_EXHAUSTED, String(r.trailers["grpc-message"] ?? r.headers["grpc-message"]));
  });

  it("corrupt and truncated br are INTERNAL", async () => {
    const good = brotliCompressSync(compressiblePayload(64 * 1024));
    for (const bad of [new Uint8Array([0xff, 0xff, 0xff, 0xff]), good.subarray(0, good.length >> 1)]) {
      const r = await rawRequest(port, { "grpc-encoding": "br" }, grpcFrame(bad, 1));
      assert.equal(statusOf(r), Code.INTERNAL, String(r.trailers["grpc-message"] ?? r.headers["grpc-message"]));
    }
  });

  it("the Petrel client rejects a br bomb response with RESOURCE_EXHAUSTED and corrupt br with INTERNAL", async () => {
    let answer: Uint8Array = new Uint8Array(0);
    const h2 = http2.createServer();
    h2.on("stream", (stream) => {
      stream.on("data", () => {});
      stream.on("error", () => {});
      stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-encoding": "br" }, { waitForTrailers: true });
      stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(answer);
    });
    await new Promise<void>((resolve) => h2.listen(0, "127.0.0.1", resolve));
    const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${(h2.address() as { port: number }).port}` });
    const client = createClient(TestService, transport);
    try {
      const res = toBinary(EchoResponseSchema, create(EchoResponseSchema, { text: "br ok" }));
      answer = grpcFrame(brotliCompressSync(res), 1);
      assert.equal((await client.echo({})).text, "br ok");
      answer = grpcFrame(brotliCompressSync(new Uint8Array(64 * MiB)), 1);
      await expectRpcError(client.echo({}), Code.RESOURCE_EXHAUSTED);
      answer = grpcFrame(new Uint8Array([0xff, 0xff, 0xff, 0xff]), 1);
      await expectRpcError(client.echo({}), Code.INTERNAL);
    } finally {
      await transport.close();
      await new Promise<void>((resolve) => h2.close(() => resolve()));
    }
  });
});

describe("gRPC compression: br and gzip with other clients", () => {
  it("connect-node's gRPC client sends br and reads br responses from a Petrel server (unary and streaming)", async () => {
    const srv = counted();
    const server = createGrpcServer({
      router: createRouter().service(TestService, createTestServiceImpl()),
      compression: "br",
      compressions: srv.registry,
    });
    const { port } = await server.listen();
    const sessionManager = new Http2SessionManager(`http://127.0.0.1:${port}`);
    const transport = createConnectGrpcTransport({
      baseUrl: `http://127.0.0.1:${port}`,
      sessionManager,
      sendCompression: compressionBrotli,
      acceptCompression: [compressionBrotli],
      compressMinBytes: 1024,
    });
    const client = createConnectClient(TestService, transport);
    try {
      const payload = compressiblePayload(256 * 1024);
      const res = await client.echo({ text: "br", payload });
      assert.equal(res.text, "br");
      // connect-node decodes bytes into Buffers: compare the bytes, not the classes.
      assert.ok(Buffer.from(res.payload).equals(payload));
      assert.equal(srv.decompressed.br, 1, "connect-node compressed the request with br");
      assert.equal(srv.compressed.br, 1, "Petrel compressed the response with br");
      const msgs = await drain(client.serverStream({ text: "s", count: 3, payload }));
      assert.deepEqual(
        msgs.map((m) => m.count),
        [0, 1, 2],
      );
      for (const m of msgs) assert.ok(Buffer.from(m.payload).equals(payload));
      assert.equal(srv.compressed.br, 4);
      const cs = await client.clientStream(from(Array.from({ length: 4 }, (_, i) => ({ text: String(i), payload }))));
      assert.equal(cs.text, "0123");
      // echo, the serverStream request (it carries the payload too) and four client-stream requests.
      assert.equal(srv.decompressed.br, 6);
    } finally {
      sessionManager.abort();
      await server.close({ graceMs: 1000 });
    }
  });

  it("a grpc-js client (no br) still gets gzip or identity from a server set to br or gzip", async () => {
    for (const alg of ["br", "gzip"]) {
      const srv = counted();
      const server = createGrpcServer({
        router: createRouter().service(TestService, createTestServiceImpl()),
        compression: alg,
        compressions: srv.registry,
      });
      const { port } = await server.listen();
      const gz = createGrpcJsClient(`127.0.0.1:${port}`, { "grpc.default_compression_algorithm": 2 });
      try {
        const payload = Buffer.from(compressiblePayload(64 * 1024));
        const o = await collectUnary<EchoResponse>((cb) => gz.Echo({ text: alg, payload }, new grpc.Metadata(), {}, cb));
        assert.equal(o.error, undefined, o.error?.details);
        assert.equal(o.response?.text, alg);
        assert.ok(o.response?.payload.equals(payload));
        assert.equal(srv.decompressed.gzip, 1, "grpc-js compressed the request with gzip");
        // grpc-js accepts identity, deflate and gzip: a br server must answer uncompressed.
        assert.equal(srv.compressed.br, 0);
        assert.equal(srv.compressed.gzip, alg === "gzip" ? 1 : 0);
      } finally {
        gz.close();
        await server.close({ graceMs: 1000 });
      }
    }
  });
});
