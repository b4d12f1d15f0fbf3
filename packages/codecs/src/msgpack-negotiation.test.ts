// The msgpack codec negotiated end to end over real sockets: gRPC (`application/grpc+msgpack`),
// petrel/1 (HEADERS codec field) and Connect (`application/msgpack`, `application/connect+msgpack`);
// and an unknown codec refused on each with an error listing what the server accepts.
import assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { create, type DescMessage } from "@bufbuild/protobuf";
import {
  Code,
  createClient,
  createCodecRegistry,
  createDefaultCodecRegistry,
  createRouter,
  protoJsonCodec,
  RpcError,
  type Codec,
  type Router,
} from "@petrel/core";
import { createConnectHandler, createGrpcServer, createGrpcTransport, createNativeServer, createNativeTransport } from "@petrel/node";
import { EchoRequestSchema, EchoResponseSchema, TestService, createTestServiceImpl } from "@petrel/testing";
import { msgpackCodec } from "./msgpack.js";

/** Counts what passes through the msgpack codec, to prove the call really used it. */
function counting(inner: Codec): Codec & { encoded: number; decoded: number } {
  const c = {
    name: inner.name,
    encoded: 0,
    decoded: 0,
    encode<D extends DescMessage>(schema: D, message: Parameters<Codec["encode"]>[1]) {
      c.encoded++;
      return inner.encode(schema, message as never);
    },
    decode<D extends DescMessage>(schema: D, bytes: Uint8Array) {
      c.decoded++;
      return inner.decode(schema, bytes);
    },
  };
  return c as Codec & { encoded: number; decoded: number };
}

/** A codec the server does not know (JSON under another name). */
const xmlCodec: Codec = { name: "xml", encode: protoJsonCodec.encode, decode: protoJsonCodec.decode };

function serverRouter(codec: Codec): Router {
  // proto, json and msgpack: the list an unknown codec's error must name.
  const codecs = createDefaultCodecRegistry();
  codecs.register(codec);
  return createRouter({ codecs }).service(TestService, createTestServiceImpl());
}

async function rejectsWith(p: Promise<unknown>, code: Code, ...parts: string[]): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    const err = RpcError.from(e);
    assert.equal(err.code, code, err.message);
    for (const s of parts) assert.ok(err.message.includes(s), `${JSON.stringify(err.message)} lacks ${JSON.stringify(s)}`);
    return true;
  });
}

const transports = [
  {
    name: "gRPC",
    start: async (router: Router) => {
      const server = createGrpcServer({ router });
      const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
      return {
        server,
        make: (codecs: Codec[], codec: string) =>
          createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}`, codecs: createCodecRegistry(codecs), defaultCodec: codec }),
      };
    },
  },
  {
    name: "petrel/1",
    start: async (router: Router) => {
      const server = createNativeServer({ router });
      const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
      return {
        server,
        make: (codecs: Codec[], codec: string) =>
          createNativeTransport({ address: `127.0.0.1:${port}`, codecs: createCodecRegistry(codecs), defaultCodec: codec }),
      };
    },
  },
];

for (const t of transports) {
  describe(`msgpack over ${t.name}`, () => {
    const serverCodec = counting(msgpackCodec);
    let started: Awaited<ReturnType<(typeof transports)[number]["start"]>>;
    before(async () => {
      started = await t.start(serverRouter(serverCodec));
    });
    after(async () => {
      await started.server.close({ graceMs: 5000 });
    });

    it("unary and server stream travel as msgpack", async () => {
      const clientCodec = counting(msgpackCodec);
      const transport = started.make([clientCodec], "msgpack");
      try {
        const client = createClient(TestService, transport);
        const before = serverCodec.decoded;
        const res = await client.echo({ text: "héllo", seq: 2n ** 60n, payload: new Uint8Array([0, 1, 255]) });
        assert.equal(res.text, "héllo");
        assert.equal(res.seq, 2n ** 60n);
        assert.deepEqual([...res.payload], [0, 1, 255]);
        const got: number[] = [];
        for await (const m of client.serverStream({ text: "s", count: 3 })) got.push(m.count);
        assert.deepEqual(got, [0, 1, 2]);
        assert.equal(serverCodec.decoded - before, 2, "the server decoded both requests with msgpack");
        assert.ok(clientCodec.decoded >= 4, "the client decoded every response with msgpack");
      } finally {
        await transport.close();
      }
    });

    it("an unknown codec is refused with the list the server accepts", async () => {
      const transport = started.make([xmlCodec], "xml");
      try {
        const client = createClient(TestService, transport);
        await rejectsWith(
          client.echo({ text: "x" }),
          Code.UNIMPLEMENTED,
          'unsupported codec "xml"',
          "this server accepts: proto, json, msgpack",
        );
      } finally {
        await transport.close();
      }
    });
  });
}

describe("msgpack over Connect", () => {
  const serverCodec = counting(msgpackCodec);
  let server: http.Server;
  let base: string;
  before(async () => {
    const handler = createConnectHandler(serverRouter(serverCodec));
    server = http.createServer((req, res) => {
      if (!handler(req, res)) res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  function post(contentType: string, body: Uint8Array) {
    return fetch(`${base}/petrel.testing.v1.TestService/Echo`, {
      method: "POST",
      headers: { "content-type": contentType, "connect-protocol-version": "1" },
      body,
      signal: AbortSignal.timeout(30_000),
    });
  }

  it("unary application/msgpack", async () => {
    const before = serverCodec.decoded;
    const res = await post(
      "application/msgpack",
      msgpackCodec.encode(EchoRequestSchema, create(EchoRequestSchema, { text: "hi", payload: new Uint8Array([9]), seq: -5n })),
    );
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/msgpack");
    const msg = msgpackCodec.decode(EchoResponseSchema, new Uint8Array(await res.arrayBuffer()));
    assert.equal(msg.text, "hi");
    assert.equal(msg.seq, -5n);
    assert.deepEqual([...msg.payload], [9]);
    assert.equal(serverCodec.decoded - before, 1);
  });

  it("an unknown codec gets 415 listing every accepted content type", async () => {
    const res = await post("application/xml", new Uint8Array());
    assert.equal(res.status, 415);
    const err = (await res.json()) as { code: string; message: string };
    assert.match(
      err.message,
      /unsupported content-type "application\/xml", want application\/proto, application\/json, application\/msgpack$/,
    );
  });
});
