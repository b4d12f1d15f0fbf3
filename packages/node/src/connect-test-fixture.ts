// Test fixture for the Connect and gRPC-Web handler tests: node:http and node:http2 (h2c)
// servers on 127.0.0.1:0 serving a router through the handlers, and a tiny service built at test
// time with a `NO_SIDE_EFFECTS` method (TestService has none) and one that fails with details.
import * as http from "node:http";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create, createFileRegistry, type DescMessage, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { Code, RpcError, createRouter, type Router } from "@petrel/core";
import { TestService, createTestServiceImpl, type TestServiceProbe } from "@petrel/testing";
import { createConnectHandler, type ConnectHandlerOptions } from "./connect-protocol.js";
import { createGrpcWebHandler, type GrpcWebHandlerOptions } from "./grpc-web.js";
import { chainHttpHandlers, type HttpRequest } from "./http-handler.js";

const registry = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "petrel/testing/v1/lookup.proto",
    package: "petrel.testing.v1",
    syntax: "proto3",
    messageType: [
      { name: "LookupRequest", field: [{ name: "key", number: 1, type: 9, label: 1, jsonName: "key" }] },
      { name: "LookupResponse", field: [{ name: "value", number: 1, type: 9, label: 1, jsonName: "value" }] },
    ],
    service: [
      {
        name: "LookupService",
        method: [
          {
            name: "Get",
            inputType: ".petrel.testing.v1.LookupRequest",
            outputType: ".petrel.testing.v1.LookupResponse",
            options: { idempotencyLevel: MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS },
          },
          { name: "Put", inputType: ".petrel.testing.v1.LookupRequest", outputType: ".petrel.testing.v1.LookupResponse" },
          { name: "Fail", inputType: ".petrel.testing.v1.LookupRequest", outputType: ".petrel.testing.v1.LookupResponse" },
        ],
      },
    ],
  }),
  () => undefined,
);

/** `petrel.testing.v1.LookupService`: Get (NO_SIDE_EFFECTS), Put, Fail (error with a detail). */
export const LookupService = registry.getService("petrel.testing.v1.LookupService") as DescService;
export const LookupResponseSchema = registry.getMessage("petrel.testing.v1.LookupResponse") as DescMessage;

/** A router with TestService and LookupService. */
export function createFixtureRouter(probe: TestServiceProbe): Router {
  return createRouter()
    .service(TestService, createTestServiceImpl(probe))
    .service(LookupService, {
      get: (req: { key: string }) => ({ value: `got ${req.key}` }),
      put: (req: { key: string }) => ({ value: `put ${req.key}` }),
      fail: (req: { key: string }) => {
        const err = new RpcError(Code.FAILED_PRECONDITION, `cannot ${req.key} ✗`, { metadata: { "x-why": "because" } });
        err.addDetail(LookupResponseSchema, { value: "detail" } as never);
        throw err;
      },
    } as never);
}

/** Servers under test and their URLs. */
export interface Fixture {
  probe: TestServiceProbe;
  h1: string;
  h2: string;
  /** Methods (`GET`/`POST`) of requests seen, for asserting that the client used GET. */
  methods: string[];
  close(): Promise<void>;
}

/** Starts an HTTP/1.1 and an h2c server, each chaining the Connect and gRPC-Web handlers. */
export async function startFixture(connectOpts: ConnectHandlerOptions = {}, webOpts: GrpcWebHandlerOptions = {}): Promise<Fixture> {
  const probe: TestServiceProbe = { cancelled: [], lastHeaders: {} };
  const router = createFixtureRouter(probe);
  const methods: string[] = [];
  const chain = chainHttpHandlers([createConnectHandler(router, connectOpts), createGrpcWebHandler(router, webOpts)]);
  const handle = (req: HttpRequest, res: Parameters<typeof chain>[1]) => {
    methods.push(`${req.method} ${req.url}`);
    chain(req, res);
  };
  const s1 = http.createServer(handle);
  const s2 = http2.createServer(handle);
  const sessions = new Set<http2.ServerHttp2Session>();
  s2.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  await Promise.all([new Promise<void>((r) => s1.listen(0, "127.0.0.1", r)), new Promise<void>((r) => s2.listen(0, "127.0.0.1", r))]);
  return {
    probe,
    methods,
    h1: `http://127.0.0.1:${(s1.address() as AddressInfo).port}`,
    h2: `http://127.0.0.1:${(s2.address() as AddressInfo).port}`,
    async close() {
      const c1 = new Promise((r) => s1.close(r));
      s1.closeAllConnections();
      const c2 = new Promise((r) => s2.close(r));
      for (const s of sessions) s.destroy();
      await Promise.all([c1, c2]);
    },
  };
}
