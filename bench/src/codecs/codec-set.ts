// The codecs under test, each reduced to "encode this message" / "decode these bytes" closures
// prepared per message, so the measured loop does nothing but the codec call.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { flatbuffersCodec } from "@petrel/codecs";
import { type Codec, protoBinaryCodec, protoJsonCodec } from "@petrel/core";
import { Builder } from "flatbuffers";
import { fbDecode, fbEncode, fbView } from "./flatbuffers.ts";
import type { MessageCase } from "./messages.ts";
import { loadPbjsTypes, toPbjsObject } from "./pbjs.ts";

/** One codec bound to one message. */
export interface Prepared {
  encode(): Uint8Array;
  decode(bytes: Uint8Array): unknown;
  /** The encoded message (what decode() is measured on; its length is the "bytes" column). */
  bytes: Uint8Array;
  /**
   * Zero-copy access (FlatBuffers): open the bytes and read the fields a handler typically reads,
   * materialising nothing else. Measured as extra rows `codec:<name>-view`, workload "decode".
   */
  view?(bytes: Uint8Array): unknown;
}

/**
 * End-to-end over a carrier method (one `bytes` field, e.g. google.protobuf.BytesValue) instead of
 * the bench's echo methods: how a FlatBuffers service runs in Petrel.
 */
export interface CarrierE2e {
  /** The Petrel codec of carrier messages (wire name travels per call). */
  codec: Codec;
  /** Client side: the message's payload, in bytes the caller owns (not a pooled view). */
  encode(c: MessageCase): Uint8Array;
  /** Client side: the reply's payload back into a plain message. */
  decode(c: MessageCase, bytes: Uint8Array): unknown;
  /** Server side: what the handler reads of the request before echoing its bytes. */
  handle(c: MessageCase, bytes: Uint8Array): unknown;
}

export interface BenchCodec {
  /** Row name without the `codec:` prefix, e.g. `petrel-protobuf`. */
  name: string;
  prepare(c: MessageCase): Prepared;
  /** A Petrel Codec (wire name + encode/decode) when the codec can run end to end; else undefined. */
  wire?: Codec;
  /** End-to-end through carrier methods instead of `wire` (FlatBuffers). */
  carrier?: CarrierE2e;
  /**
   * How run.ts checks the codec before measuring: "message" (default) - decode(encode(m)) equals
   * m; "bytes" - the encoded bytes equal protobuf-es' (protobufjs, whose messages are its own objects).
   */
  check?: "message" | "bytes";
}

/** Every codec name the bench knows, in table order (optional ones may be skipped at run time). */
export const CODEC_NAMES = ["petrel-protobuf", "protobuf-es", "protobufjs-static", "json", "msgpack", "avro", "flatbuffers"] as const;

/** Wraps a Petrel Codec; the encoded bytes are copied because Petrel's encoder returns a pooled view. */
function fromCodec(name: string, codec: Codec): BenchCodec {
  return {
    name,
    wire: codec,
    prepare: (c) => ({
      encode: () => codec.encode(c.schema, c.message),
      decode: (bytes) => codec.decode(c.schema, bytes),
      bytes: codec.encode(c.schema, c.message).slice(),
    }),
  };
}

/** Optional codec -> candidate modules in packages/codecs/src (first existing one wins). */
const OPTIONAL: Record<string, string[]> = {
  msgpack: ["msgpack.ts", "msgpack-codec.ts"],
  avro: ["avro.ts", "avro-codec.ts"],
};

/** True for a value shaped like a Petrel Codec. */
function isCodec(v: unknown): v is Codec {
  const c = v as Codec;
  return (
    typeof v === "object" && v !== null && typeof c.name === "string" && typeof c.encode === "function" && typeof c.decode === "function"
  );
}

/**
 * Loads packages/codecs/src/<file> if present and picks its codec: the exported Codec object
 * whose wire name is `name` (else the first one), else the result of a `create*Codec()` export
 * that needs no arguments. Returns a reason string when there is none.
 */
async function loadOptional(name: string): Promise<Codec | string> {
  const file = OPTIONAL[name].find((f) => existsSync(fileURLToPath(new URL(`../../../packages/codecs/src/${f}`, import.meta.url))));
  if (file === undefined) return `packages/codecs/src/${OPTIONAL[name].join(" / ")} does not exist yet`;
  const url = new URL(`../../../packages/codecs/src/${file}`, import.meta.url);
  let mod: Record<string, unknown>;
  try {
    mod = await import(url.href);
  } catch (err) {
    return `import failed: ${(err as Error).message.split("\n")[0]}`;
  }
  const codecs = Object.values(mod).filter(isCodec);
  const exact = codecs.find((c) => c.name === name);
  if (exact ?? codecs[0]) return exact ?? (codecs[0] as Codec);
  for (const [k, v] of Object.entries(mod)) {
    if (typeof v !== "function" || !/^create\w*Codec$/.test(k)) continue;
    try {
      const c = (v as () => unknown)();
      if (isCodec(c)) return c;
    } catch {}
  }
  return `no Codec export (or argument-less create*Codec) in packages/codecs/src/${file}`;
}

/**
 * Builds the requested codecs (default all). Optional codecs whose module is missing or unusable
 * are left out, with the reason in `skipped`.
 */
export async function loadCodecs(wanted: readonly string[] = CODEC_NAMES): Promise<{ codecs: BenchCodec[]; skipped: Map<string, string> }> {
  const codecs: BenchCodec[] = [];
  const skipped = new Map<string, string>();
  for (const name of wanted) {
    if (name === "petrel-protobuf") codecs.push(fromCodec(name, protoBinaryCodec));
    else if (name === "protobuf-es") {
      // protobuf-es reflection, as an application would call it; wire name "proto" (same bytes).
      codecs.push({
        name,
        wire: { name: "proto-es", encode: (s, m) => toBinary(s, m), decode: (s, b) => fromBinary(s, b) },
        prepare: (c) => ({
          encode: () => toBinary(c.schema, c.message),
          decode: (bytes) => fromBinary(c.schema, bytes),
          bytes: toBinary(c.schema, c.message),
        }),
      });
    } else if (name === "protobufjs-static") {
      const types = await loadPbjsTypes();
      codecs.push({
        name,
        check: "bytes",
        prepare: (c) => {
          const t = types[c.typeName];
          const obj = toPbjsObject(c.message);
          return { encode: () => t.encode(obj).finish(), decode: (bytes) => t.decode(bytes), bytes: t.encode(obj).finish() };
        },
      });
    } else if (name === "json") codecs.push(fromCodec(name, protoJsonCodec));
    else if (name === "flatbuffers") codecs.push(flatbuffersBench());
    else if (name in OPTIONAL) {
      const c = await loadOptional(name);
      if (typeof c === "string") skipped.set(name, c);
      else codecs.push(fromCodec(name, c));
    } else skipped.set(name, `unknown codec (known: ${CODEC_NAMES.join(", ")})`);
  }
  return { codecs, skipped };
}

/**
 * FlatBuffers over the bench messages (bench/src/codecs/flatbuffers.ts): encode builds from the
 * plain message into one reused Builder, decode materialises a plain message, view reads a
 * handler's fields in place. End to end it runs through carrier methods with @petrel/codecs'
 * `flatbuffers` codec, the way a FlatBuffers service is served.
 */
function flatbuffersBench(): BenchCodec {
  const builder = new Builder(1024);
  return {
    name: "flatbuffers",
    prepare: (c) => ({
      encode: () => fbEncode(builder, c.name, c.message),
      decode: (bytes) => fbDecode(c.name, bytes),
      view: (bytes) => fbView(c.name, bytes),
      bytes: fbEncode(builder, c.name, c.message).slice(),
    }),
    carrier: {
      codec: flatbuffersCodec,
      // A copy: the call may encode after the next build reused the builder's buffer.
      encode: (c) => fbEncode(builder, c.name, c.message).slice(),
      decode: (c, bytes) => fbDecode(c.name, bytes),
      handle: (c, bytes) => fbView(c.name, bytes),
    },
  };
}
