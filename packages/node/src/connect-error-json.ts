// The Connect protocol's error representation (connectrpc.com/docs/protocol#error-codes):
// lower-case code strings, the HTTP status of each code for unary responses, and the error JSON
// `{code, message, details: [{type, value}]}` shared by unary bodies and end-stream messages.
import type { Code, Metadata, MetadataValue, RpcError } from "@petrel/core";
import { encodeBase64 } from "@petrel/protocol-grpc";

/** Connect's code strings by code; note Connect spells CANCELLED `canceled`. */
const CODE_STRINGS: readonly string[] = [
  "ok",
  "canceled",
  "unknown",
  "invalid_argument",
  "deadline_exceeded",
  "not_found",
  "already_exists",
  "permission_denied",
  "resource_exhausted",
  "failed_precondition",
  "aborted",
  "out_of_range",
  "unimplemented",
  "internal",
  "unavailable",
  "data_loss",
  "unauthenticated",
];

/** HTTP status of a unary error response, by code (the Connect spec's table). */
const HTTP_STATUS: readonly number[] = [200, 499, 500, 400, 504, 404, 409, 403, 429, 400, 409, 400, 501, 500, 503, 500, 401];

/** Connect's string for a code, e.g. `invalid_argument`. */
export function connectCodeString(code: Code): string {
  return CODE_STRINGS[code] ?? "unknown";
}

/** The HTTP status a unary Connect error with this code is sent with. */
export function connectHttpStatus(code: Code): number {
  return HTTP_STATUS[code] ?? 500;
}

/** The error JSON object: `code`, `message` when not empty, `details` when any (values as unpadded standard base64). */
export function connectErrorJson(err: RpcError): Record<string, unknown> {
  const o: Record<string, unknown> = { code: connectCodeString(err.code) };
  if (err.rawMessage !== "") o.message = err.rawMessage;
  if (err.details.length > 0) o.details = err.details.map((d) => ({ type: d.typeName, value: encodeBase64(d.value) }));
  return o;
}

/** Metadata as the end-stream message's `metadata` object: key -> values, binary values in base64. */
export function metadataJson(out: Record<string, string[]>, md: Metadata | undefined): void {
  if (md === undefined) return;
  const f = md.flat;
  for (let i = 0; i < f.length; i += 2) {
    const key = f[i] as string;
    const v = f[i + 1] as MetadataValue;
    const s = typeof v === "string" ? v : encodeBase64(v);
    const list = out[key];
    if (list === undefined) out[key] = [s];
    else list.push(s);
  }
}
