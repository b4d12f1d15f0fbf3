// petrel-rest: Petrel's in-process REST gateway (`createRestGateway`, @petrel/gateway) on a plain
// node:http server, serving Echo as `POST /v1/echo` with `body: "*"` — the same router, handler
// and interceptors as the other Petrel systems (petrel-common.ts). Server only: h2load-h1 drives
// it (`h2load-h1>petrel-rest`).
//
// The annotated service is built at run time: bench/proto is generated without google/api
// imports (buf would need the gateway's vendored google/api protos on its path), so this file
// declares `petrel.bench.v1.EchoService.Echo` again in a FileDescriptorProto whose method
// options carry the google.api.http extension, with the generated echo.proto as its dependency.
// Its method path is the generated service's, so the gateway's router.lookup() finds the same
// handler the JSON-RPC and gRPC servers call, and its messages are the generated ones.
import { type DescService, create, createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { FileDescriptorProtoSchema, MethodOptionsSchema } from "@bufbuild/protobuf/wkt";
import { createRestGateway } from "@petrel/gateway";
import { file_echo } from "../gen/echo_pb.js";
import { REST_PATH } from "./http1-common.ts";
import type { BenchClient, BenchServer, BenchSystem } from "./index.ts";
import { startPetrelServer } from "./petrel-common.ts";
import { httpServing } from "./petrel-jsonrpc.ts";

/** Field number of the `google.api.http` extension of MethodOptions (google/api/annotations.proto). */
const GOOGLE_API_HTTP = 72295728;

/** `petrel.bench.v1.EchoService` with `option (google.api.http) = {post: path, body: "*"}` on Echo. */
export function annotatedEchoService(path = REST_PATH): DescService {
  // google.api.HttpRule: post = 4, body = 7 (google/api/http.proto).
  const rule = new BinaryWriter().tag(4, WireType.LengthDelimited).string(path).tag(7, WireType.LengthDelimited).string("*").finish();
  const options = fromBinary(MethodOptionsSchema, new BinaryWriter().tag(GOOGLE_API_HTTP, WireType.LengthDelimited).bytes(rule).finish());
  const file = create(FileDescriptorProtoSchema, {
    name: "petrel/bench/v1/echo_rest.proto",
    package: "petrel.bench.v1",
    dependency: ["echo.proto"],
    syntax: "proto3",
    service: [
      {
        name: "EchoService",
        method: [{ name: "Echo", inputType: ".petrel.bench.v1.EchoRequest", outputType: ".petrel.bench.v1.EchoResponse", options }],
      },
    ],
  });
  const registry = createFileRegistry(file, (name) => (name === "echo.proto" ? file_echo : undefined));
  const service = registry.getFile(file.name)?.services[0];
  if (service === undefined) throw new Error("petrel-rest: the annotated EchoService did not build");
  return service;
}

export function startServer(port: number): Promise<BenchServer> {
  const services = [annotatedEchoService()];
  return startPetrelServer(port, (router) => httpServing(createRestGateway({ router, services, openapiPath: false })));
}

const system: BenchSystem = {
  name: "petrel-rest",
  startServer,
  createClient(): Promise<BenchClient> {
    return Promise.reject(new Error("petrel-rest is a server only: drive it with h2load-h1"));
  },
};
export default system;
