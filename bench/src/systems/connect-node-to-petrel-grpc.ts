// Connect-ES client (gRPC protocol) -> Petrel gRPC server: the server role under a second client.
import { createBenchClient } from "./connect-node.ts";
import type { BenchSystem } from "./index.ts";
import { startServer } from "./petrel-grpc.ts";

const system: BenchSystem = { name: "connect-node>petrel-grpc", startServer, createClient: createBenchClient };
export default system;
