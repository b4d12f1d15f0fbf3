/**
 * gRPC status on the wire: `grpc-status`, the percent-encoded `grpc-message`, the
 * `grpc-status-details-bin` blob (a `google.rpc.Status`), the content-type, and the fallback
 * mapping for HTTP responses that carry no gRPC status (http-grpc-status-mapping.md).
 */
import { Code, type ErrorDetail, type Metadata, decodeStatusDetails, encodeStatusDetails, isCode } from "@petrel/core";
import { decodeBase64, encodeBase64 } from "./base64.js";
import { headersToMetadata } from "./metadata-headers.js";

const HEX = "0123456789ABCDEF";
const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Percent-encodes a status message for `grpc-message`: the message's UTF-8 bytes outside
 * 0x20..0x7E, and `%` itself, become `%XX` (upper-case hex). Everything else passes as is, so a
 * plain ASCII message stays readable on the wire.
 */
export function encodeGrpcMessage(message: string): string {
  let i = 0;
  // Fast path: most messages are plain ASCII and need no copy.
  while (i < message.length) {
    const c = message.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) break;
    i++;
  }
  if (i === message.length) return message;
  let out = message.slice(0, i);
  const bytes = encoder.encode(message.slice(i));
  for (let j = 0; j < bytes.length; j++) {
    const b = bytes[j] as number;
    if (b < 0x20 || b > 0x7e || b === 0x25) out += `%${HEX[b >>> 4]}${HEX[b & 15]}`;
    else out += String.fromCharCode(b);
  }
  return out;
}

/**
 * Percent-decodes a `grpc-message` value. The spec forbids failing here: an invalid or truncated
 * escape (`%zz`, a final `%4`) is kept literally, and if the decoded bytes are not valid UTF-8
 * the raw value is returned unchanged, so the user still sees what the peer sent.
 */
export function decodeGrpcMessage(value: string): string {
  if (value.indexOf("%") < 0) return value;
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x25 && i + 2 < value.length) {
      const hi = hexValue(value.charCodeAt(i + 1));
      const lo = hexValue(value.charCodeAt(i + 2));
      if (hi >= 0 && lo >= 0) {
        bytes.push((hi << 4) | lo);
        i += 2;
        continue;
      }
    }
    if (c < 0x80) bytes.push(c);
    else {
      // Not valid in a header, but keep it: re-encode the whole code point as UTF-8.
      const cp = value.codePointAt(i) as number;
      if (cp > 0xffff) i++;
      for (const b of encoder.encode(String.fromCodePoint(cp))) bytes.push(b);
    }
  }
  try {
    return strictDecoder.decode(new Uint8Array(bytes));
  } catch {
    return value;
  }
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * The gRPC code for an HTTP response that carries no `grpc-status` (typically from a proxy),
 * per http-grpc-status-mapping.md: 400 INTERNAL, 401 UNAUTHENTICATED, 403 PERMISSION_DENIED,
 * 404 UNIMPLEMENTED, 429/502/503/504 UNAVAILABLE, anything else UNKNOWN. Clients only: a server
 * must not pick HTTP statuses from this table.
 */
export function codeFromHttpStatus(status: number): Code {
  switch (status) {
    case 400:
      return Code.INTERNAL;
    case 401:
      return Code.UNAUTHENTICATED;
    case 403:
      return Code.PERMISSION_DENIED;
    case 404:
      return Code.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return Code.UNAVAILABLE;
    default:
      return Code.UNKNOWN;
  }
}

const GRPC_TYPE = "application/grpc";

/**
 * Parses a gRPC content-type: `application/grpc` and `application/grpc+proto` give codec
 * `"proto"`, `application/grpc+<name>` gives `<name>`. Case-insensitive (media types are), and
 * parameters after `;` are ignored. Anything else — gRPC-Web's `application/grpc-web…` included,
 * and a bare `application/grpc+` — gives undefined, which a server answers with HTTP 415.
 */
export function parseGrpcContentType(contentType: string | undefined): { codec: string } | undefined {
  if (contentType === undefined) return undefined;
  const semi = contentType.indexOf(";");
  const type = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  if (!type.startsWith(GRPC_TYPE)) return undefined;
  if (type.length === GRPC_TYPE.length) return { codec: "proto" };
  if (type.charCodeAt(GRPC_TYPE.length) !== 0x2b || type.length === GRPC_TYPE.length + 1) return undefined; // "+"
  return { codec: type.slice(GRPC_TYPE.length + 1) };
}

/**
 * The content-type to send for a codec: plain `application/grpc` for proto, which every gRPC
 * implementation understands, `application/grpc+<codec>` otherwise.
 */
export function grpcContentType(codec: string): string {
  return codec === "proto" ? GRPC_TYPE : `${GRPC_TYPE}+${codec}`;
}

/** A status read from trailers: what a client turns into success or an RpcError. */
export interface GrpcStatus {
  /** The status code. */
  code: Code;
  /** The decoded `grpc-message`, or "" when absent. */
  message: string;
  /** Details from `grpc-status-details-bin`; empty when absent or undecodable. */
  details: ErrorDetail[];
  /** The custom metadata among the trailers (reserved headers excluded). */
  metadata: Metadata;
}

/**
 * Reads the status from response trailers (or the headers of a Trailers-Only response);
 * undefined when there is no `grpc-status`, so the caller can synthesize one.
 *
 * A `grpc-status` that is not an integer 0..16 yields UNKNOWN with a message naming the value.
 * `grpc-status-details-bin` is best effort: undecodable details are ignored, and if the blob's
 * code disagrees with `grpc-status` the header wins (it is what every gRPC peer reads). When
 * `grpc-message` is absent the blob's message is used, provided the codes agree.
 * @throws RpcError INTERNAL when a custom `-bin` trailer holds invalid base64.
 */
export function readGrpcStatus(trailers: Record<string, string | string[] | undefined>): GrpcStatus | undefined {
  const rawStatus = first(trailers["grpc-status"]);
  if (rawStatus === undefined) return undefined;
  const rawMessage = first(trailers["grpc-message"]);
  let message = rawMessage === undefined ? "" : decodeGrpcMessage(rawMessage);
  const metadata = headersToMetadata(trailers);
  const n = /^[0-9]{1,3}$/.test(rawStatus) ? Number(rawStatus) : Number.NaN;
  if (!isCode(n)) {
    const why = `grpc: invalid grpc-status ${JSON.stringify(rawStatus.slice(0, 32))}`;
    return { code: Code.UNKNOWN, message: message === "" ? why : `${why}: ${message}`, details: [], metadata };
  }
  let details: ErrorDetail[] = [];
  const rawDetails = first(trailers["grpc-status-details-bin"]);
  if (rawDetails !== undefined) {
    try {
      const st = decodeStatusDetails(decodeBase64(rawDetails.trim()));
      details = st.details;
      if (rawMessage === undefined && st.code === n) message = st.message;
    } catch {
      // Best effort: the code and message above still describe the failure.
    }
  }
  return { code: n, message, details, metadata };
}

/**
 * Writes `grpc-status`, `grpc-message` (percent-encoded; omitted when empty) and, only when there
 * are details, `grpc-status-details-bin` (a `google.rpc.Status`, unpadded base64) into `out`.
 */
export function writeGrpcStatus(
  code: Code,
  message: string,
  details: readonly ErrorDetail[],
  out: Record<string, string | string[]>,
): void {
  out["grpc-status"] = String(code);
  if (message !== "") out["grpc-message"] = encodeGrpcMessage(message);
  if (details.length > 0) out["grpc-status-details-bin"] = encodeBase64(encodeStatusDetails(code, message, details));
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
