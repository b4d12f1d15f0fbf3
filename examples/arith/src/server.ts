// One port, every protocol: the Arith service behind a single createPetrelServer. The server
// sniffs each connection's first bytes (see packages/node/src/server.ts) and hands it to:
//   petrel/1                  native clients (createNativeTransport)
//   HTTP/2 prior knowledge    gRPC (application/grpc), then the HTTP handlers below
//   HTTP/1.1                  the HTTP handlers below, and WebSocket upgrades (JSON-RPC)
//   a raw stream of JSON      JSON-RPC 2.0 and Go net/rpc's JSON-RPC 1.0 (jsonrpc.Dial)
import type { Socket } from "node:net";
import { createRouter, type Router, type ServerInterceptor } from "@petrel/core";
import { createRestGateway } from "@petrel/gateway";
import {
  createConnectHandler,
  createGrpcWebHandler,
  createJsonRpcHttpHandler,
  createJsonRpcWsHandler,
  createPetrelServer,
  jsonRpcHandlerErrorChannel,
  serveGobRpcSocket,
  serveJsonRpcSocket,
  type DetectedProtocol,
} from "@petrel/node";
import { createJsonRpcDispatcher } from "@petrel/protocol-jsonrpc";
import { createArithService } from "./arith-service.js";
import { Arith } from "./gen/arith/arith_pb.js";

/** What the example serves, for the start-up line and the README. */
export const ARITH_PROTOCOLS = "petrel/1, grpc, connect, grpc-web, rest, json-rpc http/ws/tcp, go net/rpc (jsonrpc and gob)";

/** Options of {@link startArithServer}. */
export interface ArithServerOptions {
  /** TCP port; 0 picks a free one. Default 0. */
  port?: number;
  /** Interface to bind. Default `127.0.0.1`. */
  host?: string;
  /**
   * Server interceptors run for every call on every protocol: the hook for cross-cutting
   * behaviour such as metrics (`--metrics-port` adds `createMetrics().serverInterceptor` here,
   * see main.ts) or access logs. Default none.
   */
  interceptors?: readonly ServerInterceptor[];
}

/** A running Arith server. */
export interface ArithServer {
  readonly host: string;
  readonly port: number;
  /** Connections per detected protocol since start. */
  readonly detected: Readonly<Record<DetectedProtocol | "refused", number>>;
  /** Graceful shutdown: in-flight calls get up to `graceMs` (default 5000) to finish. Idempotent. */
  close(options?: { graceMs?: number }): Promise<void>;
}

/** A router serving Arith (`arith.Arith`). */
export function createArithRouter(interceptors: readonly ServerInterceptor[] = []): Router {
  return createRouter({ interceptors: [...interceptors] }).service(Arith, createArithService());
}

/** Starts Arith on every protocol on one port. */
export async function startArithServer(options: ArithServerOptions = {}): Promise<ArithServer> {
  const { port = 0, host = "127.0.0.1" } = options;
  const router = createArithRouter(options.interceptors);
  // Raw TCP speaks both JSON-RPC 2.0 and Go's JSON-RPC 1.0 ("auto", per message); HTTP and
  // WebSocket stay strict JSON-RPC 2.0, the default of their handlers.
  const tcpDispatcher = createJsonRpcDispatcher(router, {
    mode: "auto",
    onHandlerError: (error, ctx) => {
      if (jsonRpcHandlerErrorChannel.hasSubscribers)
        jsonRpcHandlerErrorChannel.publish({ error, service: ctx.service.typeName, method: ctx.method.name, peer: ctx.peer.address });
    },
  });
  const ws = createJsonRpcWsHandler(router);
  const server = createPetrelServer({
    router,
    // Tried in order; each takes only its own requests. gRPC-Web goes by content type, Connect by
    // exact method path (`/arith.Arith/Multiply`), REST by the google.api.http routes (and
    // `/openapi.json`), JSON-RPC by path (POST `/` and `/jsonrpc`), so none shadows another.
    http: [
      createGrpcWebHandler(router),
      createConnectHandler(router),
      createRestGateway({
        router,
        openapiInfo: { title: "Arith", version: "1.0.0" },
        // Go's encoding/json writes every field; so does the gateway, e.g. `{"Quo":3,"Rem":0}`.
        jsonWriteOptions: { alwaysEmitImplicit: true },
      }),
      createJsonRpcHttpHandler(router),
    ],
    upgrade: (req, socket, head) => ws.handleUpgrade(req, socket, head),
    json: (socket: Socket) => serveJsonRpcSocket(socket, tcpDispatcher),
    // Go's net/rpc on its default codec (gob): plain rpc.Dial clients.
    gob: (socket: Socket) => serveGobRpcSocket(socket, router),
  });
  let bound: { host: string; port: number };
  try {
    bound = await server.listen({ port, host });
  } catch (e) {
    await Promise.all([ws.close(), server.close({ graceMs: 0 })]);
    throw e;
  }
  let closing: Promise<void> | undefined;
  return {
    host: bound.host,
    port: bound.port,
    detected: server.detected,
    close({ graceMs = 5000 } = {}) {
      // WebSocket clients first (close frames), then every other protocol gracefully.
      closing ??= ws.close().then(() => server.close({ graceMs }));
      return closing;
    },
  };
}
