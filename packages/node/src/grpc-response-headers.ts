// What a gRPC client reads from a response's HTTP/2 headers: whether it is gRPC at all (HTTP
// status, content-type) and its grpc-encoding; and the status of a stream the server reset with
// RST_STREAM instead of ending it with trailers (gRPC's PROTOCOL-HTTP2 tables). The call that
// reads them is in grpc-client-call.ts; grpc-status trailers are read by readGrpcStatus.
import * as http2 from "node:http2";
import { Code, markRpcError, RpcError, UNPROCESSED } from "@petrel/core";
import {
  IDENTITY_ENCODING,
  codeFromHttpStatus,
  parseGrpcContentType,
  type Compression,
  type CompressionRegistry,
} from "@petrel/protocol-grpc";

/**
 * Whether a response's content-type is gRPC's (`application/grpc[+codec]`); the two usual values
 * need no parsing.
 * @internal
 */
export function isGrpcContentType(ct: string | undefined): boolean {
  return ct === "application/grpc" || ct === "application/grpc+proto" || parseGrpcContentType(ct) !== undefined;
}

/**
 * The response's `grpc-encoding` algorithm; undefined for identity or none. Throws INTERNAL for
 * one this client does not support.
 * @internal
 */
export function responseCompression(headers: http2.IncomingHttpHeaders, compressions: CompressionRegistry): Compression | undefined {
  const enc = headers["grpc-encoding"];
  if (enc === undefined) return undefined;
  const encoding = String(enc).toLowerCase();
  if (encoding === IDENTITY_ENCODING) return undefined;
  const c = compressions.get(encoding);
  if (c === undefined) {
    throw new RpcError(Code.INTERNAL, `grpc: the server used grpc-encoding "${encoding}", which this client does not support`);
  }
  return c;
}

/**
 * The error of a response that is not gRPC: an HTTP status other than 200, else (the status is
 * 200) a content-type that is not gRPC's.
 * @internal
 */
export function notGrpcResponseError(httpStatus: number): RpcError {
  if (httpStatus !== 200) {
    return new RpcError(codeFromHttpStatus(httpStatus), `grpc: unexpected HTTP status ${httpStatus} from the server`);
  }
  return new RpcError(Code.UNKNOWN, "grpc: the server's response is not gRPC (content-type)");
}

/** Maps an RST_STREAM code the peer sent to a call status (gRPC's PROTOCOL-HTTP2 table). */
function codeFromRst(rst: number): Code {
  switch (rst) {
    case http2.constants.NGHTTP2_REFUSED_STREAM:
      return Code.UNAVAILABLE;
    case http2.constants.NGHTTP2_CANCEL:
      return Code.CANCELLED;
    case http2.constants.NGHTTP2_ENHANCE_YOUR_CALM:
      return Code.RESOURCE_EXHAUSTED;
    case http2.constants.NGHTTP2_INADEQUATE_SECURITY:
      return Code.PERMISSION_DENIED;
    default:
      return Code.INTERNAL;
  }
}

/**
 * The error for a stream that ended in RST_STREAM `rst` (undefined or 0: none). node:http2 also
 * marks streams it closes because the connection died (TLS alert, keepalive timeout, socket loss)
 * with CANCEL: that is UNAVAILABLE, not a cancellation by the server.
 * @internal
 */
export function streamResetError(rst: number | undefined, sessionDestroyed: boolean | undefined): RpcError | undefined {
  if (rst === undefined || rst === 0) return undefined;
  if (rst === http2.constants.NGHTTP2_CANCEL && sessionDestroyed !== false) {
    return new RpcError(Code.UNAVAILABLE, "grpc: connection lost before the call finished");
  }
  if (rst === http2.constants.NGHTTP2_REFUSED_STREAM) {
    // Never processed: a retry policy may retry it transparently (gRFC A6).
    return markRpcError(
      new RpcError(Code.UNAVAILABLE, "grpc: the server refused the stream (REFUSED_STREAM); the call was not processed"),
      UNPROCESSED,
    );
  }
  return new RpcError(codeFromRst(rst), `grpc: stream reset by the server (code ${rst})`);
}
