import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { Code, RpcError } from "@petrel/core";

/** An HTTP request as Node's http (HTTP/1.1) or http2 compatibility API delivers it. */
export type HttpRequest = IncomingMessage | Http2ServerRequest;
/** The matching response. */
export type HttpResponse = ServerResponse | Http2ServerResponse;

/**
 * One HTTP-based protocol's entry point (JSON-RPC over HTTP, the REST gateway, gRPC-Web, Connect).
 * Returns true when the request is this protocol's — the handler then owns the response — and
 * false, without reading or writing anything, when it is not, so a server can chain handlers and
 * serve every protocol on one port.
 */
export type HttpHandler = (req: HttpRequest, res: HttpResponse) => boolean;

/** Chains handlers: the first that takes a request wins; none -> `fallback` (default: 404 JSON). */
export function chainHttpHandlers(handlers: readonly HttpHandler[], fallback: (req: HttpRequest, res: HttpResponse) => void = notFound) {
  return (req: HttpRequest, res: HttpResponse): void => {
    for (const h of handlers) if (h(req, res)) return;
    fallback(req, res);
  };
}

function notFound(req: HttpRequest, res: HttpResponse): void {
  const body = JSON.stringify({ code: Code.NOT_FOUND, message: `no route for ${req.method} ${req.url}` });
  res.writeHead(404, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

/** The default limit of `readBody`: 4 MiB, gRPC's default receive limit. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

/**
 * Reads a request body up to `maxBytes`. Over the limit it stops reading and rejects with
 * RESOURCE_EXHAUSTED (HTTP protocols answer 413); a body that ends early rejects with CANCELLED.
 * A declared content-length over the limit is refused before any byte is read.
 */
export function readBody(req: HttpRequest, maxBytes = DEFAULT_MAX_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > maxBytes) {
      reject(tooLarge(maxBytes));
      return;
    }
    // State lives on the request and the listeners are shared module functions: no closures per
    // request (on the JSON-RPC/REST hot path they were measurable).
    (req as BodyRequest)[kBody] = { chunks: [], size: 0, maxBytes, resolve, reject };
    req.on("data", onBodyData);
    req.on("end", onBodyEnd);
    req.on("close", onBodyClose);
    req.on("error", onBodyError);
  });
}

const kBody = Symbol("petrel.body");
interface BodyState {
  chunks: Buffer[];
  size: number;
  maxBytes: number;
  resolve: (b: Buffer) => void;
  reject: (e: RpcError) => void;
}
type BodyRequest = HttpRequest & { [kBody]?: BodyState };

function onBodyData(this: BodyRequest, chunk: Buffer): void {
  const st = this[kBody];
  if (st === undefined) return;
  st.size += chunk.length;
  if (st.size > st.maxBytes) bodyDone(this, tooLarge(st.maxBytes));
  else st.chunks.push(chunk);
}
function onBodyEnd(this: BodyRequest): void {
  bodyDone(this, undefined);
}
function onBodyClose(this: BodyRequest): void {
  bodyDone(this, new RpcError(Code.CANCELLED, "request body ended early"));
}
function onBodyError(this: BodyRequest, e: Error): void {
  bodyDone(this, new RpcError(Code.CANCELLED, `request body: ${e.message}`));
}
function bodyDone(req: BodyRequest, err: RpcError | undefined): void {
  const st = req[kBody];
  if (st === undefined) return;
  req[kBody] = undefined;
  req.off("data", onBodyData);
  req.off("end", onBodyEnd);
  req.off("close", onBodyClose);
  req.off("error", onBodyError);
  if (err === undefined) st.resolve(st.chunks.length === 1 ? (st.chunks[0] as Buffer) : Buffer.concat(st.chunks, st.size));
  else {
    // Keep draining so the connection stays usable for the error response.
    req.resume();
    st.reject(err);
  }
}

function tooLarge(maxBytes: number): RpcError {
  return new RpcError(Code.RESOURCE_EXHAUSTED, `request body larger than ${maxBytes} bytes`);
}
