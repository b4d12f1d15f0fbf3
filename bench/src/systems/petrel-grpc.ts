// petrel-grpc: Petrel's gRPC (HTTP/2, h2c) server and client (see petrel-common.ts for the call path).
import { createGrpcServer, createGrpcTransport } from "@petrel/node";
import type { BenchClient, BenchServer, BenchSystem } from "./index.ts";
import { createPetrelClient, startPetrelServer } from "./petrel-common.ts";

export function startServer(port: number): Promise<BenchServer> {
  return startPetrelServer(port, (router) => createGrpcServer({ router }));
}

export function createBenchClient(addr: { host: string; port: number }): Promise<BenchClient> {
  return createPetrelClient(createGrpcTransport({ baseUrl: `http://${addr.host}:${addr.port}` }));
}

const system: BenchSystem = { name: "petrel-grpc", startServer, createClient: createBenchClient };
export default system;
