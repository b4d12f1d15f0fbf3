// grpc-js client -> Petrel gRPC server: the server role measured under the reference client.
import grpcJs from "./grpc-js.ts";
import type { BenchSystem } from "./index.ts";
import { startServer } from "./petrel-grpc.ts";

const system: BenchSystem = { name: "grpc-js>petrel-grpc", startServer, createClient: grpcJs.createClient };
export default system;
