// Reflection served by Petrel, read by non-Petrel clients: @grpc/grpc-js (with @grpc/proto-loader)
// and Python grpcio (test-peers/reflection_client.py).
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { after, before, describe, it, type TestContext } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { createRouter } from "@petrel/core";
import { Health, createHealthService } from "@petrel/health";
import { createGrpcServer, type GrpcServer } from "@petrel/node";
import { TestService, createTestServiceImpl } from "@petrel/testing";
import { createReflectionService } from "./index.js";
import { COMMON_PROTO, PKG, WIDGET_PROTO, WidgetService, widgetImpl } from "./reflection.fixtures.js";

const VERSIONS = ["v1", "v1alpha"] as const;
const protoDir = (version: string) => fileURLToPath(new URL(`../proto/grpc/reflection/${version}`, import.meta.url));
const PY_CLIENT = fileURLToPath(new URL("../test-peers/reflection_client.py", import.meta.url));
const PYTHON = "/usr/bin/python3";
const TEST_SERVICE = "petrel.testing.v1.TestService";
const EXPECTED_SERVICES = [
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
  `${PKG}.WidgetService`,
  TEST_SERVICE,
];

let server: GrpcServer;
let target = "";

before(async () => {
  const router = createRouter()
    .service(TestService, createTestServiceImpl())
    .service(Health, createHealthService().impl)
    .service(WidgetService, widgetImpl);
  createReflectionService({ router }).register(router);
  server = createGrpcServer({ router });
  const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
  target = `127.0.0.1:${port}`;
});

after(async () => {
  await server?.close({ graceMs: 1_000 });
});

// ---------------------------------------------------------------------------------------------
// @grpc/grpc-js

/** A ServerReflectionResponse as @grpc/proto-loader decodes it (keepCase, oneofs). */
interface GrpcJsResponse {
  valid_host: string;
  original_request: { host: string; message_request: string };
  message_response: "file_descriptor_response" | "all_extension_numbers_response" | "list_services_response" | "error_response";
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  list_services_response?: { service: { name: string }[] };
  error_response?: { error_code: number; error_message: string };
}

/** Sends `requests` on one ServerReflectionInfo call; resolves with the responses and the final status. */
function grpcJsExchange(
  client: grpc.Client,
  requests: object[],
  opts: { keepOpen?: boolean } = {},
): Promise<{ responses: GrpcJsResponse[]; status: grpc.StatusObject }> {
  const call = (client as unknown as { ServerReflectionInfo(): grpc.ClientDuplexStream<object, GrpcJsResponse> }).ServerReflectionInfo();
  const responses: GrpcJsResponse[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      call.cancel();
      reject(new Error("timed out waiting for the reflection call to end"));
    }, 10_000);
    call.on("data", (m: GrpcJsResponse) => responses.push(m));
    call.on("error", () => undefined); // a non-OK status also arrives as "status"
    call.on("status", (status: grpc.StatusObject) => {
      clearTimeout(timer);
      if (opts.keepOpen) call.end();
      resolve({ responses, status });
    });
    for (const r of requests) call.write(r);
    if (!opts.keepOpen) call.end();
  });
}

for (const version of VERSIONS) {
  describe(`reflection ${version}: @grpc/grpc-js client -> Petrel gRPC server`, () => {
    let client: grpc.Client;

    before(() => {
      const def = protoLoader.loadSync(`${protoDir(version)}/reflection.proto`, { keepCase: true, defaults: true, oneofs: true });
      const pkg = grpc.loadPackageDefinition(def) as unknown as {
        grpc: { reflection: Record<string, { ServerReflection: grpc.ServiceClientConstructor }> };
      };
      client = new pkg.grpc.reflection[version].ServerReflection(target, grpc.credentials.createInsecure());
    });

    after(() => client?.close());

    it("list_services, file_containing_symbol and an unknown symbol on one stream", async () => {
      const { responses, status } = await grpcJsExchange(client, [
        { host: "js-host", list_services: "" },
        { host: "js-host", file_containing_symbol: TEST_SERVICE },
        { host: "js-host", file_containing_symbol: `${PKG}.Widget.Part` },
        { host: "js-host", file_containing_symbol: "no.such.Symbol" },
      ]);
      assert.equal(status.code, grpc.status.OK, status.details);
      assert.equal(responses.length, 4);
      assert.deepEqual(
        responses.map((r) => [r.valid_host, r.original_request.message_request]),
        [
          ["js-host", "list_services"],
          ["js-host", "file_containing_symbol"],
          ["js-host", "file_containing_symbol"],
          ["js-host", "file_containing_symbol"],
        ],
      );
      assert.equal(responses[0].message_response, "list_services_response");
      assert.deepEqual(
        responses[0].list_services_response?.service.map((s) => s.name),
        EXPECTED_SERVICES,
      );

      assert.equal(responses[1].message_response, "file_descriptor_response");
      const [testFile] = responses[1].file_descriptor_response!.file_descriptor_proto.map((b) => fromBinary(FileDescriptorProtoSchema, b));
      assert.equal(testFile.name, "petrel/testing/v1/test.proto");
      assert.equal(testFile.package, "petrel.testing.v1");
      assert.deepEqual(
        testFile.service[0].method.map((m) => [m.name, m.inputType, m.clientStreaming, m.serverStreaming]),
        TestService.methods.map((m) => [
          m.name,
          `.${m.input.typeName}`,
          m.methodKind === "client_streaming" || m.methodKind === "bidi_streaming",
          m.methodKind === "server_streaming" || m.methodKind === "bidi_streaming",
        ]),
      );

      const widget = responses[2].file_descriptor_response!.file_descriptor_proto.map((b) => fromBinary(FileDescriptorProtoSchema, b).name);
      assert.deepEqual(widget, [WIDGET_PROTO, COMMON_PROTO, "google/protobuf/empty.proto", "google/protobuf/timestamp.proto"]);

      assert.equal(responses[3].message_response, "error_response");
      assert.equal(responses[3].error_response?.error_code, grpc.status.NOT_FOUND);
    });

    it("a request without message_request fails the call with INVALID_ARGUMENT while the client's side is open", async () => {
      const { responses, status } = await grpcJsExchange(client, [{ list_services: "" }, { host: "h" }], { keepOpen: true });
      assert.equal(responses.length, 1);
      assert.equal(status.code, grpc.status.INVALID_ARGUMENT);
      assert.match(status.details, /no message_request/);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Python grpcio

/** Why the Python peer cannot run here, or undefined when it can. */
function pythonPeerMissing(): string | undefined {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  for (const tool of ["/usr/bin/protoc", "/usr/bin/grpc_python_plugin"]) {
    if (!existsSync(tool)) return `${tool} not found (apt-get install protobuf-compiler-grpc)`;
  }
  try {
    execFileSync(PYTHON, ["-c", "import grpc, google.protobuf"], { stdio: "pipe", timeout: 30_000 });
  } catch {
    return "python3-grpcio / python3-protobuf are not installed";
  }
  return undefined;
}

function skipOrFail(t: TestContext, why: string): void {
  if (process.env.CI) assert.fail(`Python reflection peer missing: ${why}`);
  console.warn(
    `\n!!! SKIPPING the Python grpcio reflection test: ${why}. Install python3-grpcio python3-protobuf protobuf-compiler-grpc.\n`,
  );
  t.skip(why);
}

interface PyResult {
  version: string;
  hosts: string[];
  services: string[];
  symbols: Record<string, { files: string[]; file: string; methods: [string, string, string][] }>;
  unknown: { error_code: number; error_message: string };
}

function runPython(version: string, symbols: string[]): Promise<PyResult> {
  return new Promise((resolve, reject) => {
    execFile(
      PYTHON,
      [PY_CLIENT, target, version, protoDir(version), ...symbols],
      { timeout: 60_000, env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" } },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`reflection_client.py failed: ${err.message}\n${stderr}`));
        try {
          resolve(JSON.parse(stdout) as PyResult);
        } catch {
          reject(new Error(`reflection_client.py printed no JSON:\n${stdout}\n${stderr}`));
        }
      },
    );
  });
}

describe("reflection: Python grpcio client -> Petrel gRPC server", () => {
  const missing = pythonPeerMissing();

  for (const version of VERSIONS) {
    it(`${version}: lists services, fetches files, builds them in a descriptor pool`, async (t) => {
      if (missing !== undefined) return skipOrFail(t, missing);
      const r = await runPython(version, [TEST_SERVICE, `${PKG}.WidgetService`]);
      assert.equal(r.version, version);
      assert.deepEqual(r.services, EXPECTED_SERVICES);
      assert.ok(
        r.hosts.every((h) => h === "py-host"),
        JSON.stringify(r.hosts),
      );
      const test = r.symbols[TEST_SERVICE];
      assert.equal(test.file, "petrel/testing/v1/test.proto");
      assert.deepEqual(
        test.methods,
        TestService.methods.map((m) => [m.name, m.input.typeName, m.output.typeName]),
      );
      const widget = r.symbols[`${PKG}.WidgetService`];
      assert.deepEqual(widget.files, [WIDGET_PROTO, COMMON_PROTO, "google/protobuf/empty.proto", "google/protobuf/timestamp.proto"]);
      assert.deepEqual(widget.methods, [
        ["GetWidget", `${PKG}.GetWidgetRequest`, `${PKG}.Widget`],
        ["Ping", "google.protobuf.Empty", "google.protobuf.Empty"],
      ]);
      assert.equal(r.unknown.error_code, 5); // NOT_FOUND
      assert.match(r.unknown.error_message, /no\.such\.Symbol/);
    });
  }
});
