import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Router } from "@petrel/core";
import { createJsonRpcDispatcher, type JsonRpcDispatcher, type JsonRpcDispatcherOptions } from "@petrel/protocol-jsonrpc";
import { WebSocketServer, type WebSocket } from "ws";
import { deadlineFromHeaders, headersToMetadata, withErrorChannel } from "./jsonrpc-server-common.js";
import { peerInfoOf } from "./tls-peer.js";

/** Options of `createJsonRpcWsHandler`. */
export interface JsonRpcWsOptions extends JsonRpcDispatcherOptions {
  /** Upgrade paths taken (query ignored). Default `["/", "/jsonrpc"]`. */
  paths?: string[];
  /** Largest WebSocket message. Default 4 MiB. */
  maxMessageBytes?: number;
  /** Use this dispatcher instead of creating one. */
  dispatcher?: JsonRpcDispatcher;
}

/** JSON-RPC over WebSocket, to mount on any HTTP server's `upgrade` event. */
export interface JsonRpcWsHandler {
  /**
   * Takes an upgrade request on one of the paths (returns true) or leaves it untouched (false),
   * so several upgrade handlers can share one server: `server.on("upgrade", (req, s, h) => ws.handleUpgrade(req, s, h) || s.destroy())`.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Closes every connection. */
  close(): Promise<void>;
}

/**
 * JSON-RPC 2.0 over WebSocket (`ws`, noServer mode): each text (or binary UTF-8) message is one
 * request or batch; each response is one text message; notifications get none. Responses may
 * come out of order. Headers of the upgrade request are every call's metadata.
 */
export function createJsonRpcWsHandler(router: Router, options: JsonRpcWsOptions = {}): JsonRpcWsHandler {
  const paths = new Set(options.paths ?? ["/", "/jsonrpc"]);
  const dispatcher = options.dispatcher ?? createJsonRpcDispatcher(router, withErrorChannel(options));
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxMessageBytes ?? 4 * 1024 * 1024 });
  const serve = (ws: WebSocket, req: IncomingMessage) => {
    const ac = new AbortController();
    const headers = headersToMetadata(req.headers);
    const peer = peerInfoOf(req.socket, "jsonrpc/ws");
    ws.on("message", (data, isBinary) => {
      const body = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      void dispatcher
        .handle(isBinary ? body : body.toString("utf8"), { peer, headers, deadline: deadlineFromHeaders(req.headers), signal: ac.signal })
        .then((out) => {
          if (out !== undefined && ws.readyState === ws.OPEN) ws.send(out);
        });
    });
    ws.on("error", () => {});
    ws.on("close", () => ac.abort());
  };
  return {
    handleUpgrade(req, socket, head) {
      const url = req.url ?? "/";
      const q = url.indexOf("?");
      if (!paths.has(q === -1 ? url : url.slice(0, q))) return false;
      wss.handleUpgrade(req, socket, head, (ws) => serve(ws, req));
      return true;
    },
    close() {
      for (const c of wss.clients) c.terminate();
      return new Promise((resolve) => wss.close(() => resolve()));
    },
  };
}
