import type { IncomingHttpHeaders } from "node:http";
import { channel as diagnosticsChannel } from "node:diagnostics_channel";
import type { Socket } from "node:net";
import { type HandlerContext, isValidMetadataPair, Metadata } from "@petrel/core";
import type { JsonRpcDispatcherOptions } from "@petrel/protocol-jsonrpc";

/** Headers that describe the HTTP exchange, not the call: never handed to handlers as metadata. */
const HOP_HEADERS = new Set([
  "host",
  "connection",
  "keep-alive",
  "content-type",
  "content-length",
  "transfer-encoding",
  "accept",
  "accept-encoding",
  "content-encoding",
  "upgrade",
  "te",
  "expect",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-extensions",
  "sec-websocket-protocol",
  "x-petrel-timeout-ms",
]);

/**
 * The request header carrying a call timeout in milliseconds over HTTP and WebSocket upgrades
 * (JSON-RPC itself has no deadline field).
 */
export const JSONRPC_TIMEOUT_HEADER = "x-petrel-timeout-ms";

/** Request metadata from HTTP headers (pseudo, hop-by-hop and invalid ones dropped). @internal */
export function headersToMetadata(headers: IncomingHttpHeaders): Metadata {
  const md = new Metadata();
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || k.startsWith(":") || HOP_HEADERS.has(k)) continue;
    for (const s of Array.isArray(v) ? v : [v]) if (isValidMetadataPair(k, s)) md.append(k, s);
  }
  return md;
}

/** The absolute deadline from the timeout header, if valid. @internal */
export function deadlineFromHeaders(headers: IncomingHttpHeaders): number | undefined {
  const v = headers[JSONRPC_TIMEOUT_HEADER];
  if (typeof v !== "string" || !/^\d{1,10}$/.test(v)) return undefined;
  return Date.now() + Number(v);
}

/** `host:port` of a socket's remote end. @internal */
export function socketAddress(socket: Socket | undefined | null): string {
  if (socket == null || socket.remoteAddress === undefined) return "unknown";
  return socket.remoteFamily === "IPv6" ? `[${socket.remoteAddress}]:${socket.remotePort}` : `${socket.remoteAddress}:${socket.remotePort}`;
}

/**
 * `node:diagnostics_channel` on which JSON-RPC handler failures are published as
 * `{ error, service, method, peer }`, including those a peer only sees as -32603.
 */
export const jsonRpcHandlerErrorChannel = diagnosticsChannel("petrel:jsonrpc:handler-error");

/** Dispatcher options with the diagnostics-channel publisher as default error hook. @internal */
export function withErrorChannel(o: JsonRpcDispatcherOptions): JsonRpcDispatcherOptions {
  if (o.onHandlerError !== undefined) return o;
  return {
    ...o,
    onHandlerError: (error: unknown, ctx: HandlerContext) => {
      if (jsonRpcHandlerErrorChannel.hasSubscribers)
        jsonRpcHandlerErrorChannel.publish({ error, service: ctx.service.typeName, method: ctx.method.name, peer: ctx.peer.address });
    },
  };
}
