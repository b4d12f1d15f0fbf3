// What a gRPC server reads from a request's HTTP/2 headers: the content-type and codec, :method,
// :path, grpc-encoding, grpc-timeout and grpc-accept-encoding. A request whose headers fail a
// check is answered Trailers-Only here and never becomes a call (grpc-server-call.ts).
import type * as http2 from "node:http2";
import { Code, type Codec, type MethodHandler, type Router } from "@petrel/core";
import {
  IDENTITY_ENCODING,
  grpcContentType,
  parseAcceptEncoding,
  parseGrpcContentType,
  parseGrpcTimeout,
  writeGrpcStatus,
  type Compression,
  type CompressionRegistry,
} from "@petrel/protocol-grpc";

const GRPC_PROTO_TYPE = "application/grpc";

/**
 * A gRPC request's codec and the content-type of its response.
 * @internal
 */
export interface RequestContentType {
  readonly codec: string;
  readonly contentType: string;
}

/** The common case, shared by every such request. */
const PROTO_REQUEST: RequestContentType = { codec: "proto", contentType: GRPC_PROTO_TYPE };

/**
 * The codec and response content-type of a request's `content-type`, or undefined when it is not
 * gRPC's (`application/grpc[+codec]`).
 * @internal
 */
export function parseRequestContentType(rawType: string | undefined): RequestContentType | undefined {
  // The common case, without parsing.
  if (rawType === GRPC_PROTO_TYPE) return PROTO_REQUEST;
  const ct = parseGrpcContentType(rawType);
  if (ct === undefined) return undefined;
  return { codec: ct.codec, contentType: grpcContentType(ct.codec) };
}

/**
 * Ends a stream that never started with a Trailers-Only response.
 * @internal
 */
export function trailersOnly(
  stream: http2.ServerHttp2Stream,
  contentType: string,
  code: Code,
  message: string,
  extra?: Record<string, string>,
): void {
  if (stream.destroyed || stream.headersSent) return;
  const headers: Record<string, string | string[]> = { ":status": "200", "content-type": contentType, ...extra };
  writeGrpcStatus(code, message, [], headers);
  stream.respond(headers, { endStream: true });
}

/**
 * What a request's headers select.
 * @internal
 */
export interface RequestHead {
  handler: MethodHandler;
  codec: Codec;
  /** The request's `grpc-encoding` algorithm; undefined for identity. */
  compression: Compression | undefined;
}

/**
 * Checks, in this order, `:method`, `:path` (against the router), the codec and `grpc-encoding`.
 * The first that fails is answered Trailers-Only with UNIMPLEMENTED, and the result is undefined.
 * @internal
 */
export function checkRequestHeaders(
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  router: Router,
  compressions: CompressionRegistry,
  ct: RequestContentType,
): RequestHead | undefined {
  const contentType = ct.contentType;
  if (headers[":method"] !== "POST") {
    trailersOnly(stream, contentType, Code.UNIMPLEMENTED, `grpc: method ${headers[":method"]} not allowed, want POST`);
    return undefined;
  }
  const path = String(headers[":path"] ?? "");
  const handler = router.lookup(path);
  if (handler === undefined) {
    const service = path.split("/")[1] ?? "";
    trailersOnly(
      stream,
      contentType,
      Code.UNIMPLEMENTED,
      router.hasService(service) ? `unknown method ${path}` : `unknown service ${service}`,
    );
    return undefined;
  }
  const codec = router.codecs.get(ct.codec);
  if (codec === undefined) {
    const accepted = router.codecs.names().join(", ");
    trailersOnly(stream, contentType, Code.UNIMPLEMENTED, `grpc: unsupported codec "${ct.codec}"; this server accepts: ${accepted}`);
    return undefined;
  }
  let compression: Compression | undefined;
  const rawEncoding = headers["grpc-encoding"];
  if (rawEncoding !== undefined) {
    const encoding = String(rawEncoding).toLowerCase();
    if (!compressions.supports(encoding)) {
      // compression.md: a message encoding the server does not support is UNIMPLEMENTED, with the
      // supported ones listed.
      trailersOnly(stream, contentType, Code.UNIMPLEMENTED, `grpc: unsupported grpc-encoding "${encoding}"`, {
        "grpc-accept-encoding": compressions.acceptEncoding(),
      });
      return undefined;
    }
    compression = compressions.get(encoding);
  }
  return { handler, codec, compression };
}

/**
 * The request's `grpc-timeout` in ms, or undefined without one. Throws RpcError for a malformed
 * value.
 * @internal
 */
export function requestTimeoutMs(headers: http2.IncomingHttpHeaders): number | undefined {
  const rawTimeout = headers["grpc-timeout"];
  return rawTimeout === undefined ? undefined : parseGrpcTimeout(rawTimeout as string);
}

/**
 * The compression called `name`, if it is not identity and the client's raw
 * `grpc-accept-encoding` lists it; undefined (identity) otherwise.
 * @internal
 */
export function acceptedCompression(
  name: string | undefined,
  acceptHeader: string | string[] | undefined,
  compressions: CompressionRegistry,
): Compression | undefined {
  if (name === undefined || name === IDENTITY_ENCODING || !parseAcceptEncoding(acceptHeader).includes(name)) return undefined;
  return compressions.get(name);
}
