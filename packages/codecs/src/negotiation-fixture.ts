// Shared pieces of the end-to-end negotiation proofs (negotiation-*.test.ts): counting codecs and
// compressions (the receiver only decompresses what arrived flagged compressed, so its counter is
// proof from the wire), the TestService with a per-call response compression switch, and raw
// HTTP/1.1 clients for Connect and gRPC-Web that see every flag and header.
import * as http from "node:http";
import * as zlib from "node:zlib";
import type { DescMessage } from "@bufbuild/protobuf";
import {
  type Codec,
  createCodecRegistry,
  createDefaultCodecRegistry,
  createRouter,
  protoJsonCodec,
  type Router,
  type ServiceImpl,
  wasCompressed,
} from "@petrel/core";
import { brotliCompression, deflateCompression, gzipCompression } from "@petrel/node";
import { type Compression, createCompressionRegistry, type CompressionRegistry } from "@petrel/protocol-grpc";
import { createTestServiceImpl, TestService } from "@petrel/testing";
import { createAvroCodec } from "./avro-codec.js";
import { msgpackCodec } from "./msgpack.js";

/** The codecs every server accepts, in registry order (the order error messages list them in). */
export const CODEC_NAMES = ["proto", "json", "msgpack", "avro"] as const;
export type CodecName = (typeof CODEC_NAMES)[number];
/** The compressions every protocol is tried with. */
export const COMPRESSIONS = ["identity", "gzip", "br"] as const;
export type CompressionName = (typeof COMPRESSIONS)[number];

/** A codec wrapper counting its encodes and decodes, to prove a call really used it. */
export interface CountingCodec extends Codec {
  encoded: number;
  decoded: number;
}

export function countingCodec(inner: Codec): CountingCodec {
  const c = {
    name: inner.name,
    encoded: 0,
    decoded: 0,
    encode<D extends DescMessage>(schema: D, message: Parameters<Codec["encode"]>[1]) {
      c.encoded++;
      return inner.encode(schema, message as never);
    },
    decode<D extends DescMessage>(schema: D, bytes: Uint8Array) {
      c.decoded++;
      return inner.decode(schema, bytes);
    },
  };
  return c as CountingCodec;
}

/** One side's codecs: counting wrappers of proto, json, msgpack and avro, by name. */
export function codecSet(): { registry: ReturnType<typeof createCodecRegistry>; byName: Record<CodecName, CountingCodec> } {
  const defaults = createDefaultCodecRegistry();
  const byName = {
    proto: countingCodec(defaults.get("proto") as Codec),
    json: countingCodec(defaults.get("json") as Codec),
    msgpack: countingCodec(msgpackCodec),
    avro: countingCodec(createAvroCodec()),
  };
  return { registry: createCodecRegistry(CODEC_NAMES.map((n) => byName[n])), byName };
}

/** A codec no server knows (protobuf JSON under another name). */
export const xmlCodec: Codec = { name: "xml", encode: protoJsonCodec.encode, decode: protoJsonCodec.decode };

/** A compression wrapper counting its work; `decompressed` only grows for messages flagged compressed. */
export interface CountingCompression extends Compression {
  compressed: number;
  decompressed: number;
}

export function countingCompression(inner: Compression): CountingCompression {
  const c: CountingCompression = {
    name: inner.name,
    compressed: 0,
    decompressed: 0,
    compress(bytes) {
      c.compressed++;
      return inner.compress(bytes);
    },
    decompress(bytes, max) {
      c.decompressed++;
      return inner.decompress(bytes, max);
    },
  };
  return c;
}

/** One side's compressions (gzip, deflate, br; counting) and a snapshot of their counters. */
export interface CompressionSet {
  registry: CompressionRegistry;
  byName: Record<"gzip" | "deflate" | "br", CountingCompression>;
  /** Decompressions so far, by name (identity: always 0). */
  decompressed(name: CompressionName): number;
}

export function compressionSet(): CompressionSet {
  const byName = {
    gzip: countingCompression(gzipCompression),
    deflate: countingCompression(deflateCompression),
    br: countingCompression(brotliCompression),
  };
  return {
    registry: createCompressionRegistry(byName.gzip, byName.deflate, byName.br),
    byName,
    decompressed: (name) => (name === "identity" ? 0 : byName[name].decompressed),
  };
}

/** Request header asking the test service to compress its responses with an algorithm (per call). */
export const RESPOND_HEADER = "x-respond-compress";

/** What the server's handlers saw. */
export interface ServiceProbe {
  /** `wasCompressed` of each request message, in arrival order. */
  requestsCompressed: boolean[];
}

/**
 * The reference TestService, plus: a request header {@link RESPOND_HEADER} becomes the response
 * header `x-petrel-compress` (Petrel's documented per-call response compression switch on gRPC,
 * gRPC-Web and petrel/1), and each request's compressed flag is recorded.
 */
export function probedServiceImpl(probe: ServiceProbe): ServiceImpl<typeof TestService> {
  const base = createTestServiceImpl();
  const respond = (ctx: Parameters<NonNullable<typeof base.echo>>[1]) => {
    const want = ctx.requestHeader.get(RESPOND_HEADER);
    if (typeof want === "string") ctx.responseHeader.set("x-petrel-compress", want);
  };
  return {
    ...base,
    echo(req, ctx) {
      probe.requestsCompressed.push(wasCompressed(req));
      respond(ctx);
      return base.echo(req, ctx);
    },
    serverStream(req, ctx) {
      probe.requestsCompressed.push(wasCompressed(req));
      respond(ctx);
      return base.serverStream(req, ctx);
    },
  };
}

/** A server side: router over counting codecs, and what its handlers saw. */
export interface ServerSide {
  router: Router;
  codecs: Record<CodecName, CountingCodec>;
  probe: ServiceProbe;
}

export function serverSide(): ServerSide {
  const { registry, byName } = codecSet();
  const probe: ServiceProbe = { requestsCompressed: [] };
  return { router: createRouter({ codecs: registry }).service(TestService, probedServiceImpl(probe)), codecs: byName, probe };
}

/**
 * A payload that compresses well (deflate and brotli shrink it to a few percent) and keeps the
 * encoded message above the 1024-byte `compressMinBytes` default in every codec.
 */
export const BIG_PAYLOAD: Uint8Array = new TextEncoder().encode("petrel negotiates codecs and compression. ".repeat(100));
export const SMALL_PAYLOAD: Uint8Array = new Uint8Array([0, 1, 2, 255]);

/** Sync zlib for raw clients. */
export function compressSync(name: CompressionName, bytes: Uint8Array): Buffer {
  if (name === "gzip") return zlib.gzipSync(bytes);
  if (name === "br") return zlib.brotliCompressSync(bytes);
  return Buffer.from(bytes);
}

export function decompressSync(name: string, bytes: Uint8Array): Buffer {
  if (name === "gzip") return zlib.gunzipSync(bytes);
  if (name === "br") return zlib.brotliDecompressSync(bytes);
  if (name === "deflate") return zlib.inflateSync(bytes);
  throw new Error(`unexpected encoding ${name}`);
}

/** A raw HTTP/1.1 exchange: bytes exactly as on the wire (node:http never decodes content codings). */
export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export function rawPost(base: string, path: string, headers: Record<string, string>, body: Uint8Array): Promise<RawResponse> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, path: url.pathname, method: "POST", headers, agent: false, timeout: 30_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("request timed out")));
    req.on("error", reject);
    req.end(body);
  });
}

/** A Connect / gRPC-Web envelope: flags, 4-byte big-endian length, data. */
export function envelope(flags: number, data: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + data.length);
  out[0] = flags;
  out.writeUInt32BE(data.length, 1);
  out.set(data, 5);
  return out;
}

export function parseEnvelopes(buf: Buffer): { flags: number; data: Buffer }[] {
  const out: { flags: number; data: Buffer }[] = [];
  let i = 0;
  while (i < buf.length) {
    if (i + 5 > buf.length) throw new Error(`truncated envelope at ${i}`);
    const len = buf.readUInt32BE(i + 1);
    if (i + 5 + len > buf.length) throw new Error(`truncated envelope body at ${i}`);
    out.push({ flags: buf[i] as number, data: buf.subarray(i + 5, i + 5 + len) });
    i += 5 + len;
  }
  return out;
}

/** What a raw enveloped call (Connect streaming, gRPC-Web) got back, flags and all. */
export interface RawEnvelopedCall<T> {
  res: RawResponse;
  /** The response messages, decoded. */
  messages: T[];
  /** Whether each response message arrived with the compressed flag. */
  compressed: boolean[];
  /** Whether the request message went out compressed. */
  requestCompressed: boolean;
  /** Connect: the end-stream JSON; gRPC-Web: the trailer lines as an object. */
  end: Record<string, unknown>;
}

/** Compresses a request body the way a client with `compressMinBytes` 1024 would. */
function maybeCompress(compression: CompressionName, bytes: Uint8Array): { body: Uint8Array; compressed: boolean } {
  if (compression === "identity" || bytes.length < 1024) return { body: bytes, compressed: false };
  return { body: compressSync(compression, bytes), compressed: true };
}

/**
 * A Connect unary call by hand: `application/<codec>`, `content-encoding` on a large request,
 * `accept-encoding` naming the wanted compression.
 */
export async function connectUnaryRaw<I extends DescMessage, O extends DescMessage>(
  base: string,
  path: string,
  codec: Codec,
  compression: CompressionName,
  input: I,
  output: O,
  message: Parameters<Codec["encode"]>[1],
): Promise<{ res: RawResponse; message?: ReturnType<Codec["decode"]>; requestCompressed: boolean; responseCompressed: boolean }> {
  const { body, compressed } = maybeCompress(compression, codec.encode(input, message as never));
  const headers: Record<string, string> = { "content-type": `application/${codec.name}`, "connect-protocol-version": "1" };
  if (compression !== "identity") headers["accept-encoding"] = compression;
  if (compressed) headers["content-encoding"] = compression;
  const res = await rawPost(base, path, headers, body);
  const ce = res.headers["content-encoding"];
  if (res.status !== 200) return { res, requestCompressed: compressed, responseCompressed: ce !== undefined };
  const data = ce === undefined ? res.body : decompressSync(ce, res.body);
  return { res, message: codec.decode(output, data), requestCompressed: compressed, responseCompressed: ce !== undefined };
}

/** A Connect server-streaming call by hand: `application/connect+<codec>`, enveloped both ways. */
export async function connectStreamRaw<I extends DescMessage, O extends DescMessage>(
  base: string,
  path: string,
  codec: Codec,
  compression: CompressionName,
  input: I,
  output: O,
  message: Parameters<Codec["encode"]>[1],
): Promise<RawEnvelopedCall<ReturnType<Codec["decode"]>>> {
  const { body, compressed } = maybeCompress(compression, codec.encode(input, message as never));
  const headers: Record<string, string> = { "content-type": `application/connect+${codec.name}`, "connect-protocol-version": "1" };
  if (compression !== "identity") {
    headers["connect-content-encoding"] = compression;
    headers["connect-accept-encoding"] = compression;
  }
  const res = await rawPost(base, path, headers, envelope(compressed ? 1 : 0, body));
  const out: RawEnvelopedCall<ReturnType<Codec["decode"]>> = { res, messages: [], compressed: [], requestCompressed: compressed, end: {} };
  if (res.status !== 200) return out;
  const enc = res.headers["connect-content-encoding"] as string | undefined;
  for (const { flags, data } of parseEnvelopes(res.body)) {
    const plain = (flags & 1) !== 0 ? decompressSync(enc ?? "missing connect-content-encoding", data) : data;
    if ((flags & 2) !== 0) out.end = JSON.parse(plain.toString()) as Record<string, unknown>;
    else {
      out.messages.push(codec.decode(output, plain));
      out.compressed.push((flags & 1) !== 0);
    }
  }
  return out;
}

/**
 * A gRPC-Web call by hand (HTTP/1.1, binary mode): `application/grpc-web+<codec>`, `grpc-encoding`
 * on a large request, `grpc-accept-encoding`, and {@link RESPOND_HEADER} asking the handler to
 * compress its responses (gRPC-Web servers compress only when configured or asked per call).
 */
export async function grpcWebRaw<I extends DescMessage, O extends DescMessage>(
  base: string,
  path: string,
  codec: Codec,
  compression: CompressionName,
  input: I,
  output: O,
  message: Parameters<Codec["encode"]>[1],
): Promise<RawEnvelopedCall<ReturnType<Codec["decode"]>>> {
  const { body, compressed } = maybeCompress(compression, codec.encode(input, message as never));
  const headers: Record<string, string> = { "content-type": `application/grpc-web+${codec.name}`, "x-grpc-web": "1" };
  if (compression !== "identity") {
    headers["grpc-accept-encoding"] = compression;
    headers[RESPOND_HEADER] = compression;
  }
  if (compressed) headers["grpc-encoding"] = compression;
  const res = await rawPost(base, path, headers, envelope(compressed ? 1 : 0, body));
  const out: RawEnvelopedCall<ReturnType<Codec["decode"]>> = { res, messages: [], compressed: [], requestCompressed: compressed, end: {} };
  if (res.status !== 200) return out;
  const enc = res.headers["grpc-encoding"] as string | undefined;
  for (const { flags, data } of parseEnvelopes(res.body)) {
    const plain = (flags & 1) !== 0 ? decompressSync(enc ?? "missing grpc-encoding", data) : data;
    if ((flags & 0x80) !== 0) {
      for (const line of plain.toString().split("\r\n")) {
        const i = line.indexOf(":");
        if (i > 0) out.end[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
    } else {
      out.messages.push(codec.decode(output, plain));
      out.compressed.push((flags & 1) !== 0);
    }
  }
  return out;
}
