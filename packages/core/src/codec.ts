import type { DescMessage, MessageShape } from "@bufbuild/protobuf";

/**
 * Serializes messages of a schema. A codec is chosen per call by name (`proto`, `json`, later
 * `msgpack` …); protocols carry the name on the wire (petrel/1 HEADERS, gRPC content subtype).
 */
export interface Codec {
  /** Wire name, lower-case ASCII, e.g. `proto`. */
  readonly name: string;
  /** Encodes a message. Throws on a message that cannot be encoded. */
  encode<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): Uint8Array;
  /** Decodes bytes. Throws on malformed input; callers map that to INVALID_ARGUMENT/INTERNAL. */
  decode<Desc extends DescMessage>(schema: Desc, bytes: Uint8Array): MessageShape<Desc>;
}

/** A name -> codec table. Last registration of a name wins. */
export interface CodecRegistry {
  register(codec: Codec): void;
  get(name: string): Codec | undefined;
  /** Registered names in registration order (for negotiation, e.g. petrel/1 SETTINGS). */
  names(): string[];
}

/** Creates a registry holding `codecs`. */
export function createCodecRegistry(codecs: readonly Codec[] = []): CodecRegistry {
  const table = new Map<string, Codec>();
  const reg: CodecRegistry = {
    register(codec) {
      table.delete(codec.name);
      table.set(codec.name, codec);
    },
    get(name) {
      return table.get(name);
    },
    names() {
      return [...table.keys()];
    },
  };
  for (const c of codecs) reg.register(c);
  return reg;
}
