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
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        done(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => done(undefined);
    const onClose = () => done(new RpcError(Code.CANCELLED, "request body ended early"));
    const onError = (e: Error) => done(new RpcError(Code.CANCELLED, `request body: ${e.message}`));
    const done = (err: RpcError | undefined) => {
      if (settled) return;
      settled = true;
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("close", onClose);
      req.off("error", onError);
      if (err === undefined) resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
      else {
        // Keep draining so the connection stays usable for the error response.
        req.resume();
        reject(err);
      }
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("close", onClose);
    req.on("error", onError);
  });
}

function tooLarge(maxBytes: number): RpcError {
  return new RpcError(Code.RESOURCE_EXHAUSTED, `request body larger than ${maxBytes} bytes`);
}
