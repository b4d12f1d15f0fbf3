import { Code, RpcError, type Router } from "@petrel/core";
import {
  CancellationSource,
  createJsonRpcDispatcher,
  type JsonRpcDispatcher,
  type JsonRpcDispatcherOptions,
} from "@petrel/protocol-jsonrpc";
import { DEFAULT_MAX_BODY_BYTES, type HttpHandler, type HttpRequest, type HttpResponse, readBody } from "./http-handler.js";
import { deadlineFromHeaders, headersToMetadata, withErrorChannel } from "./jsonrpc-server-common.js";
import { peerInfoOf } from "./tls-peer.js";

/** Options of `createJsonRpcHttpHandler`. */
export interface JsonRpcHttpOptions extends JsonRpcDispatcherOptions {
  /** Request paths served (query string ignored). Default `["/", "/jsonrpc"]`. */
  paths?: string[];
  /** Largest request body; larger ones get 413. Default 4 MiB. */
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
 */
export function createJsonRpcHttpHandler(router: Router, options: JsonRpcHttpOptions = {}): HttpHandler {
  const paths = new Set(options.paths ?? ["/", "/jsonrpc"]);
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const dispatcher = options.dispatcher ?? createJsonRpcDispatcher(router, withErrorChannel(options));
  const notificationStatus = options.notificationStatus ?? 200;
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
    void serve(dispatcher, req, res, maxBody, notificationStatus);
    return true;
  };
}

async function serve(
  dispatcher: JsonRpcDispatcher,
  req: HttpRequest,
  res: HttpResponse,
  maxBody: number,
  notificationStatus: number,
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
  const cancellation = new CancellationSource();
  const onClose = () => {
    if (!res.writableFinished) cancellation.cancel();
  };
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
      // A string, not a Buffer: Node then sends headers and body in one write instead of a writev.
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(out) });
      res.end(out);
    }
  } finally {
    res.off("close", onClose);
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
