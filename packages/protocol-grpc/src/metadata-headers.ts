/**
 * Custom-Metadata <-> HTTP/2 headers, in the shape Node's http2 module uses (lower-case keys,
 * a repeated key as `string[]`) without importing it, so other runtimes can adapt the same way.
 */
import { Code, Metadata, RpcError, type MetadataValue, isBinaryKey, isValidMetadataPair } from "@petrel/core";
import { decodeBase64, encodeBase64 } from "./base64.js";

/**
 * Headers the transport owns. A user setting them would corrupt the call (framing, status,
 * deadline, connection-specific fields HTTP/2 forbids), and surfacing them would show transport
 * internals as application metadata.
 */
const RESERVED = new Set([
  "content-type",
  "te",
  "host",
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "http2-settings",
  "content-length",
]);

/**
 * Whether a header is reserved: neither sent from user metadata nor surfaced as metadata.
 * Reserved are pseudo-headers (`:path` …), every `grpc-*` header (the spec keeps the prefix for
 * gRPC itself), `content-type`, `te`, `content-length`, `host` and the HTTP/1 connection-specific
 * headers HTTP/2 forbids. `user-agent` is not reserved: it is surfaced. Expects a lower-case key.
 */
export function isReservedHeader(key: string): boolean {
  const c = key.charCodeAt(0);
  if (c === 0x3a) return true; // ":"
  if (c === 0x67 && key.startsWith("grpc-")) return !RETRY_HEADERS.has(key);
  return RESERVED.has(key);
}

/**
 * The `grpc-` headers that gRPC's retry design (gRFC A6) carries as metadata: a server's
 * `grpc-retry-pushback-ms` and a client's `grpc-previous-rpc-attempts`. Retry interceptors read
 * and write them, so they pass through like user metadata.
 */
const RETRY_HEADERS = new Set(["grpc-retry-pushback-ms", "grpc-previous-rpc-attempts"]);

/**
 * Writes user metadata into a Node-style headers object: lower-case keys, `-bin` values as
 * unpadded base64, a key seen twice (or already present in `out`) as a `string[]` in order.
 * Reserved keys are skipped silently so a user cannot override what the transport sets.
 * Note that Node's http2 refuses arrays for some headers (`authorization`, `user-agent` …).
 */
export function metadataToHeaders(md: Metadata, out: Record<string, string | string[]>): void {
  const f = md.flat;
  for (let i = 0; i < f.length; i += 2) {
    const key = f[i] as string;
    if (isReservedHeader(key)) continue;
    const v = f[i + 1] as MetadataValue;
    const s = typeof v === "string" ? v : encodeBase64(v);
    const prev = out[key];
    if (prev === undefined) out[key] = s;
    else if (Array.isArray(prev)) prev.push(s);
    else out[key] = [prev, s];
  }
}

/**
 * Reads metadata from Node-style incoming headers (lower-case keys), leaving out reserved keys.
 *
 * - A `-bin` header value may hold several comma-separated base64 values (the spec lets a proxy
 *   join repeated headers with ","; Node joins with ", "), each decoded to its own entry.
 * - A `string[]` value becomes repeated pairs, in order.
 * - A pair that is not valid gRPC metadata (a key outside `[0-9a-z_.-]`, a value with characters
 *   outside 0x20..0x7E) is dropped: the spec says not to fail on such HTTP-valid headers, and
 *   keeping them would let an application that echoes metadata back fail on send.
 * @throws RpcError INTERNAL `grpc: invalid base64 in header "<key>"` for a bad `-bin` value.
 */
export function headersToMetadata(headers: Record<string, string | string[] | undefined>): Metadata {
  const flat: Array<string | MetadataValue> = [];
  for (const key in headers) {
    const v = headers[key];
    if (v === undefined || isReservedHeader(key)) continue;
    if (typeof v === "string") addValue(flat, key, v);
    else for (let i = 0; i < v.length; i++) addValue(flat, key, v[i] as string);
  }
  // Every pair was validated on the way in.
  return Metadata.fromFlat(flat);
}

function addValue(flat: Array<string | MetadataValue>, key: string, value: string): void {
  if (!isBinaryKey(key)) {
    if (isValidMetadataPair(key, value)) flat.push(key, value);
    return;
  }
  if (!isValidMetadataPair(key, EMPTY)) return;
  let start = 0;
  for (;;) {
    const comma = value.indexOf(",", start);
    const piece = value.slice(start, comma < 0 ? value.length : comma).trim();
    let bytes: Uint8Array;
    try {
      bytes = decodeBase64(piece);
    } catch {
      throw new RpcError(Code.INTERNAL, `grpc: invalid base64 in header "${key}"`);
    }
    flat.push(key, bytes);
    if (comma < 0) return;
    start = comma + 1;
  }
}

const EMPTY = new Uint8Array(0);
