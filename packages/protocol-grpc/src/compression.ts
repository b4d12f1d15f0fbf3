/**
 * gRPC message compression (grpc/doc/compression.md, PROTOCOL-HTTP2.md): a call names its
 * message encoding in `grpc-encoding`, each Length-Prefixed-Message says with its Compressed-Flag
 * whether that message is compressed, and each peer lists what it can read in
 * `grpc-accept-encoding`. This module is runtime-neutral: it defines the {@link Compression}
 * interface and a registry; the algorithms themselves (gzip, deflate) come from the runtime
 * adapter, e.g. `createDefaultGrpcCompressions()` in @petrel/node.
 */

/** The encoding every peer supports: no compression. Never registered, always accepted. */
export const IDENTITY_ENCODING = "identity";

/** One message compression algorithm, named as in `grpc-encoding` (`gzip`, `deflate` …). */
export interface Compression {
  /** Lower-case token used in `grpc-encoding` / `grpc-accept-encoding`. */
  readonly name: string;
  compress(bytes: Uint8Array): Promise<Uint8Array>;
  /**
   * Decompresses one message.
   * @param maxOutput largest decompressed size allowed, in bytes.
   * @throws RpcError RESOURCE_EXHAUSTED when the output would exceed `maxOutput`, INTERNAL for
   * corrupt input.
   */
  decompress(bytes: Uint8Array, maxOutput: number): Promise<Uint8Array>;
}

/** The compressions a client or server can use, by name. */
export interface CompressionRegistry {
  /** Adds (or replaces) an algorithm. `identity` cannot be registered. */
  register(compression: Compression): this;
  /** The algorithm for a `grpc-encoding` token; undefined for `identity` and unknown names. */
  get(name: string): Compression | undefined;
  /** Whether `name` is `identity` or a registered algorithm. */
  supports(name: string): boolean;
  /** Registered names, in registration order (`identity` not included). */
  names(): string[];
  /** The `grpc-accept-encoding` value: `identity` followed by the registered names, e.g. `identity,deflate,gzip`. */
  acceptEncoding(): string;
}

/** Creates a registry holding `compressions` (registered in order). */
export function createCompressionRegistry(...compressions: Compression[]): CompressionRegistry {
  const byName = new Map<string, Compression>();
  let accept: string | undefined;
  const registry: CompressionRegistry = {
    register(c) {
      const name = c.name.toLowerCase();
      if (name === IDENTITY_ENCODING) throw new TypeError("grpc: the identity encoding is built in and cannot be registered");
      if (!/^[a-z0-9_.-]+$/.test(name)) throw new TypeError(`grpc: invalid compression name "${c.name}"`);
      byName.set(name, c);
      accept = undefined;
      return registry;
    },
    get(name) {
      return byName.get(name.toLowerCase());
    },
    supports(name) {
      const n = name.toLowerCase();
      return n === IDENTITY_ENCODING || byName.has(n);
    },
    names() {
      return [...byName.keys()];
    },
    acceptEncoding() {
      accept ??= [IDENTITY_ENCODING, ...byName.keys()].join(",");
      return accept;
    },
  };
  for (const c of compressions) registry.register(c);
  return registry;
}

/**
 * Parses a `grpc-accept-encoding` header (comma-separated tokens, possibly repeated) into
 * lower-case names. A missing header means only `identity`.
 */
export function parseAcceptEncoding(value: string | string[] | undefined): string[] {
  if (value === undefined) return [IDENTITY_ENCODING];
  const parts = (Array.isArray(value) ? value.join(",") : value).split(",");
  const out: string[] = [];
  for (const p of parts) {
    const t = p.trim().toLowerCase();
    if (t !== "" && !out.includes(t)) out.push(t);
  }
  return out;
}
