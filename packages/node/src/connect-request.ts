// Request-side pieces shared by Connect's unary and streaming paths: the handler settings,
// `connect-timeout-ms`, compression negotiation and the handler context.
import { Code, RpcError, ServerContext, type MethodHandler } from "@petrel/core";
import { type Compression, type CompressionRegistry, headersToMetadata, parseAcceptEncoding } from "@petrel/protocol-grpc";
import { type WebCallConfig, peerOf, stripHeaders } from "./connect-http-call.js";
import type { HttpRequest } from "./http-handler.js";

/** Headers the protocol owns, never surfaced as metadata. @internal */
export const OWNED_PREFIXES: readonly string[] = ["connect-"];
/** @internal */
export const OWNED_NAMES: ReadonlySet<string> = new Set(["accept-encoding", "content-encoding", "accept", "accept-post"]);

/** The filled-in options of one Connect handler. @internal */
export interface ConnectConfig extends WebCallConfig {
  compressions: CompressionRegistry;
  compressMinBytes: number;
  requireHeader: boolean;
}

/** Parses `connect-timeout-ms`: 1 to 10 ASCII digits. @internal */
export function parseTimeout(v: string | string[] | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string" || !/^[0-9]{1,10}$/.test(v)) {
    throw new RpcError(Code.INVALID_ARGUMENT, `protocol error: invalid connect-timeout-ms ${JSON.stringify(String(v).slice(0, 32))}`);
  }
  return Number(v);
}

/** The compression named by a request header; identity -> undefined; unknown -> UNIMPLEMENTED. @internal */
export function requestCompression(config: ConnectConfig, name: string | undefined | null): Compression | undefined {
  if (name === undefined || name === null || name === "" || name.toLowerCase() === "identity") return undefined;
  const c = config.compressions.get(name);
  if (c === undefined) {
    throw new RpcError(
      Code.UNIMPLEMENTED,
      `unknown compression "${name}": supported encodings are ${config.compressions.acceptEncoding()}`,
    );
  }
  return c;
}

/** The first of the client's accepted encodings that we support, if any. @internal */
export function responseCompression(config: ConnectConfig, accept: string | string[] | undefined): Compression | undefined {
  if (accept === undefined) return undefined;
  for (const name of parseAcceptEncoding(accept)) {
    const c = config.compressions.get(name);
    if (c !== undefined) return c;
  }
  return undefined;
}

/** The handler context of one call, protocol headers left out of its metadata. @internal */
export function newContext(handler: MethodHandler, req: HttpRequest, timeoutMs: number | undefined): ServerContext {
  const md = headersToMetadata(stripHeaders(req.headers, OWNED_PREFIXES, OWNED_NAMES));
  const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
  return new ServerContext(handler.service, handler.method, md, deadline, peerOf(req, "connect"));
}
