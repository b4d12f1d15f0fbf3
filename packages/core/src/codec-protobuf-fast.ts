import type { Codec } from "./codec.js";
import { decodeFast } from "./proto-decode.js";
import { compileDecoder } from "./proto-decode-gen.js";
import { encodeFast } from "./proto-encode.js";

/**
 * Protobuf binary encoding for protobuf-es v2 messages, wire-identical to protobuf-es
 * `toBinary` / `fromBinary` but without a BinaryWriter/BinaryReader per message: encoding
 * writes into a pooled slab (the result is a view of it, like a pooled Node.js Buffer), decoding
 * runs a decoder generated per message type at first use (proto-decode-gen.ts), or the
 * reflective one (proto-decode.ts) where code generation is unavailable. Wire name `proto`.
 */
export const protoFastCodec: Codec = {
  name: "proto",
  encode: (schema, message) => encodeFast(schema, message),
  decode: (schema, bytes) => {
    const generated = compileDecoder(schema);
    return generated === undefined ? decodeFast(schema, bytes) : generated(bytes);
  },
};
