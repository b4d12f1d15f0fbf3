/**
 * HTTP content codings (RFC 9110 §8.4 Content-Encoding, §12.5.3 Accept-Encoding) for Petrel's
 * HTTP/JSON protocols: JSON-RPC over HTTP (server and client) and the REST gateway. The
 * algorithms are the message compressions of the gRPC registry (`gzip`, `deflate`, `br` when
 * registered), whose decompression is bounded, so a "zip bomb" costs at most the body limit.
 * Nothing here runs for a request without `Content-Encoding` and a response below the size
 * threshold: the protocols only call in when a header asks for it.
 */
import { Code, RpcError } from "@petrel/core";
import type { Compression, CompressionRegistry } from "@petrel/protocol-grpc";
import { createDefaultGrpcCompressions } from "./grpc-compression.js";

/** Options shared by the HTTP/JSON protocols that negotiate content codings. */
export interface HttpContentEncodingOptions {
  /**
   * Content codings accepted in request bodies and offered for responses. Default
   * `createDefaultGrpcCompressions()` (gzip, deflate, and br where registered). An empty registry
   * (`createCompressionRegistry()`) turns content codings off: responses stay identity and a
   * request with `Content-Encoding` gets 415.
   */
  compressions?: CompressionRegistry;
  /** Responses smaller than this (in bytes) are sent uncompressed unless the client refuses identity. Default 1024. */
  compressMinBytes?: number;
  /**
   * Which coding to send when the client weighs several equally (same q-value). Names not
   * registered are ignored; registered names not listed come after, in registration order.
   * Default `["br", "gzip", "deflate"]`.
   */
  preferredEncodings?: readonly string[];
}

/** The filled-in form of {@link HttpContentEncodingOptions}. @internal */
export interface HttpContentEncoding {
  readonly compressions: CompressionRegistry;
  /** Registered codings, most preferred first. */
  readonly order: readonly Compression[];
  readonly minBytes: number;
  /** `Accept-Encoding` value naming what request bodies may use, e.g. `br, gzip, deflate`. */
  readonly accept: string;
  /** Whether any coding is registered (false: responses are never compressed). */
  readonly enabled: boolean;
  /** Parsed `Accept-Encoding` values; small, since clients send one of a few fixed strings. */
  readonly negotiated: Map<string, Negotiated>;
}

/** What one `Accept-Encoding` value allows. @internal */
export interface Negotiated {
  /** The coding to use for large bodies, if the client accepts one we have. */
  readonly coding: Compression | undefined;
  /** False when the client refused identity (`identity;q=0`, or `*;q=0` without identity). */
  readonly identity: boolean;
}

/** The coding preference used when the options name none. */
export const DEFAULT_PREFERRED_ENCODINGS: readonly string[] = ["br", "gzip", "deflate"];

/** Largest number of codings stacked on one request body (`Content-Encoding: gzip, br`). */
const MAX_REQUEST_CODINGS = 2;
/** Entries of the per-handler Accept-Encoding cache before it is cleared. */
const NEGOTIATION_CACHE_SIZE = 64;

/** Validates the options and fills in the defaults. @internal */
export function createHttpContentEncoding(options: HttpContentEncodingOptions = {}): HttpContentEncoding {
  const compressions = options.compressions ?? createDefaultGrpcCompressions();
  const minBytes = options.compressMinBytes ?? 1024;
  if (!Number.isFinite(minBytes) || minBytes < 0) throw new TypeError(`compressMinBytes must be a number >= 0, got ${minBytes}`);
  const order: Compression[] = [];
  for (const name of options.preferredEncodings ?? DEFAULT_PREFERRED_ENCODINGS) {
    const c = compressions.get(name);
    if (c !== undefined && !order.includes(c)) order.push(c);
  }
  for (const name of compressions.names()) {
    const c = compressions.get(name) as Compression;
    if (!order.includes(c)) order.push(c);
  }
  return {
    compressions,
    order,
    minBytes,
    accept: order.length === 0 ? "identity" : order.map((c) => c.name).join(", "),
    enabled: order.length > 0,
    negotiated: new Map(),
  };
}

/** The codings of a request's `Content-Encoding`, in the order they were applied. @internal */
export type RequestCodings = { t: "identity" } | { t: "coded"; codings: Compression[] } | { t: "unsupported"; message: string };

const IDENTITY_CODINGS: RequestCodings = { t: "identity" };

/**
 * Reads a request's `Content-Encoding` (a list: `gzip, br` means gzip first, then br).
 * `identity` entries are skipped; `x-gzip` is gzip (RFC 9110 §8.4.1.3). @internal
 */
export function requestCodings(enc: HttpContentEncoding, header: string | string[] | undefined): RequestCodings {
  if (header === undefined) return IDENTITY_CODINGS;
  const codings: Compression[] = [];
  for (const part of (Array.isArray(header) ? header.join(",") : header).split(",")) {
    let name = part.trim().toLowerCase();
    if (name === "" || name === "identity") continue;
    if (name === "x-gzip") name = "gzip";
    const c = enc.compressions.get(name);
    if (c === undefined) {
      return { t: "unsupported", message: `unsupported content-encoding "${name.slice(0, 64)}": this server accepts ${enc.accept}` };
    }
    codings.push(c);
  }
  if (codings.length > MAX_REQUEST_CODINGS) {
    return { t: "unsupported", message: `more than ${MAX_REQUEST_CODINGS} content codings on one request body` };
  }
  return codings.length === 0 ? IDENTITY_CODINGS : { t: "coded", codings };
}

/**
 * Undoes a request body's content codings, each step bounded by `maxBytes`.
 * @throws RpcError RESOURCE_EXHAUSTED (HTTP 413) when the body decodes to more than `maxBytes`,
 * INVALID_ARGUMENT (HTTP 400) when it is not valid data of its coding.
 * @internal
 */
export async function decodeRequestBody(body: Uint8Array, codings: readonly Compression[], maxBytes: number): Promise<Buffer> {
  let bytes = body;
  for (let i = codings.length - 1; i >= 0; i--) {
    const c = codings[i] as Compression;
    try {
      bytes = await c.decompress(bytes, maxBytes);
    } catch (e) {
      const err = RpcError.from(e);
      if (err.code === Code.RESOURCE_EXHAUSTED) {
        throw new RpcError(Code.RESOURCE_EXHAUSTED, `request body decompresses (${c.name}) to more than ${maxBytes} bytes`, { cause: e });
      }
      // The registry's message starts with its own protocol's prefix; keep only zlib's reason.
      const reason = err.rawMessage.slice(err.rawMessage.lastIndexOf(": ") + 2);
      throw new RpcError(Code.INVALID_ARGUMENT, `request body is not valid ${c.name} data (content-encoding: ${c.name}): ${reason}`, {
        cause: e,
      });
    }
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Parses an `Accept-Encoding` value against the registered codings: the highest q-value wins,
 * ties go to the server's preference; `*` covers codings not listed; identity is acceptable
 * unless refused. Results are cached per header value. @internal
 */
export function negotiate(enc: HttpContentEncoding, header: string): Negotiated {
  const hit = enc.negotiated.get(header);
  if (hit !== undefined) return hit;
  const weights = new Map<string, number>();
  for (const part of header.split(",")) {
    const semi = part.indexOf(";");
    let name = (semi < 0 ? part : part.slice(0, semi)).trim().toLowerCase();
    if (name === "") continue;
    if (name === "x-gzip") name = "gzip";
    let q = 1;
    if (semi >= 0) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(part.slice(semi + 1).split(";")[0] ?? "");
      // A malformed weight makes the element meaningless; skipping it is the safe reading.
      if (m === null) continue;
      q = Math.min(1, Number(m[1]));
      if (!Number.isFinite(q)) continue;
    }
    // A repeated name keeps its first weight.
    if (!weights.has(name)) weights.set(name, q);
  }
  const star = weights.get("*");
  let coding: Compression | undefined;
  let best = 0;
  for (const c of enc.order) {
    const q = weights.get(c.name) ?? star ?? 0;
    if (q > best) {
      best = q;
      coding = c;
    }
  }
  const explicitIdentity = weights.get("identity");
  const identityQ = explicitIdentity ?? star ?? 1;
  // An identity weighed above every coding we have is the client's preference.
  if (explicitIdentity !== undefined && explicitIdentity > best) coding = undefined;
  const result: Negotiated = { coding, identity: identityQ > 0 };
  if (enc.negotiated.size >= NEGOTIATION_CACHE_SIZE) enc.negotiated.clear();
  enc.negotiated.set(header, result);
  return result;
}

/**
 * The coding for a response body of `size` bytes, or undefined to send it as is: none without
 * `Accept-Encoding` (what clients and servers do in practice), none below `compressMinBytes`
 * unless identity is refused. A client that refuses identity and every coding we have still
 * gets identity: RFC 9110 §12.5.3 lets a server disregard the header instead of answering 406.
 * @internal
 */
export function responseCoding(enc: HttpContentEncoding, accept: string | string[] | undefined, size: number): Compression | undefined {
  if (accept === undefined || !enc.enabled) return undefined;
  const n = negotiate(enc, Array.isArray(accept) ? accept.join(",") : accept);
  if (n.coding === undefined || (size < enc.minBytes && n.identity)) return undefined;
  return n.coding;
}

/**
 * Compresses a response body; undefined if the algorithm failed (the body then goes out as is,
 * which every client can read). @internal
 */
export async function encodeResponseBody(coding: Compression, body: string | Uint8Array): Promise<Uint8Array | undefined> {
  try {
    return await coding.compress(typeof body === "string" ? Buffer.from(body) : body);
  } catch {
    return undefined;
  }
}
