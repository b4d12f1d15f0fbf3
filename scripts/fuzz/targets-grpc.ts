/** gRPC targets: message deframer, metadata headers + status trailers, grpc-timeout, base64 (plain and gRPC-Web text). */
import { Code, RpcError, isValidMetadataPair } from "@petrel/core";
import {
  MessageDeframer,
  decodeBase64,
  decodeGrpcMessage,
  encodeBase64,
  encodeGrpcMessage,
  encodeGrpcTimeout,
  frameMessage,
  headersToMetadata,
  parseGrpcTimeout,
  readGrpcStatus,
} from "@petrel/protocol-grpc";
import { decodeBase64Stream } from "../../packages/node/src/grpc-web-base64.ts";
import type { Rng } from "./rng.js";
import { type FuzzTarget, type Mix, buildCorpus, check, forEachChunk, generateMixed, latin1, utf8Encoder, withControl } from "./target.js";

const isRpcError = (e: unknown) => e instanceof RpcError;

function concat(parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

function deframer(): FuzzTarget {
  // Control byte: bits 0-1 chunking, bits 2-7 pick maxMessageSize (small values hit the limit check).
  const structured = (rng: Rng): Uint8Array => {
    const msgs: Uint8Array[] = [];
    for (let n = rng.int(6); n > 0; n--) msgs.push(frameMessage(rng.bytes(rng.size(64)), rng.chance(0.3)));
    return withControl(rng.u32(), concat(msgs));
  };
  const mix: Mix = { corpus: [], structured };
  return {
    name: "grpc-deframer",
    description:
      "gRPC Length-Prefixed-Message deframer in any chunking; only RpcError, and the same messages as a one-shot reference parser",
    setup(rng) {
      mix.corpus = buildCorpus(rng, 256, structured);
    },
    generate: (rng) => generateMixed(rng, mix),
    run(input) {
      if (input.length === 0) return;
      const control = input[0] as number;
      const max = control >>> 2 === 63 ? 1 << 20 : control >>> 2;
      const body = input.subarray(1);
      const d = new MessageDeframer({ maxMessageSize: max });
      let got = 0;
      let gotBytes = 0;
      const onMessage = (m: Uint8Array) => {
        check(m.length <= max, `message of ${m.length} bytes above max ${max}`);
        got++;
        gotBytes += m.length;
      };
      let error: unknown;
      try {
        forEachChunk(body, control, (c) => d.push(c, onMessage));
        d.end();
      } catch (e) {
        if (!(e instanceof RpcError)) throw e;
        error = e;
      }
      // The reference: a one-shot parse of the whole body straight from the grammar.
      let off = 0;
      let want = 0;
      let wantBytes = 0;
      let wantError: Code | undefined;
      while (off < body.length) {
        const flag = body[off] as number;
        if (flag > 1 || body.length - off < 5) {
          wantError = Code.INTERNAL;
          break;
        }
        const len =
          (((body[off + 1] as number) << 24) |
            ((body[off + 2] as number) << 16) |
            ((body[off + 3] as number) << 8) |
            (body[off + 4] as number)) >>>
          0;
        if (len > max) {
          wantError = Code.RESOURCE_EXHAUSTED;
          break;
        }
        if (body.length - off - 5 < len) {
          wantError = Code.INTERNAL;
          break;
        }
        off += 5 + len;
        want++;
        wantBytes += len;
      }
      check(got === want && gotBytes === wantBytes, `decoded ${got} messages (${gotBytes} bytes), reference ${want} (${wantBytes})`);
      check((error as RpcError | undefined)?.code === wantError, `error ${String(error)}, reference code ${wantError}`);
    },
    expected: isRpcError,
  };
}

const KEYS = [
  "x-a",
  "a-bin",
  "trace-bin",
  "user-agent",
  "grpc-status",
  "grpc-message",
  "grpc-status-details-bin",
  "grpc-retry-pushback-ms",
  ":path",
  "content-type",
  "te",
  "X-Up",
  "k.v_1",
  "",
];

/**
 * Headers as bytes: records separated by 0x0a, key and value separated by the first 0x00,
 * both read as latin1 (what Node hands over). A repeated key becomes a string[].
 */
function headersOf(input: Uint8Array): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null);
  let start = 0;
  while (start <= input.length) {
    let end = input.indexOf(0x0a, start);
    if (end < 0) end = input.length;
    const rec = input.subarray(start, end);
    const sep = rec.indexOf(0);
    const key = latin1(sep < 0 ? rec : rec.subarray(0, sep));
    const value = sep < 0 ? "" : latin1(rec.subarray(sep + 1));
    const prev = out[key];
    if (prev === undefined) out[key] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[key] = [prev, value];
    start = end + 1;
  }
  return out;
}

function headerValue(rng: Rng, key: string): string {
  if (key.endsWith("-bin")) {
    const parts: string[] = [];
    for (let n = 1 + rng.int(3); n > 0; n--) parts.push(encodeBase64(rng.bytes(rng.size(24)), rng.chance(0.3)));
    return parts.join(rng.pick([",", ", "]));
  }
  if (key === "grpc-status") return rng.chance(0.8) ? String(rng.int(20)) : rng.text(rng.size(5), "0123456789 -x");
  if (key === "grpc-message") return encodeGrpcMessage(rng.text(rng.size(20), "ok %é😀\n\t"));
  return rng.text(rng.size(20), "abc 0~%,");
}

function metadataHeaders(): FuzzTarget {
  const structured = (rng: Rng): Uint8Array => {
    const recs: string[] = [];
    for (let n = rng.int(6); n > 0; n--) {
      const key = rng.chance(0.8) ? rng.pick(KEYS) : rng.text(1 + rng.int(8), "abc-_.:Z0");
      recs.push(`${key}\0${headerValue(rng, key)}`);
    }
    return Buffer.from(recs.join("\n"), "latin1");
  };
  const mix: Mix = { corpus: [], structured };
  return {
    name: "grpc-metadata",
    description:
      "HTTP/2 headers -> metadata (headersToMetadata) and status trailers (readGrpcStatus); only RpcError INTERNAL, every pair valid, status 0..16",
    setup(rng) {
      mix.corpus = buildCorpus(rng, 256, structured);
    },
    generate: (rng) => generateMixed(rng, mix),
    run(input) {
      const headers = headersOf(input);
      const md = headersToMetadata(headers);
      const flat = md.flat;
      check(flat.length % 2 === 0, "odd metadata list");
      for (let i = 0; i < flat.length; i += 2) {
        const key = flat[i] as string;
        check(isValidMetadataPair(key, flat[i + 1] as string | Uint8Array), () => `invalid pair surfaced: ${JSON.stringify(key)}`);
        check(!key.startsWith(":") && key !== "content-type" && key !== "grpc-status", `reserved header ${key} surfaced`);
      }
      const st = readGrpcStatus(headers);
      if (headers["grpc-status"] === undefined) check(st === undefined, "status without grpc-status");
      else {
        check(st !== undefined && Number.isInteger(st.code) && st.code >= 0 && st.code <= 16, `status code ${st?.code}`);
        check(typeof st.message === "string" && Array.isArray(st.details), "status shape");
      }
    },
    expected: (e) => e instanceof RpcError && e.code === Code.INTERNAL,
  };
}

function grpcTimeout(): FuzzTarget {
  const structured = (rng: Rng): Uint8Array => {
    if (rng.chance(0.3)) return Buffer.from(encodeGrpcTimeout(rng.chance(0.5) ? rng.u32() / (1 + rng.int(1000)) : rng.int(100)));
    return Buffer.from(`${rng.text(rng.size(10), "0123456789")}${rng.pick(["H", "M", "S", "m", "u", "n", "x", ""])}`);
  };
  const mix: Mix = { corpus: [], structured, maxRandom: 16 };
  return {
    name: "grpc-timeout",
    description:
      "grpc-timeout header: parseGrpcTimeout only throws RpcError INTERNAL, gives finite ms >= 0; encode/parse never shortens a deadline",
    setup(rng) {
      mix.corpus = buildCorpus(rng, 128, structured);
    },
    generate: (rng) => generateMixed(rng, mix),
    run(input) {
      const ms = parseGrpcTimeout(latin1(input));
      check(typeof ms === "number" && Number.isFinite(ms) && ms >= 0, `parsed to ${ms}`);
      // The input read as a float, where it is one: the encoded form must not shorten it.
      if (input.length >= 8) {
        const v = Math.abs(new DataView(input.buffer, input.byteOffset).getFloat64(0));
        // Below the 99999999H clamp, which is documented to shorten.
        if (Number.isFinite(v) && v < 3e14) {
          const back = parseGrpcTimeout(encodeGrpcTimeout(v)) as number;
          check(back >= v || v - back < 1e-9 * v, `encode(${v}) parses back to a shorter ${back}`);
        }
      }
    },
    expected: (e) => e instanceof RpcError && e.code === Code.INTERNAL,
  };
}

function base64(): FuzzTarget {
  const structured = (rng: Rng): Uint8Array => {
    const s = encodeBase64(rng.bytes(rng.size(48)), rng.chance(0.5));
    return Buffer.from(rng.chance(0.2) ? encodeGrpcMessage(s + rng.text(rng.size(6), "%é\x01")) : s, "latin1");
  };
  const mix: Mix = { corpus: [], structured };
  return {
    name: "grpc-base64",
    description:
      "base64 for -bin metadata and grpc-status-details-bin, plus grpc-message percent-decoding; only TypeError('invalid base64…'), decode/encode round-trips",
    setup(rng) {
      mix.corpus = buildCorpus(rng, 128, structured);
    },
    generate: (rng) => generateMixed(rng, mix),
    run(input) {
      const s = latin1(input);
      // grpc-message decoding must never fail, and must undo encoding.
      const m = decodeGrpcMessage(s);
      check(typeof m === "string", "decodeGrpcMessage did not return a string");
      check(decodeGrpcMessage(encodeGrpcMessage(s)) === s, "grpc-message encode/decode is not the identity");
      const b = decodeBase64(s);
      const unpadded = s.replace(/=+$/, "");
      check(b.length === Math.floor((unpadded.length * 3) / 4), `decoded ${b.length} bytes from ${unpadded.length} characters`);
      const again = decodeBase64(encodeBase64(b, input.length % 2 === 0));
      check(Buffer.compare(again, b) === 0, "base64 decode/encode/decode differs");
    },
    expected: (e) => e instanceof TypeError && e.message.startsWith("invalid base64"),
  };
}

function grpcWebText(): FuzzTarget {
  // Control byte: chunking plan for the body.
  const structured = (rng: Rng): Uint8Array => {
    const parts: string[] = [];
    for (let n = 1 + rng.int(3); n > 0; n--) parts.push(Buffer.from(rng.bytes(rng.size(30))).toString("base64"));
    let s = parts.join(rng.chance(0.2) ? "\r\n" : "");
    if (rng.chance(0.2)) s = s.replace(/(.{4})/g, "$1 ");
    return withControl(rng.u32(), utf8Encoder.encode(s));
  };
  const mix: Mix = { corpus: [], structured };
  return {
    name: "grpc-web-text",
    description: "gRPC-Web text body: chunked base64 stream decoder (async); only RpcError INTERNAL, output independent of chunking",
    setup(rng) {
      mix.corpus = buildCorpus(rng, 128, structured);
    },
    generate: (rng) => generateMixed(rng, mix),
    async run(input) {
      if (input.length === 0) return;
      const control = input[0] as number;
      const chunks: Uint8Array[] = [];
      forEachChunk(input.subarray(1), control, (c) => chunks.push(c));
      const collect = async (parts: Uint8Array[]) => {
        const out: Uint8Array[] = [];
        for await (const b of decodeBase64Stream(iterate(parts))) out.push(b);
        return Buffer.concat(out);
      };
      let chunked: Buffer | undefined;
      let error: unknown;
      try {
        chunked = await collect(chunks);
      } catch (e) {
        error = e;
      }
      // Whole-body decoding must agree: chunk boundaries may not change the result.
      let whole: Buffer | undefined;
      let wholeError: unknown;
      try {
        whole = await collect([input.subarray(1)]);
      } catch (e) {
        wholeError = e;
      }
      if (error !== undefined) throw error;
      if (wholeError !== undefined) throw wholeError;
      check(Buffer.compare(chunked as Buffer, whole as Buffer) === 0, "chunked and whole decoding differ");
    },
    expected: (e) => e instanceof RpcError && e.code === Code.INTERNAL,
  };
}

async function* iterate(parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield p;
}

export const grpcTargets = [deframer, metadataHeaders, grpcTimeout, base64, grpcWebText];
