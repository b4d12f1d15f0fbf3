import { base64Decode, base64Encode } from "@bufbuild/protobuf/wire";
import { Code, codeName, isCode, Metadata, parseCode, RpcError, type ErrorDetail } from "@petrel/core";

/** JSON-RPC 2.0 `-32700`: the text is not JSON. */
export const PARSE_ERROR = -32700;
/** JSON-RPC 2.0 `-32600`: JSON, but not a valid request object. */
export const INVALID_REQUEST = -32600;
/** JSON-RPC 2.0 `-32601`: no such method (or not callable over JSON-RPC). */
export const METHOD_NOT_FOUND = -32601;
/** JSON-RPC 2.0 `-32602`: params do not decode into the method's request message. */
export const INVALID_PARAMS = -32602;
/** JSON-RPC 2.0 `-32603`: internal error. */
export const INTERNAL_ERROR = -32603;
/** Server errors for Petrel status codes are `SERVER_ERROR_BASE - code` (-32001 CANCELLED … -32016 UNAUTHENTICATED). */
export const SERVER_ERROR_BASE = -32000;

/** The `data` member Petrel puts in every error object it sends (JSON-RPC 2.0). */
export interface JsonRpcErrorData {
  /** The Petrel (gRPC) status code, e.g. 3. */
  code: number;
  /** Its name, e.g. `INVALID_ARGUMENT`. */
  codeName: string;
  /** Structured details: type name and base64 protobuf binary, as in google.rpc.Status. */
  details?: { typeName: string; value: string }[];
  /** Error metadata (trailers); binary values base64. */
  metadata?: Record<string, string>;
}

/** A JSON-RPC 2.0 error object. */
export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

/**
 * Maps a Petrel status code onto a JSON-RPC error code. INVALID_ARGUMENT -> -32602,
 * UNIMPLEMENTED -> -32601, INTERNAL -> -32603 (the spec's own meanings); every other code c ->
 * `-32000 - c`, inside the spec's reserved server-error range -32000..-32099.
 */
export function jsonRpcCodeOf(code: Code): number {
  switch (code) {
    case Code.INVALID_ARGUMENT:
      return INVALID_PARAMS;
    case Code.UNIMPLEMENTED:
      return METHOD_NOT_FOUND;
    case Code.INTERNAL:
      return INTERNAL_ERROR;
    default:
      return SERVER_ERROR_BASE - code;
  }
}

/** The inverse of `jsonRpcCodeOf` for peers that send no Petrel `data` (foreign servers). */
export function petrelCodeOf(jsonRpcCode: number): Code {
  switch (jsonRpcCode) {
    case PARSE_ERROR:
    case INVALID_REQUEST:
    case INVALID_PARAMS:
      return Code.INVALID_ARGUMENT;
    case METHOD_NOT_FOUND:
      return Code.UNIMPLEMENTED;
    case INTERNAL_ERROR:
      return Code.INTERNAL;
  }
  const c = SERVER_ERROR_BASE - jsonRpcCode;
  return Number.isInteger(c) && c > 0 && isCode(c) ? (c as Code) : Code.UNKNOWN;
}

/** The error object Petrel sends for an RpcError (never anything but an RpcError: see toWireError). */
export function errorObjectOf(err: RpcError, jsonRpcCode = jsonRpcCodeOf(err.code)): JsonRpcErrorObject {
  const data: JsonRpcErrorData = { code: err.code, codeName: codeName(err.code) };
  if (err.details.length > 0) data.details = err.details.map((d) => ({ typeName: d.typeName, value: base64Encode(d.value) }));
  if (err.metadata.size > 0) data.metadata = err.metadata.toJSON();
  return { code: jsonRpcCode, message: err.rawMessage === "" ? codeName(err.code) : err.rawMessage, data };
}

/**
 * Turns a received JSON-RPC 2.0 error object into an RpcError. Petrel's `data` round-trips
 * code, message, details and metadata exactly; a foreign error maps by `petrelCodeOf` and keeps
 * its `data` as JSON in the `jsonrpc-error-data` metadata entry.
 */
export function rpcErrorOf(error: unknown): RpcError {
  if (error === null || typeof error !== "object") {
    return new RpcError(Code.UNKNOWN, typeof error === "string" ? error : "malformed JSON-RPC error");
  }
  const e = error as Record<string, unknown>;
  const jcode = typeof e.code === "number" ? e.code : Number.NaN;
  const message = typeof e.message === "string" ? e.message : "";
  const data = e.data;
  if (isPetrelData(data)) {
    const details: ErrorDetail[] = [];
    for (const d of data.details ?? []) {
      try {
        details.push({ typeName: d.typeName, value: base64Decode(d.value) });
      } catch {
        // A malformed detail is dropped, not fatal: the code and message still tell the story.
      }
    }
    const metadata = new Metadata();
    for (const [k, v] of Object.entries(data.metadata ?? {})) {
      if (typeof v !== "string") continue;
      try {
        metadata.append(k, k.endsWith("-bin") ? base64Decode(v) : v);
      } catch {
        // Invalid keys from a peer are dropped.
      }
    }
    const text = message === codeName(data.code as Code) ? "" : message;
    return new RpcError(data.code as Code, text, { details, metadata });
  }
  const metadata = new Metadata({ "jsonrpc-error-code": String(jcode) });
  if (data !== undefined) metadata.set("jsonrpc-error-data", JSON.stringify(data));
  return new RpcError(petrelCodeOf(jcode), message, { metadata });
}

function isPetrelData(d: unknown): d is JsonRpcErrorData {
  if (d === null || typeof d !== "object") return false;
  const o = d as Record<string, unknown>;
  return typeof o.code === "number" && isCode(o.code) && typeof o.codeName === "string" && o.codeName === codeName(o.code as Code);
}

/**
 * JSON-RPC 1.0 (Go net/rpc) carries errors as a bare string. Petrel sends `err.message`, i.e.
 * `[invalid_argument] divide by zero`, so a Petrel client recovers the code; any other string
 * becomes UNKNOWN with that text.
 */
export function rpcErrorOfString(text: string): RpcError {
  const m = /^\[([a-z_]+)\](?: (.*))?$/s.exec(text);
  if (m !== null) {
    const code = parseCode(m[1] as string);
    if (code !== undefined) return new RpcError(code, m[2] ?? "");
  }
  return new RpcError(Code.UNKNOWN, text);
}
