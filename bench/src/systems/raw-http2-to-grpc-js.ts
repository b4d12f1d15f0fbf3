// Raw node:http2 client -> grpc-js server: the ceiling for any Node gRPC client against this server.
import grpcJs from "./grpc-js.ts";
import type { BenchSystem } from "./index.ts";
import rawHttp2 from "./raw-http2.ts";

const system: BenchSystem = { name: "raw-http2>grpc-js", startServer: grpcJs.startServer, createClient: rawHttp2.createClient };
export default system;
