// oneport>X: the same Petrel servers as petrel-native / petrel-grpc / petrel-jsonrpc, but behind
// `createPetrelServer` — ONE port that sniffs each connection's first bytes (petrel/1 preface,
// HTTP/2 preface, HTTP/1.1 request line) and hands the socket to that protocol's server — instead
// of each protocol's dedicated server. Clients are unchanged, so `oneport>X / X` is the cost of
// protocol detection (once per connection; expected ~1.0x).
import { createJsonRpcHttpHandler, createPetrelServer } from "@petrel/node";
import type { BenchServer, BenchSystem } from "./index.ts";
import { startPetrelServer } from "./petrel-common.ts";
import petrelGrpc from "./petrel-grpc.ts";
import petrelJsonRpc from "./petrel-jsonrpc.ts";
import petrelNative from "./petrel-native.ts";

/** One port serving petrel/1, gRPC (h2c) and JSON-RPC over HTTP/1.1 from the shared router. */
export function startServer(port: number): Promise<BenchServer> {
  return startPetrelServer(port, (router) => createPetrelServer({ router, http: [createJsonRpcHttpHandler(router)] }));
}

const behind = (of: BenchSystem): BenchSystem => ({ name: `oneport>${of.name}`, startServer, createClient: of.createClient });

export const native = behind(petrelNative);
export const grpc = behind(petrelGrpc);
export const jsonrpc = behind(petrelJsonRpc);
