// petrel-jsonrpc: Petrel's JSON-RPC 2.0 over HTTP/1.1 — `createJsonRpcHttpHandler` on a plain
// node:http server, the same router and echo implementation as the other Petrel systems (see
// petrel-common.ts), and Petrel's JSON-RPC client (`createJsonRpcTransport`, keep-alive pool).
// HTTP/1.1 has no multiplexing: the client pool opens up to MAX_SOCKETS connections, one per call
// in flight. JSON-RPC carries unary calls only (no server-stream row).
import * as http from "node:http";
import type { Router } from "@petrel/core";
import { type HttpHandler, createJsonRpcHttpHandler, createJsonRpcTransport } from "@petrel/node";
import { JSONRPC_PATH, listenServer, notFound } from "./http1-common.ts";
import type { BenchClient, BenchServer, BenchSystem } from "./index.ts";
import { createPetrelClient, startPetrelServer } from "./petrel-common.ts";

/** Pool size of the Node JSON-RPC clients: one socket per call in flight, up to the highest bench level. */
export const MAX_SOCKETS = 256;

/** The shape startPetrelServer() wants, around a node:http server serving `handler`. */
export function httpServing(handler: HttpHandler) {
  const server = http.createServer((req, res) => {
    if (!handler(req, res)) notFound(res);
  });
  let close: (() => Promise<void>) | undefined;
  return {
    async listen(o: { port: number; host: string }): Promise<{ port: number }> {
      const s = await listenServer(o.port, server);
      close = s.close;
      return s;
    },
    close: (): Promise<void> => close?.() ?? Promise.resolve(),
  };
}

export function startServer(port: number): Promise<BenchServer> {
  return startPetrelServer(port, (router: Router) => httpServing(createJsonRpcHttpHandler(router)));
}

export function createBenchClient(addr: { host: string; port: number }): Promise<BenchClient> {
  return createPetrelClient(createJsonRpcTransport({ url: `http://${addr.host}:${addr.port}${JSONRPC_PATH}`, maxSockets: MAX_SOCKETS }));
}

const system: BenchSystem = { name: "petrel-jsonrpc", startServer, createClient: createBenchClient };
export default system;
