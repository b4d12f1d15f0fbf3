import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { createFileRegistry, create, fromBinary, createRegistry, type DescService, type MessageInitShape } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { AsyncQueue, Code, RpcError, createClient, createInMemoryTransport, createRouter, type Client, type Router } from "@petrel/core";
import { Health, createHealthService } from "@petrel/health";
import { createGrpcServer, createGrpcTransport, type GrpcServer } from "@petrel/node";
import { TestService, createTestServiceImpl, file_petrel_testing_v1_test } from "@petrel/testing";
import {
  COMMON_PROTO,
  EXT_PROTO,
  PKG,
  WIDGET_PROTO,
  WidgetService,
  commonFile,
  extFile,
  widgetFile,
  widgetImpl,
} from "./reflection.fixtures.js";
import {
  ServerReflection,
  ServerReflectionV1alpha,
  createReflectionService,
  type ServerReflectionRequestSchema,
  type ServerReflectionResponse,
} from "./index.js";

type Request = MessageInitShape<typeof ServerReflectionRequestSchema>;

const TIMEOUT_MS = 10_000;

/** Every service the test server registers, as list_services must report them (sorted). */
const ALL_SERVICES = [
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
  `${PKG}.WidgetService`,
  "petrel.testing.v1.TestService",
];

async function withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), TIMEOUT_MS);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Every stream a test opened: cancelled after each test, so a failed assertion cannot leave a call open. */
const open: AbortController[] = [];

/** One ServerReflectionInfo call, driven request by request. */
function openStream(client: Client<typeof ServerReflection>) {
  const ac = new AbortController();
  open.push(ac);
  const requests = new AsyncQueue<Request>();
  const responses = client.serverReflectionInfo(requests, { signal: ac.signal })[Symbol.asyncIterator]();
  return {
    /** Sends one request and reads its response. */
    async ask(req: Request, opts: { end?: boolean } = {}): Promise<ServerReflectionResponse> {
      requests.push(req);
      if (opts.end === true) requests.end();
      const r = await withTimeout(responses.next(), "a reflection response");
      assert.equal(r.done, false, "the stream ended early");
      return r.value;
    },
    /** Half-closes and expects the server to end the call OK. */
    async end(): Promise<void> {
      requests.end();
      const r = await withTimeout(responses.next(), "the end of the stream");
      assert.equal(r.done, true);
    },
  };
}

/** The FileDescriptorProtos of a file_descriptor_response, decoded. */
function files(res: ServerReflectionResponse): FileDescriptorProto[] {
  assert.equal(res.messageResponse.case, "fileDescriptorResponse", `expected files, got ${JSON.stringify(res.messageResponse)}`);
  return res.messageResponse.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b));
}

const names = (res: ServerReflectionResponse): string[] => files(res).map((f) => f.name);

/**
 * A FileDescriptorSet with every file after its imports, as createFileRegistry needs (reflection
 * sends a file before its imports, like grpc-go).
 */
function toFileSet(protos: FileDescriptorProto[]) {
  const byName = new Map(protos.map((f) => [f.name, f]));
  const ordered: FileDescriptorProto[] = [];
  const visit = (f: FileDescriptorProto): void => {
    if (!byName.delete(f.name)) return;
    for (const dep of f.dependency) {
      const d = byName.get(dep);
      if (d !== undefined) visit(d);
    }
    ordered.push(f);
  };
  for (const f of protos) visit(f);
  return create(FileDescriptorSetSchema, { file: ordered });
}

function expectNotFound(res: ServerReflectionResponse, includes: string): void {
  assert.equal(res.messageResponse.case, "errorResponse", `expected an error, got ${res.messageResponse.case}`);
  assert.equal(res.messageResponse.value.errorCode, Code.NOT_FOUND);
  assert.ok(res.messageResponse.value.errorMessage.includes(includes), res.messageResponse.value.errorMessage);
}

function testRouter(): Router {
  return createRouter()
    .service(TestService, createTestServiceImpl())
    .service(Health, createHealthService().impl)
    .service(WidgetService, widgetImpl);
}

describe("createReflectionService (options)", () => {
  it("needs at least one source", () => {
    assert.throws(() => createReflectionService({}), /give a router, services, files or a registry/);
    assert.throws(() => createReflectionService(undefined as never), TypeError);
  });

  it("rejects sources of the wrong kind with a clear error", () => {
    assert.throws(() => createReflectionService({ router: {} as never }), /router must be a Petrel router/);
    assert.throws(() => createReflectionService({ services: [widgetFile as never] }), /services must be an array/);
    assert.throws(() => createReflectionService({ files: [WidgetService as never] }), /files must be an array/);
    assert.throws(() => createReflectionService({ files: widgetFile as never }), /files must be an array/);
    assert.throws(() => createReflectionService({ registry: widgetFile as never }), /registry must be a protobuf-es Registry/);
  });
});

/** The full protocol, against a real Petrel gRPC server, for one protocol version. */
for (const version of ["v1", "v1alpha"] as const) {
  describe(`reflection ${version} over gRPC (HTTP/2 sockets)`, () => {
    let server: GrpcServer;
    let transport: ReturnType<typeof createGrpcTransport>;
    let client: Client<typeof ServerReflection>;
    const service: DescService = version === "v1" ? ServerReflection : ServerReflectionV1alpha;

    before(async () => {
      const router = testRouter();
      // The router is the source (read per request); ext.proto is reachable only through `files`.
      createReflectionService({ router, files: [extFile] }).register(router);
      server = createGrpcServer({ router });
      const { host, port } = await server.listen({ port: 0, host: "127.0.0.1" });
      transport = createGrpcTransport({ baseUrl: `http://${host}:${port}` });
      // Both versions have the same shape; only the type names differ (checked below).
      client = createClient(service, transport) as unknown as Client<typeof ServerReflection>;
    });

    afterEach(() => {
      for (const ac of open.splice(0)) ac.abort();
    });

    after(async () => {
      await transport?.close();
      await server?.close({ graceMs: 1_000 });
    });

    it("list_services: every registered service, sorted; echoes host and the request", async () => {
      const s = openStream(client);
      const res = await s.ask({ host: "example.test", messageRequest: { case: "listServices", value: "*" } });
      assert.equal(res.$typeName, `grpc.reflection.${version}.ServerReflectionResponse`);
      assert.equal(res.validHost, "example.test");
      assert.equal(res.originalRequest?.host, "example.test");
      assert.deepEqual(res.originalRequest?.messageRequest, { case: "listServices", value: "*" });
      assert.equal(res.messageResponse.case, "listServicesResponse");
      assert.deepEqual(
        res.messageResponse.value.service.map((x) => x.name),
        ALL_SERVICES,
      );
      await s.end();
    });

    it("file_containing_symbol: services, methods, messages, nested types, fields, oneofs, enums, enum values, extensions", async () => {
      const s = openStream(client);
      const cases: [string, string][] = [
        ["petrel.testing.v1.TestService", "petrel/testing/v1/test.proto"],
        ["petrel.testing.v1.TestService.Bidi", "petrel/testing/v1/test.proto"],
        ["petrel.testing.v1.EchoRequest", "petrel/testing/v1/test.proto"],
        ["grpc.health.v1.HealthCheckResponse.ServingStatus", "grpc/health/v1/health.proto"],
        ["grpc.health.v1.HealthCheckResponse.SERVICE_UNKNOWN", "grpc/health/v1/health.proto"],
        [`grpc.reflection.${version}.ServerReflection`, `grpc/reflection/${version}/reflection.proto`],
        [`${PKG}.WidgetService.Ping`, WIDGET_PROTO],
        [`${PKG}.Widget.Part`, WIDGET_PROTO],
        [`${PKG}.Widget.Part.Shape`, WIDGET_PROTO],
        [`${PKG}.Widget.Part.SHAPE_ROUND`, WIDGET_PROTO],
        [`${PKG}.Widget.parts`, WIDGET_PROTO],
        [`${PKG}.Widget.choice`, WIDGET_PROTO],
        [`${PKG}.KIND_A`, WIDGET_PROTO],
        [`${PKG}.Base`, COMMON_PROTO],
        [`${PKG}.LEVEL_LOW`, COMMON_PROTO],
        [`${PKG}.note`, EXT_PROTO],
        [`${PKG}.Holder.weight`, EXT_PROTO],
        ["google.protobuf.Timestamp", "google/protobuf/timestamp.proto"],
      ];
      for (const [symbol, file] of cases) {
        const res = await s.ask({ messageRequest: { case: "fileContainingSymbol", value: symbol } });
        assert.equal(names(res)[0], file, symbol);
      }
      // Names that are not declared: the package alone, a misspelling, a leading dot, enum values under their enum.
      for (const symbol of [PKG, `${PKG}.Widgets`, `.${PKG}.Widget`, `${PKG}.Kind.KIND_A`, ""]) {
        expectNotFound(await s.ask({ messageRequest: { case: "fileContainingSymbol", value: symbol } }), "symbol not found");
      }
      await s.end();
    });

    it("sends the file with its transitive imports, each import at most once per stream", async () => {
      const s = openStream(client);
      const first = files(await s.ask({ messageRequest: { case: "fileContainingSymbol", value: `${PKG}.WidgetService` } }));
      // Breadth-first, like grpc-go: the file, its imports, then theirs.
      assert.deepEqual(
        first.map((f) => f.name),
        [WIDGET_PROTO, COMMON_PROTO, "google/protobuf/empty.proto", "google/protobuf/timestamp.proto"],
      );
      assert.deepEqual(first[0].dependency, [COMMON_PROTO, "google/protobuf/empty.proto"]);
      assert.deepEqual(first[1].dependency, ["google/protobuf/timestamp.proto"]);
      assert.deepEqual(
        first[0].service[0].method.map((m) => m.name),
        ["GetWidget", "Ping"],
      );
      // Already sent on this stream: only the requested file itself (always sent).
      assert.deepEqual(names(await s.ask({ messageRequest: { case: "fileByFilename", value: COMMON_PROTO } })), [COMMON_PROTO]);
      assert.deepEqual(names(await s.ask({ messageRequest: { case: "fileByFilename", value: WIDGET_PROTO } })), [WIDGET_PROTO]);
      // ext.proto is new, its import common.proto is not.
      assert.deepEqual(names(await s.ask({ messageRequest: { case: "fileContainingSymbol", value: `${PKG}.note` } })), [EXT_PROTO]);
      await s.end();

      // A new stream starts afresh.
      const s2 = openStream(client);
      assert.deepEqual(names(await s2.ask({ messageRequest: { case: "fileByFilename", value: EXT_PROTO } })), [
        EXT_PROTO,
        COMMON_PROTO,
        "google/protobuf/timestamp.proto",
      ]);
      await s2.end();
    });

    it("the returned files rebuild a registry in which the services and their types resolve", async () => {
      const s = openStream(client);
      const got: FileDescriptorProto[] = [];
      for (const symbol of [`${PKG}.WidgetService`, "petrel.testing.v1.TestService", `grpc.reflection.${version}.ServerReflection`]) {
        got.push(...files(await s.ask({ messageRequest: { case: "fileContainingSymbol", value: symbol } })));
      }
      await s.end();
      const registry = createFileRegistry(toFileSet(got));
      const widget = registry.getService(`${PKG}.WidgetService`);
      assert.ok(widget, "WidgetService resolves");
      assert.deepEqual(
        widget.methods.map((m) => [m.name, m.input.typeName, m.output.typeName]),
        [
          ["GetWidget", `${PKG}.GetWidgetRequest`, `${PKG}.Widget`],
          ["Ping", "google.protobuf.Empty", "google.protobuf.Empty"],
        ],
      );
      assert.equal(registry.getMessage(`${PKG}.Widget`)?.field.base.message?.field.at.message?.typeName, "google.protobuf.Timestamp");
      const test = registry.getService("petrel.testing.v1.TestService");
      assert.deepEqual(
        test?.methods.map((m) => [m.name, m.methodKind]),
        TestService.methods.map((m) => [m.name, m.methodKind]),
      );
      assert.equal(registry.getService(`grpc.reflection.${version}.ServerReflection`)?.methods[0].methodKind, "bidi_streaming");
      // What came back is what the server has: the test proto round-trips byte for byte.
      const testFile = got.find((f) => f.name === "petrel/testing/v1/test.proto");
      assert.deepEqual(testFile, file_petrel_testing_v1_test.proto);
    });

    it("file_by_filename: unknown files answer NOT_FOUND and the stream goes on", async () => {
      const s = openStream(client);
      expectNotFound(await s.ask({ messageRequest: { case: "fileByFilename", value: "no/such.proto" } }), "no/such.proto");
      expectNotFound(await s.ask({ messageRequest: { case: "fileByFilename", value: "petrel/reflect/v1/widget" } }), "file not found");
      assert.deepEqual(names(await s.ask({ messageRequest: { case: "fileByFilename", value: "grpc/health/v1/health.proto" } })), [
        "grpc/health/v1/health.proto",
      ]);
      await s.end();
    });

    it("file_containing_extension and all_extension_numbers_of_type", async () => {
      const s = openStream(client);
      const ext = (containingType: string, extensionNumber: number) =>
        s.ask({ messageRequest: { case: "fileContainingExtension", value: { containingType, extensionNumber } } });
      assert.deepEqual(names(await ext(`${PKG}.Base`, 100)), [EXT_PROTO, COMMON_PROTO, "google/protobuf/timestamp.proto"]);
      assert.deepEqual(names(await ext(`${PKG}.Base`, 101)), [EXT_PROTO]);
      expectNotFound(await ext(`${PKG}.Base`, 150), "extension not found");
      expectNotFound(await ext(`${PKG}.Nope`, 100), "extension not found");

      const numbers = async (type: string) => {
        const res = await s.ask({ messageRequest: { case: "allExtensionNumbersOfType", value: type } });
        assert.equal(res.messageResponse.case, "allExtensionNumbersResponse", JSON.stringify(res.messageResponse));
        assert.equal(res.messageResponse.value.baseTypeName, type);
        return res.messageResponse.value.extensionNumber;
      };
      assert.deepEqual(await numbers(`${PKG}.Base`), [100, 101]);
      assert.deepEqual(await numbers(`${PKG}.Widget`), []);
      assert.deepEqual(await numbers("google.protobuf.Timestamp"), []);
      for (const type of [`${PKG}.Nope`, `${PKG}.WidgetService`, `${PKG}.Kind`]) {
        expectNotFound(await s.ask({ messageRequest: { case: "allExtensionNumbersOfType", value: type } }), "message type not found");
      }
      await s.end();
    });

    it("a request without message_request fails the stream with INVALID_ARGUMENT", async () => {
      const s = openStream(client);
      assert.equal((await s.ask({ messageRequest: { case: "listServices", value: "" } })).messageResponse.case, "listServicesResponse");
      // The request stream is ended too: Petrel's gRPC client reports the server's status only once
      // its own side is closed (the @grpc/grpc-js test shows the server fails the call at once).
      await assert.rejects(s.ask({ host: "h" }, { end: true }), (e: unknown) => {
        assert.ok(e instanceof RpcError, String(e));
        assert.equal(e.code, Code.INVALID_ARGUMENT);
        assert.match(e.message, /no message_request/);
        return true;
      });
    });

    it("answers many requests in order on one stream", async () => {
      const s = openStream(client);
      const symbols = ALL_SERVICES.flatMap((x) => [x, `${x}.Nope`]);
      for (let i = 0; i < 3; i++) {
        for (const symbol of symbols) {
          const res = await s.ask({ host: `h${i}`, messageRequest: { case: "fileContainingSymbol", value: symbol } });
          assert.equal(res.validHost, `h${i}`);
          assert.equal(res.originalRequest?.messageRequest.value, symbol);
          assert.equal(res.messageResponse.case, symbol.endsWith(".Nope") ? "errorResponse" : "fileDescriptorResponse");
        }
      }
      await s.end();
    });
  });
}

describe("reflection sources", () => {
  const listed = async (reflection: ReturnType<typeof createReflectionService>, router = createRouter()): Promise<string[]> => {
    const client = createClient(ServerReflection, createInMemoryTransport(reflection.register(router)));
    const s = openStream(client);
    const res = await s.ask({ messageRequest: { case: "listServices", value: "" } });
    await s.end();
    assert.equal(res.messageResponse.case, "listServicesResponse");
    return res.messageResponse.value.service.map((x) => x.name);
  };

  afterEach(() => {
    for (const ac of open.splice(0)) ac.abort();
  });

  it("a router source sees services registered later", async () => {
    const router = createRouter();
    const reflection = createReflectionService({ router });
    reflection.register(router);
    const client = createClient(ServerReflection, createInMemoryTransport(router));
    const s = openStream(client);
    const before = await s.ask({ messageRequest: { case: "listServices", value: "" } });
    assert.deepEqual(before.messageResponse.case === "listServicesResponse" && before.messageResponse.value.service.length, 2);
    expectNotFound(await s.ask({ messageRequest: { case: "fileContainingSymbol", value: `${PKG}.Widget` } }), "symbol not found");
    router.service(WidgetService, widgetImpl);
    const after = await s.ask({ messageRequest: { case: "listServices", value: "" } });
    assert.ok(after.messageResponse.case === "listServicesResponse");
    assert.ok(after.messageResponse.value.service.some((x) => x.name === `${PKG}.WidgetService`));
    assert.equal(names(await s.ask({ messageRequest: { case: "fileContainingSymbol", value: `${PKG}.Widget` } }))[0], WIDGET_PROTO);
    await s.end();
  });

  it("explicit services are listed; files and registries only add what can be looked up", async () => {
    assert.deepEqual(await listed(createReflectionService({ services: [WidgetService], files: [file_petrel_testing_v1_test] })), [
      `${PKG}.WidgetService`,
    ]);
  });

  it("without a router or services, the services declared in files and the registry are listed", async () => {
    assert.deepEqual(await listed(createReflectionService({ files: [widgetFile] })), [`${PKG}.WidgetService`]);
    assert.deepEqual(await listed(createReflectionService({ registry: createRegistry(file_petrel_testing_v1_test, commonFile) })), [
      "petrel.testing.v1.TestService",
    ]);
  });

  it("a registry's files can be looked up, imports included", async () => {
    const reflection = createReflectionService({ registry: createRegistry(extFile) });
    const client = createClient(ServerReflection, createInMemoryTransport(reflection.register(createRouter())));
    const s = openStream(client);
    assert.deepEqual(names(await s.ask({ messageRequest: { case: "fileContainingSymbol", value: `${PKG}.Holder.weight` } })), [
      EXT_PROTO,
      COMMON_PROTO,
      "google/protobuf/timestamp.proto",
    ]);
    await s.end();
  });
});
