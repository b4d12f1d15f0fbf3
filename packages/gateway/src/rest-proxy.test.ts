// The standalone gateway in front of a @grpc/grpc-js server: the backend is grpc-js with a
// hand-written service definition whose serializers are protobuf-es toBinary/fromBinary.
import assert from "node:assert/strict";
import type * as http from "node:http";
import { after, before, describe, test } from "node:test";
import { create, fromBinary, toBinary, toJsonString, type DescMessage, type DescMethod } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { encodeStatusDetails } from "@petrel/core";
import { createGrpcTransport } from "@petrel/node";
import {
  BookEventSchema,
  BookSchema,
  type GetBookRequest,
  LibraryService,
  type ListBooksRequest,
  ListBooksRequestSchema,
  ListBooksResponseSchema,
  MissingResourceSchema,
  type WatchBooksRequest,
} from "./gen/petrel/gateway/testing/v1/library_pb.js";
import { createRestProxy } from "./rest-proxy.js";
import { close, listen, request } from "./test-http.js";

function definition(method: DescMethod): grpc.MethodDefinition<unknown, unknown> {
  const ser = (schema: DescMessage) => (m: unknown) => Buffer.from(toBinary(schema, m as never));
  const de = (schema: DescMessage) => (b: Buffer) => fromBinary(schema, b);
  return {
    path: `/${method.parent.typeName}/${method.name}`,
    requestStream: false,
    responseStream: method.methodKind === "server_streaming",
    requestSerialize: ser(method.input),
    requestDeserialize: de(method.input),
    responseSerialize: ser(method.output),
    responseDeserialize: de(method.output),
  };
}

describe("REST proxy -> @grpc/grpc-js backend", () => {
  let backend: grpc.Server;
  let gateway: http.Server;
  let transport: ReturnType<typeof createGrpcTransport>;

  before(async () => {
    backend = new grpc.Server();
    const m = LibraryService.method;
    backend.addService(
      { GetBook: definition(m.getBook), ListBooks: definition(m.listBooks), WatchBooks: definition(m.watchBooks) },
      {
        GetBook(call: grpc.ServerUnaryCall<GetBookRequest, unknown>, cb: grpc.sendUnaryData<unknown>) {
          const auth = call.metadata.get("authorization")[0];
          call.sendMetadata(new grpc.Metadata());
          if (call.request.name.endsWith("/missing")) {
            const md = new grpc.Metadata();
            const detail = toBinary(MissingResourceSchema, create(MissingResourceSchema, { resourceName: call.request.name }));
            md.set(
              "grpc-status-details-bin",
              Buffer.from(
                encodeStatusDetails(grpc.status.NOT_FOUND, "no such book", [{ typeName: MissingResourceSchema.typeName, value: detail }]),
              ),
            );
            cb({ code: grpc.status.NOT_FOUND, details: "no such book", metadata: md });
            return;
          }
          cb(null, create(BookSchema, { name: call.request.name, title: "From grpc-js", author: String(auth ?? "") }));
        },
        ListBooks(call: grpc.ServerUnaryCall<ListBooksRequest, unknown>, cb: grpc.sendUnaryData<unknown>) {
          cb(null, create(ListBooksResponseSchema, { echo: toJsonString(ListBooksRequestSchema, call.request) }));
        },
        WatchBooks(call: grpc.ServerWritableStream<WatchBooksRequest, unknown>) {
          for (let i = 1; i <= call.request.count; i++) call.write(create(BookEventSchema, { seq: i }));
          if (call.request.failCode > 0) call.emit("error", { code: call.request.failCode, details: "backend stream failed" });
          else call.end();
        },
      },
    );
    const port = await new Promise<number>((resolve, reject) =>
      backend.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` });
    gateway = await listen(createRestProxy({ services: [LibraryService], transport }) as http.RequestListener);
  });

  after(async () => {
    await close(gateway);
    await transport.close();
    await new Promise<void>((resolve) => backend.tryShutdown(() => resolve()));
  });

  test("unary GET, with authorization forwarded as metadata", async () => {
    const r = await request(gateway, "GET", "/v1/shelves/s1/books/b1", { headers: { authorization: "Bearer x" } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json(), { name: "shelves/s1/books/b1", title: "From grpc-js", author: "Bearer x" });
  });

  test("query mapping reaches the backend", async () => {
    const r = await request(gateway, "GET", "/v1/shelves/s9/books?tag=a&tag=b&page.size=3");
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(JSON.parse((r.json() as { echo: string }).echo), { parent: "shelves/s9", page: { size: 3 }, tag: ["a", "b"] });
  });

  test("a backend error with status details becomes 404 + google.rpc.Status JSON", async () => {
    const r = await request(gateway, "GET", "/v1/shelves/s1/books/missing");
    assert.equal(r.status, 404);
    assert.deepEqual(r.json(), {
      code: 5,
      message: "no such book",
      details: [{ "@type": "type.googleapis.com/petrel.gateway.testing.v1.MissingResource", resourceName: "shelves/s1/books/missing" }],
    });
  });

  test("server streaming through the proxy, NDJSON and SSE, with a mid-stream error", async () => {
    const nd = await request(gateway, "GET", "/v1/shelves/s1/books:watch?count=2&failCode=14");
    assert.equal(nd.status, 200);
    const lines = nd.text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.deepEqual(lines, [
      { result: { seq: 1 } },
      { result: { seq: 2 } },
      { error: { code: 14, message: "backend stream failed", details: [] } },
    ]);
    const sse = await request(gateway, "GET", "/v1/shelves/s1/books:watch?count=2", { headers: { accept: "text/event-stream" } });
    assert.equal(sse.text, 'data: {"seq":1}\n\ndata: {"seq":2}\n\n');
  });

  test("methods the backend does not implement: UNIMPLEMENTED -> 501; unknown routes -> 404 JSON", async () => {
    const r = await request(gateway, "DELETE", "/v1/shelves/s1/books/b1");
    assert.equal(r.status, 501);
    assert.equal((r.json() as { code: number }).code, 12);
    const none = await request(gateway, "GET", "/nowhere");
    assert.equal(none.status, 404);
    assert.equal((none.json() as { code: number }).code, 5);
  });
});
