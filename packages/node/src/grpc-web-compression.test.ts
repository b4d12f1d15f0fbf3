// gRPC-Web response compression: a handler set to compress answers with compressed messages
// (flag 1, `grpc-encoding`) only when the request's `grpc-accept-encoding` lists the algorithm,
// small messages stay plain (compressMinBytes), hints win; read back by connect-node's gRPC-Web
// client (which accepts gzip and br) and byte by byte from raw HTTP/1.1 requests, binary and text.
// @improbable-eng/grpc-web, which accepts no encoding, keeps getting identity.
import assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { create, fromBinary, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { compressionBrotli, compressionGzip, createGrpcWebTransport } from "@connectrpc/connect-node";
import grpcWeb, { type grpc as GrpcTypes } from "@improbable-eng/grpc-web";
import nodeHttpTransport from "@improbable-eng/grpc-web-node-http-transport";
import { createRouter, setMessageCompression } from "@petrel/core";
import { createCompressionRegistry, frameMessage, type Compression } from "@petrel/protocol-grpc";
import { EchoRequestSchema, EchoResponseSchema, TestService, createTestServiceImpl } from "@petrel/testing";
import { brotliCompression, deflateCompression, gzipCompression } from "./grpc-compression.js";
import { COMPRESS_HEADER } from "./grpc-server.js";
import { createGrpcWebHandler, type GrpcWebHandlerOptions } from "./grpc-web.js";

const compressed: Record<string, number> = {};
const counting = (c: Compression): Compression => ({
  name: c.name,
  compress(b) {
    compressed[c.name] = (compressed[c.name] ?? 0) + 1;
    return c.compress(b);
  },
  decompress: (b, max) => c.decompress(b, max),
});
const registry = createCompressionRegistry(counting(deflateCompression), counting(gzipCompression), counting(brotliCompression));

/** Echo: `seq` 1 forces compression of the response, 2 forbids it; `x-want` sets the call's compression. */
const impl = {
  ...createTestServiceImpl(),
  echo(
    req: { text: string; payload: Uint8Array; seq: bigint },
    ctx: { requestHeader: { getString(k: string): string | undefined }; responseHeader: { set(k: string, v: string): void } },
  ) {
    const want = ctx.requestHeader.getString("x-want");
    if (want !== undefined) ctx.responseHeader.set(COMPRESS_HEADER, want);
    const res = { text: req.text, payload: req.payload };
    if (req.seq === 1n) return setMessageCompression(res, true);
    if (req.seq === 2n) return setMessageCompression(res, false);
    return res;
  },
};
const router = createRouter().service(TestService, impl as never);

interface Served {
  url: string;
  close(): Promise<void>;
}

async function serve(options: GrpcWebHandlerOptions): Promise<Served> {
  const handler = createGrpcWebHandler(router, { compressions: registry, ...options });
  const server = http.createServer((req, res) => {
    if (!handler(req, res)) {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let gz: Served;
let plainServer: Served;
before(async () => {
  gz = await serve({ compression: "gzip" });
  plainServer = await serve({});
});
after(async () => {
  await gz?.close();
  await plainServer?.close();
});

/** 64 KiB of compressible bytes. */
const payload = new Uint8Array(64 * 1024).map((_, i) => 97 + (i % 7));

interface Frame {
  flag: number;
  bytes: Buffer;
}

function frames(body: Buffer): Frame[] {
  const out: Frame[] = [];
  let i = 0;
  while (i < body.length) {
    assert.ok(i + 5 <= body.length, "truncated frame header");
    const len = body.readUInt32BE(i + 1);
    assert.ok(i + 5 + len <= body.length, "truncated frame");
    out.push({ flag: body[i] as number, bytes: body.subarray(i + 5, i + 5 + len) });
    i += 5 + len;
  }
  return out;
}

/** One raw gRPC-Web unary Echo over HTTP/1.1; the response's frames (text mode decoded). */
async function echoRaw(
  base: string,
  req: { text?: string; payload?: Uint8Array; seq?: bigint },
  headers: Record<string, string>,
  text = false,
): Promise<{ headers: http.IncomingHttpHeaders; frames: Frame[] }> {
  const body = Buffer.from(frameMessage(toBinary(EchoRequestSchema, create(EchoRequestSchema, req))));
  const contentType = text ? "application/grpc-web-text" : "application/grpc-web+proto";
  const res = await new Promise<{ headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    const r = http.request(
      `${base}/petrel.testing.v1.TestService/Echo`,
      { method: "POST", headers: { "content-type": contentType, ...headers }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    r.on("error", reject);
    r.end(text ? body.toString("base64") : body);
  });
  const raw = text ? decodeSegments(res.body.toString("latin1")) : res.body;
  const fs = frames(raw);
  const last = fs[fs.length - 1] as Frame;
  assert.equal(last.flag, 0x80, "the trailer frame ends the body, never compressed");
  assert.match(last.bytes.toString("latin1"), /grpc-status:0\r\n/);
  return { headers: res.headers, frames: fs.slice(0, -1) };
}

/** grpc-web-text bodies are base64 segments, one per frame, each possibly padded. */
function decodeSegments(s: string): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < s.length; i += 4) {
    if (s.charCodeAt(i + 3) === 0x3d) {
      parts.push(Buffer.from(s.slice(start, i + 4), "base64"));
      start = i + 4;
    }
  }
  if (start < s.length) parts.push(Buffer.from(s.slice(start), "base64"));
  return Buffer.concat(parts);
}

function decodeResponse(f: Frame, encoding: unknown): MessageShape<typeof EchoResponseSchema> {
  let bytes: Uint8Array = f.bytes;
  if (f.flag === 1) bytes = encoding === "br" ? brotliDecompressSync(bytes) : gunzipSync(bytes);
  // A plain Uint8Array view, so decoded bytes fields compare equal to Uint8Arrays (not Buffers).
  return fromBinary(EchoResponseSchema, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

describe("gRPC-Web response compression (raw HTTP/1.1, frames read byte by byte)", () => {
  it("compresses a large response when the client accepts the server's algorithm", async () => {
    const r = await echoRaw(gz.url, { text: "big", payload }, { "grpc-accept-encoding": "identity, gzip" });
    assert.equal(r.headers["grpc-encoding"], "gzip");
    assert.equal(r.headers["grpc-accept-encoding"], "identity,deflate,gzip,br");
    assert.equal(r.frames.length, 1);
    assert.equal(r.frames[0]?.flag, 1);
    assert.ok((r.frames[0]?.bytes.length ?? 0) < payload.length / 10);
    const m = decodeResponse(r.frames[0] as Frame, "gzip");
    assert.equal(m.text, "big");
    assert.deepEqual(m.payload, payload);
  });

  it("stays identity without grpc-accept-encoding, with an algorithm the server does not use, or when not configured", async () => {
    for (const [base, headers] of [
      [gz.url, {}],
      [gz.url, { "grpc-accept-encoding": "br,deflate" }],
      [plainServer.url, { "grpc-accept-encoding": "gzip" }],
    ] as Array<[string, Record<string, string>]>) {
      const r = await echoRaw(base, { text: "p", payload }, headers);
      assert.equal(r.headers["grpc-encoding"], undefined);
      assert.equal(r.frames[0]?.flag, 0);
      assert.deepEqual(decodeResponse(r.frames[0] as Frame, undefined).payload, payload);
    }
  });

  it("a response under compressMinBytes goes with flag 0; hints override the threshold", async () => {
    const accept = { "grpc-accept-encoding": "gzip" };
    const small = await echoRaw(gz.url, { text: "small" }, accept);
    assert.equal(small.headers["grpc-encoding"], "gzip");
    assert.equal(small.frames[0]?.flag, 0);
    assert.equal(decodeResponse(small.frames[0] as Frame, "gzip").text, "small");
    const forced = await echoRaw(gz.url, { text: "forced", seq: 1n }, accept);
    assert.equal(forced.frames[0]?.flag, 1);
    assert.equal(decodeResponse(forced.frames[0] as Frame, "gzip").text, "forced");
    const kept = await echoRaw(gz.url, { text: "kept", payload, seq: 2n }, accept);
    assert.equal(kept.frames[0]?.flag, 0);
    assert.deepEqual(decodeResponse(kept.frames[0] as Frame, "gzip").payload, payload);
  });

  it("a handler's x-petrel-compress picks the call's algorithm and is not sent", async () => {
    const r = await echoRaw(plainServer.url, { text: "b", payload }, { "grpc-accept-encoding": "gzip,br", "x-want": "br" });
    assert.equal(r.headers["grpc-encoding"], "br");
    assert.equal(r.headers[COMPRESS_HEADER], undefined);
    assert.equal(r.frames[0]?.flag, 1);
    assert.deepEqual(decodeResponse(r.frames[0] as Frame, "br").payload, payload);
    const off = await echoRaw(gz.url, { text: "i", payload }, { "grpc-accept-encoding": "gzip", "x-want": "identity" });
    assert.equal(off.headers["grpc-encoding"], undefined);
    assert.equal(off.headers[COMPRESS_HEADER], undefined);
    assert.equal(off.frames[0]?.flag, 0);
  });

  it("text mode: the compressed frame is base64 like any other", async () => {
    const r = await echoRaw(gz.url, { text: "txt", payload }, { "grpc-accept-encoding": "gzip" }, true);
    assert.equal(r.headers["content-type"], "application/grpc-web-text+proto");
    assert.equal(r.headers["grpc-encoding"], "gzip");
    assert.equal(r.frames[0]?.flag, 1);
    assert.deepEqual(decodeResponse(r.frames[0] as Frame, "gzip").payload, payload);
  });

  it("an unknown compression or a bad compressMinBytes is refused at creation", () => {
    assert.throws(() => createGrpcWebHandler(router, { compression: "snappy" }), TypeError);
    assert.throws(() => createGrpcWebHandler(router, { compressMinBytes: -1 }), TypeError);
  });
});

describe("gRPC-Web response compression read back by clients", () => {
  for (const [alg, c] of [
    ["gzip", compressionGzip],
    ["br", compressionBrotli],
  ] as const) {
    it(`connect-node's gRPC-Web client reads ${alg} responses (unary and server streaming)`, async () => {
      const s = await serve({ compression: alg });
      const before = compressed[alg] ?? 0;
      try {
        const client = createClient(TestService, createGrpcWebTransport({ httpVersion: "1.1", baseUrl: s.url, acceptCompression: [c] }));
        const res = await client.echo({ text: alg, payload });
        assert.equal(res.text, alg);
        assert.ok(Buffer.from(res.payload).equals(payload));
        assert.equal(compressed[alg], before + 1, "the response was compressed");
        const counts: number[] = [];
        for await (const m of client.serverStream({ text: "s", count: 3, payload })) {
          assert.ok(Buffer.from(m.payload).equals(payload));
          counts.push(m.count);
        }
        assert.deepEqual(counts, [0, 1, 2]);
        assert.equal(compressed[alg], before + 4);
      } finally {
        await s.close();
      }
    });
  }

  it("@improbable-eng/grpc-web (accepts no encoding) gets identity responses from a compressing server", async () => {
    const { grpc } = grpcWeb;
    grpc.setDefaultTransport(nodeHttpTransport.NodeHttpTransport());
    const EchoReq = messageClass(EchoRequestSchema);
    const EchoRes = messageClass(EchoResponseSchema);
    const method = {
      methodName: "Echo",
      service: { serviceName: "petrel.testing.v1.TestService" },
      requestStream: false,
      responseStream: false,
      requestType: EchoReq,
      responseType: EchoRes,
    };
    const before = compressed.gzip ?? 0;
    const out = await new Promise<GrpcTypes.UnaryOutput<InstanceType<typeof EchoRes>>>((onEnd) =>
      grpc.unary(method as never, { host: gz.url, request: new EchoReq({ text: "imp", payload }) as never, onEnd }),
    );
    assert.equal(out.status, grpc.Code.OK, out.statusMessage);
    assert.equal(out.message?.toObject().text, "imp");
    assert.deepEqual(out.message?.toObject().payload, payload);
    assert.equal(compressed.gzip ?? 0, before, "nothing was compressed");
  });
});

/** protobuf-es messages dressed as google-protobuf classes, which @improbable-eng/grpc-web expects. */
function messageClass<D extends DescMessage>(schema: D) {
  return class {
    msg: MessageShape<D>;
    constructor(init?: object) {
      this.msg = create(schema, init as never);
    }
    serializeBinary(): Uint8Array {
      return toBinary(schema, this.msg);
    }
    toObject(): MessageShape<D> {
      return this.msg;
    }
    static deserializeBinary(bytes: Uint8Array) {
      const o = new this();
      o.msg = fromBinary(schema, bytes);
      return o;
    }
  };
}
