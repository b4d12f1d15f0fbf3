import type { Codec } from "./codec.js";
import { decodeFast } from "./proto-decode.js";
import { encodeFast } from "./proto-encode.js";

/**
 * Protobuf binary encoding for protobuf-es v2 messages, wire-identical to protobuf-es
 * `toBinary` / `fromBinary` but without a BinaryWriter/BinaryReader per message: encoding
 * writes into a pooled slab (the result is a view of it, like a pooled Node.js Buffer), decoding
 * runs over the input with module-level reader state. Wire name `proto`.
 */
export const protoFastCodec: Codec = {
  name: "proto",
  encode: (schema, message) => encodeFast(schema, message),
  decode: (schema, bytes) => decodeFast(schema, bytes),
};
