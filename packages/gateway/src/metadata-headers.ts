// Which HTTP headers become call metadata, and how response metadata comes back as headers.
//
// Request: a header named `grpc-metadata-<key>` becomes metadata `<key>` (grpc-gateway's rule);
// a header on the allowlist (default: `authorization` and W3C trace context's `traceparent`,
// `tracestate`, so traces continue through the gateway) is forwarded under its own name. Nothing
// else is forwarded: hop-by-hop and browser headers (cookie, host, accept…) are HTTP's business,
// not the service's. `<key>-bin` values are base64. `grpc-timeout` sets the call's deadline.
// Response: header metadata comes back as `grpc-metadata-<key>`, trailer metadata as
// `grpc-trailer-<key>` (binary values base64), as grpc-gateway's default header matchers do.
import { Code, Metadata, RpcError, isBinaryKey, isValidMetadataPair } from "@petrel/core";
import { parseGrpcTimeout } from "@petrel/protocol-grpc";

/** The prefix that marks an HTTP header as metadata. */
export const METADATA_HEADER_PREFIX = "grpc-metadata-";
/** The prefix of trailer metadata sent back as response headers. */
export const TRAILER_HEADER_PREFIX = "grpc-trailer-";
/** Headers forwarded under their own name by default. */
export const DEFAULT_FORWARDED_HEADERS: readonly string[] = ["authorization", "traceparent", "tracestate"];

/** Builds request metadata from HTTP headers; throws INVALID_ARGUMENT for a value metadata cannot carry. */
export function headersToRequestMetadata(headers: Record<string, string | string[] | undefined>, forwarded: ReadonlySet<string>): Metadata {
  const md = new Metadata();
  for (const name in headers) {
    const lower = name.toLowerCase();
    let key: string;
    if (lower.startsWith(METADATA_HEADER_PREFIX)) key = lower.slice(METADATA_HEADER_PREFIX.length);
    else if (forwarded.has(lower)) key = lower;
    else continue;
    const raw = headers[name];
    const values = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
    for (const v of values) {
      const value = isBinaryKey(key) ? new Uint8Array(Buffer.from(v, "base64")) : v;
      if (!isValidMetadataPair(key, value)) throw new RpcError(Code.INVALID_ARGUMENT, `header ${name} cannot be sent as metadata`);
      md.flat.push(key, value);
    }
  }
  return md;
}

/** The deadline (epoch ms) from a `grpc-timeout` header, or undefined. Throws for a malformed one. */
export function deadlineFromHeaders(headers: Record<string, string | string[] | undefined>): number | undefined {
  const raw = headers["grpc-timeout"];
  if (raw === undefined) return undefined;
  let ms: number | undefined;
  try {
    ms = parseGrpcTimeout(Array.isArray(raw) ? raw[0] : raw);
  } catch (e) {
    throw new RpcError(Code.INVALID_ARGUMENT, RpcError.from(e).rawMessage);
  }
  return ms === undefined ? undefined : Date.now() + ms;
}

/** Adds metadata to an HTTP header object under `prefix`. */
export function metadataToHeaders(md: Metadata | undefined, prefix: string, out: Record<string, string | string[]>): void {
  if (md === undefined) return;
  for (const [k, v] of md) {
    const name = prefix + k;
    const value = typeof v === "string" ? v : Buffer.from(v).toString("base64");
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else out[name] = Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
}
