import type { Codec } from "./codec.js";
import { decodeFast } from "./proto-decode.js";
import { compileDecoder } from "./proto-decode-gen.js";
import { encodeFast } from "./proto-encode.js";
import { compileEncoder } from "./proto-encode-gen.js";

/**
 * Protobuf binary encoding for protobuf-es v2 messages, wire-identical to protobuf-es
 * `toBinary` / `fromBinary` but without a BinaryWriter/BinaryReader per message. Encoding and
 * decoding run code generated per message type at first use (proto-encode-gen.ts,
 * proto-decode-gen.ts); where code generation is unavailable, and for messages holding loosely
 * typed values the generated encoder leaves alone, the reflective encoder / decoder
 * (proto-encode.ts, proto-decode.ts) do it. Encoding writes into a pooled slab: the result may be
 * a view of it, like a pooled Node.js Buffer. Wire name `proto`.
 */
export const protoFastCodec: Codec = {
  name: "proto",
  encode: (schema, message) => {
    const generated = compileEncoder(schema);
    return (generated === undefined ? undefined : generated(message)) ?? encodeFast(schema, message);
  },
  decode: (schema, bytes) => {
    const generated = compileDecoder(schema);
    return generated === undefined ? decodeFast(schema, bytes) : generated(bytes);
  },
};
