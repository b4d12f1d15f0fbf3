// The codecs under test, each reduced to "encode this message" / "decode these bytes" closures
// prepared per message, so the measured loop does nothing but the codec call.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { type Codec, protoBinaryCodec, protoJsonCodec } from "@petrel/core";
import type { MessageCase } from "./messages.ts";
import { loadPbjsTypes, toPbjsObject } from "./pbjs.ts";

/** One codec bound to one message. */
export interface Prepared {
  encode(): Uint8Array;
  decode(bytes: Uint8Array): unknown;
  /** The encoded message (what decode() is measured on; its length is the "bytes" column). */
  bytes: Uint8Array;
}

export interface BenchCodec {
  /** Row name without the `codec:` prefix, e.g. `petrel-protobuf`. */
  name: string;
  prepare(c: MessageCase): Prepared;
  /** A Petrel Codec (wire name + encode/decode) when the codec can run end to end; else undefined. */
  wire?: Codec;
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
  flatbuffers: ["flatbuffers.ts", "flatbuffers-codec.ts"],
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
        prepare: (c) => {
          const t = types[c.typeName];
          const obj = toPbjsObject(c.message);
          return { encode: () => t.encode(obj).finish(), decode: (bytes) => t.decode(bytes), bytes: t.encode(obj).finish() };
        },
      });
    } else if (name === "json") codecs.push(fromCodec(name, protoJsonCodec));
    else if (name in OPTIONAL) {
      const c = await loadOptional(name);
      if (typeof c === "string") skipped.set(name, c);
      else codecs.push(fromCodec(name, c));
    } else skipped.set(name, `unknown codec (known: ${CODEC_NAMES.join(", ")})`);
  }
  return { codecs, skipped };
}
