/**
 * petrel/1 message compression (docs/protocol-native.md §4.3.1): each side advertises in its
 * COMPRESSIONS setting the algorithms it can read; a sender may compress a message with one the
 * receiver advertised, sets COMPRESSED on its frames and puts the algorithm's index in the
 * receiver's list in front of the compressed bytes.
 *
 * The algorithms come from the runtime adapter (`@petrel/node` passes its zlib gzip/deflate/br);
 * this package only needs the shape below, which `@petrel/protocol-grpc`'s `Compression` and
 * `CompressionRegistry` already have, so one registry serves gRPC and petrel/1.
 */
import { Code, RpcError } from "@petrel/core";

/** The compression every peer reads: none. Never registered. */
export const IDENTITY_COMPRESSION = "identity";

/**
 * Petrel's per-call compression switch, shared with the gRPC transport: a client call's request
 * header `x-petrel-compress` (`gzip`, `deflate`, `identity` …) overrides the transport's
 * `compression`; a handler's response header of the same name overrides the server's. The
 * header itself is never sent.
 */
export const COMPRESS_HEADER = "x-petrel-compress";

/** Messages shorter than this are sent uncompressed by default (as Connect's `compressMinBytes`). */
export const DEFAULT_COMPRESS_MIN_BYTES = 1024;

/** One compression algorithm (structurally `@petrel/protocol-grpc`'s `Compression`). */
export interface MessageCompression {
  /** Lower-case token advertised in COMPRESSIONS, e.g. `gzip`. */
  readonly name: string;
  compress(bytes: Uint8Array): Promise<Uint8Array>;
  /**
   * Decompresses one message, producing at most `maxOutput` bytes.
   * @throws RpcError RESOURCE_EXHAUSTED when the output would be larger, INTERNAL for corrupt input.
   */
  decompress(bytes: Uint8Array, maxOutput: number): Promise<Uint8Array>;
}

/** The algorithms one side can use, by name (structurally `@petrel/protocol-grpc`'s `CompressionRegistry`). */
export interface MessageCompressionRegistry {
  /** The algorithm for a name; undefined for `identity` and unknown names. */
  get(name: string): MessageCompression | undefined;
  /** Registered names, `identity` not included. */
  names(): string[];
}

/**
 * What one connection needs to read compressed messages: its advertised COMPRESSIONS list and, by
 * index, the algorithm for each entry (undefined for `identity`). Built once per connection
 * options. @internal
 */
export interface CompressionTable {
  /** The COMPRESSIONS value to advertise. */
  readonly advertised: string[];
  /** `readers[i]` decompresses messages tagged with index `i`; undefined for `identity`. */
  readonly readers: Array<MessageCompression | undefined>;
  /** Whether any entry is not `identity`: else a COMPRESSED frame is a connection error. */
  readonly accepts: boolean;
}

/**
 * Builds the read side from a registry and an optional explicit COMPRESSIONS list. Without a list
 * the side advertises `identity` plus every registered algorithm; an explicit list may name only
 * registered algorithms (a side must be able to read what it advertises).
 */
export function compressionTable(
  registry: MessageCompressionRegistry | undefined,
  explicit: readonly string[] | undefined,
): CompressionTable {
  const advertised = explicit !== undefined ? explicit.slice() : [IDENTITY_COMPRESSION, ...(registry?.names() ?? [])];
  const readers: Array<MessageCompression | undefined> = [];
  let accepts = false;
  for (const name of advertised) {
    if (name === IDENTITY_COMPRESSION) {
      readers.push(undefined);
      continue;
    }
    const c = registry?.get(name);
    if (c === undefined) throw new TypeError(`petrel: COMPRESSIONS lists "${name}", which is not in the compressions registry`);
    readers.push(c);
    accepts = true;
  }
  if (advertised.length > 255 && accepts) throw new RangeError("petrel: at most 255 COMPRESSIONS entries can be addressed");
  return { advertised, readers, accepts };
}

/** A compression chosen for one direction of one call: the algorithm and its index in the receiver's list. @internal */
export interface SendCompression {
  readonly c: MessageCompression;
  readonly id: number;
}

/**
 * The compression to send with: `name` if the receiver advertised it and this side has it, else
 * undefined (identity). Throws INVALID_ARGUMENT for a name this side does not know at all.
 */
export function pickSendCompression(
  name: string | undefined,
  registry: MessageCompressionRegistry | undefined,
  peerList: readonly string[],
): SendCompression | undefined {
  if (name === undefined) return undefined;
  const n = name.trim().toLowerCase();
  if (n === IDENTITY_COMPRESSION || n === "") return undefined;
  const c = registry?.get(n);
  if (c === undefined) throw new RpcError(Code.INVALID_ARGUMENT, `petrel: unknown compression "${name}"`);
  const id = peerList.indexOf(n);
  // The peer cannot read it (or has not told us yet): identity, as gRPC falls back.
  if (id < 0 || id > 255) return undefined;
  return { c, id };
}

/** The `x-petrel-compress` value in flat metadata, if any (a scan, no allocation). */
export function compressOverride(flat: ReadonlyArray<string | Uint8Array>): string | undefined {
  for (let i = 0; i < flat.length; i += 2) {
    if (flat[i] === COMPRESS_HEADER) {
      const v = flat[i + 1];
      return typeof v === "string" ? v : undefined;
    }
  }
  return undefined;
}

/** `flat` without its `x-petrel-compress` entries (a copy; the caller's metadata is left alone). */
export function withoutCompressHeader(flat: ReadonlyArray<string | Uint8Array>): Array<string | Uint8Array> {
  const out: Array<string | Uint8Array> = [];
  for (let i = 0; i < flat.length; i += 2) {
    if (flat[i] === COMPRESS_HEADER) continue;
    out.push(flat[i] as string, flat[i + 1] as string | Uint8Array);
  }
  return out;
}

/**
 * Compresses one message into the wire form: `u8 id` then the compressed bytes. Rejects with an
 * INTERNAL RpcError when the algorithm fails.
 */
export async function compressMessage(sc: SendCompression, bytes: Uint8Array): Promise<Uint8Array> {
  let out: Uint8Array;
  try {
    out = await sc.c.compress(bytes);
  } catch (e) {
    throw new RpcError(Code.INTERNAL, `petrel: cannot compress message with ${sc.c.name}: ${(e as Error).message}`, { cause: e });
  }
  const wire = new Uint8Array(out.length + 1);
  wire[0] = sc.id;
  wire.set(out, 1);
  return wire;
}

/**
 * Decompresses one received COMPRESSED message (`u8 id` + data) with the algorithm at `id` of our
 * list, producing at most `maxOutput` bytes. Rejects with an RpcError: UNIMPLEMENTED for an id
 * we did not advertise (or `identity`), RESOURCE_EXHAUSTED over the limit, INTERNAL for corrupt
 * data.
 */
export async function decompressMessage(table: CompressionTable, wire: Uint8Array, maxOutput: number): Promise<Uint8Array> {
  if (wire.length === 0) throw new RpcError(Code.INTERNAL, "petrel: COMPRESSED message without a compression id");
  const id = wire[0] as number;
  const c = table.readers[id];
  if (c === undefined) {
    const name = table.advertised[id];
    throw new RpcError(
      Code.UNIMPLEMENTED,
      name === undefined
        ? `petrel: message compressed with id ${id}, which this side did not advertise (it reads ${table.advertised.join(",")})`
        : `petrel: COMPRESSED message tagged "${name}"`,
    );
  }
  try {
    return await c.decompress(wire.subarray(1), maxOutput);
  } catch (e) {
    const err = RpcError.from(e, Code.INTERNAL);
    if (err.code === Code.RESOURCE_EXHAUSTED) {
      throw new RpcError(
        Code.RESOURCE_EXHAUSTED,
        `petrel: ${c.name}-compressed message decompresses to more than the limit of ${maxOutput} bytes`,
      );
    }
    throw new RpcError(Code.INTERNAL, `petrel: cannot decompress ${c.name} message: ${err.rawMessage}`);
  }
}
