// petrel-native: Petrel's petrel/1 protocol over TCP (see petrel-common.ts for the call path).
import { createNativeServer, createNativeTransport } from "@petrel/node";
import type { BenchClient, BenchServer, BenchSystem } from "./index.ts";
import { createPetrelClient, startPetrelServer } from "./petrel-common.ts";

export function startServer(port: number): Promise<BenchServer> {
  return startPetrelServer(port, (router) => createNativeServer({ router }));
}

export function createBenchClient(addr: { host: string; port: number }): Promise<BenchClient> {
  return createPetrelClient(createNativeTransport({ address: `${addr.host}:${addr.port}`, poolSize: 1 }));
}

const system: BenchSystem = { name: "petrel-native", startServer, createClient: createBenchClient };
export default system;
