import { Code, RpcError, type Router } from "@petrel/core";
import type { Compression } from "@petrel/protocol-grpc";
import {
  CancellationSource,
  createJsonRpcDispatcher,
  type JsonRpcDispatcher,
  type JsonRpcDispatcherOptions,
} from "@petrel/protocol-jsonrpc";
import {
  type HttpContentEncoding,
  type HttpContentEncodingOptions,
  createHttpContentEncoding,
  decodeRequestBody,
  encodeResponseBody,
  requestCodings,
  responseCoding,
} from "./http-content-encoding.js";
import { DEFAULT_MAX_BODY_BYTES, type HttpHandler, type HttpRequest, type HttpResponse, readBody } from "./http-handler.js";
import { deadlineFromHeaders, headersToMetadata, withErrorChannel } from "./jsonrpc-server-common.js";
import { peerInfoOf } from "./tls-peer.js";

/** Options of `createJsonRpcHttpHandler`. */
export interface JsonRpcHttpOptions extends JsonRpcDispatcherOptions, HttpContentEncodingOptions {
  /** Request paths served (query string ignored). Default `["/", "/jsonrpc"]`. */
  paths?: string[];
  /** Largest request body, before and after decompression; larger ones get 413. Default 4 MiB. */
  maxBodyBytes?: number;
  /** Use this dispatcher instead of creating one (to share it with TCP/WebSocket). */
  dispatcher?: JsonRpcDispatcher;
  /**
   * Status of the empty answer to a message of notifications only. Default 200 (empty body):
   * jsonrpclib-pelix, the Python client, fails on anything but 200 although the JSON-RPC over HTTP
   * drafts suggest 204; set 204 for clients that prefer it.
   */
  notificationStatus?: 200 | 204;
}

/**
 * JSON-RPC 2.0 over HTTP/1.1 (and HTTP/2 via Node's compat API): `POST` with
 * `content-type: application/json` to one of `paths`. Responses: 200 with the JSON-RPC response
 * (errors included: JSON-RPC errors are not HTTP errors), an empty body when the message held
 * only notifications (status: see notificationStatus), 405 (with `Allow: POST`) for other methods, 415 for another content type,
 * 413 over `maxBodyBytes`. Request headers become request metadata; `x-petrel-timeout-ms` sets
 * a deadline. Takes only requests on `paths`, so it chains with other HttpHandlers.
 *
 * Content codings (`compressions`, default gzip, deflate and br where registered): a request body
 * with `Content-Encoding` is decompressed within `maxBodyBytes` (more: 413; corrupt: 400; an
 * unknown coding: 415 with `Accept-Encoding` naming the accepted ones); a response of at least
 * `compressMinBytes` is compressed with the best coding the request's `Accept-Encoding` allows,
 * and every response body says `Vary: Accept-Encoding`.
 */
export function createJsonRpcHttpHandler(router: Router, options: JsonRpcHttpOptions = {}): HttpHandler {
  const paths = new Set(options.paths ?? ["/", "/jsonrpc"]);
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const dispatcher = options.dispatcher ?? createJsonRpcDispatcher(router, withErrorChannel(options));
  const notificationStatus = options.notificationStatus ?? 200;
  const enc = createHttpContentEncoding(options);
  return (req, res) => {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    if (!paths.has(q === -1 ? url : url.slice(0, q))) return false;
    if (req.method !== "POST") {
      req.resume();
      sendJson(res, 405, { error: "method not allowed: JSON-RPC needs POST" }, { allow: "POST" });
      return true;
    }
    const ct = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
    if (ct !== "application/json" && ct !== "application/json-rpc" && ct !== "application/jsonrequest") {
      req.resume();
      sendJson(res, 415, { error: "unsupported media type: JSON-RPC needs content-type application/json" });
      return true;
    }
    const ce = req.headers["content-encoding"];
    const codings = ce === undefined ? undefined : requestCodings(enc, ce);
    if (codings?.t === "unsupported") {
      req.resume();
      // RFC 9110 §15.5.16: Accept-Encoding on a 415 names the codings a request may use.
      sendJson(res, 415, { error: codings.message }, { "accept-encoding": enc.accept });
      return true;
    }
    void serve(dispatcher, req, res, maxBody, notificationStatus, enc, codings?.t === "coded" ? codings.codings : undefined);
    return true;
  };
}

async function serve(
  dispatcher: JsonRpcDispatcher,
  req: HttpRequest,
  res: HttpResponse,
  maxBody: number,
  notificationStatus: number,
  enc: HttpContentEncoding,
  codings: Compression[] | undefined,
): Promise<void> {
  let body: Buffer;
  try {
    body = await readBody(req, maxBody);
  } catch (e) {
    const err = RpcError.from(e);
    if (err.code === Code.RESOURCE_EXHAUSTED) sendJson(res, 413, { error: err.rawMessage }, { connection: "close" });
    else if (!res.headersSent && !res.destroyed) res.destroy();
    return;
  }
  if (codings !== undefined) {
    try {
      body = await decodeRequestBody(body, codings, maxBody);
    } catch (e) {
      // The whole body was read, so the connection stays usable.
      const err = RpcError.from(e);
      sendJson(res, err.code === Code.RESOURCE_EXHAUSTED ? 413 : 400, { error: err.rawMessage });
      return;
    }
  }
  const cancellation = new ResponseCancellation(res);
  const onClose = cancellation.onClose;
  res.once("close", onClose);
  try {
    const out = await dispatcher.handle(body, {
      peer: peerInfoOf(req.socket, "jsonrpc/http"),
      headers: headersToMetadata(req.headers),
      deadline: deadlineFromHeaders(req.headers),
      cancellation,
    });
    if (res.destroyed) return;
    if (out === undefined) {
      res.writeHead(notificationStatus, notificationStatus === 204 ? {} : { "content-length": 0 });
      res.end();
    } else {
      const size = Buffer.byteLength(out);
      const coding = responseCoding(enc, req.headers["accept-encoding"], size);
      const zipped = coding === undefined ? undefined : await encodeResponseBody(coding, out);
      if (res.destroyed) return;
      if (zipped !== undefined) {
        res.writeHead(200, {
          "content-type": "application/json",
          "content-encoding": (coding as Compression).name,
          "content-length": zipped.byteLength,
          vary: "Accept-Encoding",
        });
        res.end(zipped);
      } else {
        // A string, not a Buffer: Node then sends headers and body in one write instead of a writev.
        res.writeHead(
          200,
          enc.enabled
            ? { "content-type": "application/json", "content-length": size, vary: "Accept-Encoding" }
            : { "content-type": "application/json", "content-length": size },
        );
        res.end(out);
      }
    }
  } finally {
    res.off("close", onClose);
  }
}

/**
 * Cancels a request's handlers when its response closes unfinished (the client went away). A
 * bound method rather than a closure per request: under tsx (esbuild keepNames, how Petrel's
 * entry points run) a named closure costs an Object.defineProperty of its name, and binding a
 * function whose name was so defined takes V8's slow path (~300 ns); a method's bind does not.
 */
class ResponseCancellation extends CancellationSource {
  readonly onClose = this.closed.bind(this);

  constructor(private readonly res: HttpResponse) {
    super();
  }

  private closed(): void {
    if (!this.res.writableFinished) this.cancel();
  }
}

function sendJson(res: HttpResponse, status: number, body: object, extra: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const buf = Buffer.from(JSON.stringify(body));
  // `connection` is an HTTP/1.1 header; HTTP/2 forbids it.
  if (res.req.httpVersionMajor >= 2) delete extra.connection;
  res.writeHead(status, { "content-type": "application/json", "content-length": buf.length, ...extra });
  res.end(buf);
}
