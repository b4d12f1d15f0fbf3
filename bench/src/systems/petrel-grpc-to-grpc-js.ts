// Petrel gRPC client -> grpc-js server: the client role measured against the reference server.
import grpcJs from "./grpc-js.ts";
import type { BenchSystem } from "./index.ts";
import { createBenchClient } from "./petrel-grpc.ts";

const system: BenchSystem = { name: "petrel-grpc>grpc-js", startServer: grpcJs.startServer, createClient: createBenchClient };
export default system;
