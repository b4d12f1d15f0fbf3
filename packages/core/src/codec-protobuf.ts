import { fromBinary, fromJsonString, toBinary, toJsonString } from "@bufbuild/protobuf";
import { createCodecRegistry, type Codec, type CodecRegistry } from "./codec.js";
import { protoFastCodec } from "./codec-protobuf-fast.js";

/**
 * Protobuf binary encoding via protobuf-es v2's own `toBinary`/`fromBinary`. Kept as the
 * reference the fast codec is tested against; register it to opt out of the fast path.
 */
export const protoEsBinaryCodec: Codec = {
  name: "proto",
  encode: (schema, message) => toBinary(schema, message),
  decode: (schema, bytes) => fromBinary(schema, bytes),
};

/**
 * The default `proto` codec: wire-identical to protobuf-es, but encoding into a pooled buffer
 * and decoding without a reader object per message (see codec-protobuf-fast.ts).
 */
export const protoBinaryCodec: Codec = protoFastCodec;

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });
const utf8Encoder = new TextEncoder();

/** Canonical protobuf JSON via protobuf-es v2. Wire name `json`. Unknown fields are rejected. */
export const protoJsonCodec: Codec = {
  name: "json",
  encode: (schema, message) => utf8Encoder.encode(toJsonString(schema, message)),
  decode: (schema, bytes) => fromJsonString(schema, utf8Decoder.decode(bytes)),
};

/** A registry with the built-in codecs: `proto` (default) and `json`. */
export function createDefaultCodecRegistry(): CodecRegistry {
  return createCodecRegistry([protoBinaryCodec, protoJsonCodec]);
}
