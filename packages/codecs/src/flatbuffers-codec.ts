import { create, ScalarType, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { type BytesValue, BytesValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, type Codec, RpcError } from "@petrel/core";
import { type Builder, ByteBuffer } from "flatbuffers";

/**
 * FlatBuffers codec, wire name `flatbuffers` (the name grpc-go's FlatBuffers codec uses, so
 * `application/grpc+flatbuffers` means the same thing to both).
 *
 * Why carriers: Petrel routes, types and intercepts calls by protobuf-es descriptors, and a
 * Codec is `decode(schema, bytes)`. A FlatBuffers method is therefore declared as an ordinary
 * protobuf method whose input and output are *carriers*: messages with exactly one singular
 * `bytes` field, e.g. `google.protobuf.BytesValue` (or your own `message OrderFb { bytes fb = 1; }`
 * to tell methods apart in reflection). With this codec the carrier's bytes are the whole
 * payload — no protobuf framing — and decoding wraps the received `Uint8Array` in a carrier
 * without copying or parsing it. The handler then opens a generated table over those very bytes
 * with {@link fbView}; only the fields it reads are ever touched. Every other part of Petrel
 * (router, interceptors, clients, reflection, the other codecs) keeps working unchanged, and the
 * same method stays callable with `proto` by any gRPC client that can fill a `BytesValue`.
 * A parallel descriptor mechanism for FlatBuffers-only services would have had to duplicate all
 * of that for no gain: the carrier costs one small object per message, independent of its size.
 *
 * Validation: the JS runtime has no FlatBuffers verifier, so decoding checks only the root
 * (root offset, vtable and table header inside the buffer; O(1)). Accessors over a malformed
 * buffer past that point return garbage (reads beyond the end yield 0), never crash the process.
 *
 * Alignment: generated `xxxArray()` accessors of vectors of 2-, 4- or 8-byte scalars return a
 * typed array over the buffer, which needs the payload's `byteOffset` aligned to the element
 * size; a payload received inside a larger frame buffer may not be. Element accessors (`xxx(i)`)
 * always work; {@link fbAligned} copies only when alignment requires it.
 */
export const flatbuffersCodec: Codec = {
  name: "flatbuffers",
  encode(schema, message) {
    const field = carrierField(schema);
    const bytes = (message as Record<string, unknown>)[field];
    if (!(bytes instanceof Uint8Array)) {
      throw new Error(`flatbuffers: ${schema.typeName}.${field} must be a Uint8Array holding a finished FlatBuffer`);
    }
    return bytes; // the builder's bytes as they are: no copy
  },
  decode<D extends DescMessage>(schema: D, bytes: Uint8Array): MessageShape<D> {
    const field = carrierField(schema);
    checkRoot(bytes);
    // `create` keeps the very Uint8Array: the carrier is a view, not a copy.
    return create(schema, { [field]: bytes } as never);
  },
};

const carrierFields = new WeakMap<DescMessage, string>();

/** The local name of a carrier's only field; throws for any other message. */
function carrierField(schema: DescMessage): string {
  let name = carrierFields.get(schema);
  if (name === undefined) {
    const f = schema.fields[0];
    if (schema.fields.length !== 1 || f.fieldKind !== "scalar" || f.scalar !== ScalarType.BYTES || f.oneof !== undefined) {
      throw new Error(
        `flatbuffers: ${schema.typeName} is not a FlatBuffers carrier; the codec serves methods whose input and output are messages with exactly one bytes field (e.g. google.protobuf.BytesValue)`,
      );
    }
    name = f.localName;
    carrierFields.set(schema, name);
  }
  return name;
}

function u32(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}

function u16(b: Uint8Array, at: number): number {
  return b[at] | (b[at + 1] << 8);
}

/**
 * Checks that `bytes` starts like a FlatBuffer: root table, its vtable and the table's fixed part
 * inside the buffer. Empty bytes pass (an absent message); anything else malformed throws.
 * @internal exported for tests
 */
export function checkRoot(bytes: Uint8Array): void {
  const n = bytes.length;
  if (n === 0) return;
  if (n < 12) throw new Error(`flatbuffers: ${n} bytes are too short for a FlatBuffer`);
  const root = u32(bytes, 0);
  if (root < 4 || root % 4 !== 0 || root + 4 > n) throw new Error(`flatbuffers: root table offset ${root} is outside the ${n}-byte buffer`);
  const vtable = root - (u32(bytes, root) | 0);
  if (vtable < 4 || vtable % 2 !== 0 || vtable + 4 > n)
    throw new Error(`flatbuffers: root vtable at ${vtable} is outside the ${n}-byte buffer`);
  const vtSize = u16(bytes, vtable);
  const tableSize = u16(bytes, vtable + 2);
  if (vtSize < 4 || vtSize % 2 !== 0 || vtable + vtSize > n || tableSize < 4 || root + tableSize > n) {
    throw new Error(`flatbuffers: root vtable (size ${vtSize}, table size ${tableSize}) does not fit the ${n}-byte buffer`);
  }
}

/** A table class generated by `flatc --ts` (only what {@link fbView} needs of it). */
export interface FlatbuffersRoot<T> {
  new (): T & { __init(i: number, bb: ByteBuffer): T };
  /** Generated for the schema's `root_type` when it declares a `file_identifier`. */
  bufferHasIdentifier?(bb: ByteBuffer): boolean;
  readonly name: string;
}

/** The carrier's bytes: `Uint8Array` itself, `BytesValue.value`, or a carrier's only bytes field. */
function bytesOf(carrier: Uint8Array | object): Uint8Array {
  if (carrier instanceof Uint8Array) return carrier;
  const value = (carrier as { value?: unknown }).value;
  if (value instanceof Uint8Array) return value;
  let found: Uint8Array | undefined;
  for (const v of Object.values(carrier)) {
    if (v instanceof Uint8Array) {
      if (found !== undefined) throw new TypeError("fbView: the carrier has more than one bytes field");
      found = v;
    }
  }
  if (found === undefined) throw new TypeError("fbView: expected a carrier message (one bytes field) or a Uint8Array");
  return found;
}

/**
 * Opens the root table of a received carrier (zero-copy): `fbView(request, Order).id()` reads
 * the field straight out of the received buffer. Throws INVALID_ARGUMENT when the bytes are
 * empty or not a FlatBuffer, or (if `Root` has a file identifier) carry another identifier.
 */
export function fbView<T>(carrier: Uint8Array | object, Root: FlatbuffersRoot<T>): T {
  const bytes = bytesOf(carrier);
  if (bytes.length === 0) throw new RpcError(Code.INVALID_ARGUMENT, `expected a ${Root.name} FlatBuffer, got an empty message`);
  try {
    checkRoot(bytes);
  } catch (e) {
    throw new RpcError(Code.INVALID_ARGUMENT, `expected a ${Root.name} FlatBuffer: ${(e as Error).message}`);
  }
  const bb = new ByteBuffer(bytes);
  if (Root.bufferHasIdentifier !== undefined && !Root.bufferHasIdentifier(bb)) {
    const got = String.fromCharCode(bytes[4], bytes[5], bytes[6], bytes[7]);
    throw new RpcError(Code.INVALID_ARGUMENT, `expected a ${Root.name} FlatBuffer, got file identifier ${JSON.stringify(got)}`);
  }
  return new Root().__init(u32(bytes, 0), bb);
}

/**
 * A carrier holding a finished FlatBuffer (a `Builder` after `finish`, or its bytes), to return
 * from a handler or pass to a client method. Default carrier: `google.protobuf.BytesValue`.
 * No copy: the builder's bytes are sent as they are, so do not reuse the builder before the
 * message was sent.
 */
export function fbMessage(fb: Builder | Uint8Array): BytesValue;
export function fbMessage<D extends DescMessage>(fb: Builder | Uint8Array, schema: D): MessageShape<D>;
export function fbMessage(fb: Builder | Uint8Array, schema: DescMessage = BytesValueSchema): MessageShape<DescMessage> {
  const bytes = fb instanceof Uint8Array ? fb : fb.asUint8Array();
  return create(schema, { [carrierField(schema)]: bytes } as never);
}

/**
 * `bytes` itself when its `byteOffset` is a multiple of `alignment` (default 8, what `Float64Array`
 * and `BigInt64Array` accessors need), else an aligned copy. Use before {@link fbView} only when
 * a handler wants typed-array accessors of wide scalar vectors.
 */
export function fbAligned(bytes: Uint8Array, alignment = 8): Uint8Array {
  if (bytes.byteOffset % alignment === 0) return bytes;
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy;
}
