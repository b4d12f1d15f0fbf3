// Codec negotiation end to end, over real sockets, for every protocol that carries a codec: gRPC
// (`application/grpc+<name>`), petrel/1 (HEADERS codec + SETTINGS codec list), both on the
// one-port server too, Connect (connect-node for proto/json, by hand for msgpack/avro) and
// gRPC-Web (by hand, and connect-node for proto/json). Each codec (proto, json, msgpack, avro)
// carries a unary and a server-streaming call whose messages come back equal, and the server's
// counting codec of that name (and no other) did the work. An unknown codec is refused with the
// list the server accepts.
import assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { create, equals } from "@bufbuild/protobuf";
import { createClient as createConnectClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { Code, createClient, createCodecRegistry, RpcError, type Transport } from "@petrel/core";
import {
  createConnectHandler,
  createGrpcServer,
  createGrpcTransport,
  createGrpcWebHandler,
  createNativeServer,
  createNativeTransport,
  createPetrelServer,
  type HttpHandler,
} from "@petrel/node";
import { EchoRequestSchema, EchoResponseSchema, StreamRequestSchema, TestService } from "@petrel/testing";
import {
  CODEC_NAMES,
  type CodecName,
  codecSet,
  connectStreamRaw,
  connectUnaryRaw,
  grpcWebRaw,
  type ServerSide,
  serverSide,
  xmlCodec,
} from "./negotiation-fixture.js";

const ECHO = "/petrel.testing.v1.TestService/Echo";
const STREAM = "/petrel.testing.v1.TestService/ServerStream";
const ACCEPTS = "proto, json, msgpack, avro";

const echoRequest = (codec: string) => ({ text: `héllo ${codec}`, payload: new Uint8Array([0, 1, 255]), seq: -(2n ** 60n) });
const expectedEcho = (codec: string) => create(EchoResponseSchema, { ...echoRequest(codec), deadlineMs: -1n });
const streamRequest = (codec: string) => ({ text: `s-${codec}`, count: 3, payload: new Uint8Array([7, 8]) });
const expectedStream = (codec: string) =>
  [0, 1, 2].map((count) => create(EchoResponseSchema, { text: `s-${codec}`, count, payload: new Uint8Array([7, 8]) }));

function assertMessages(got: unknown[], want: ReturnType<typeof expectedEcho>[]): void {
  assert.equal(got.length, want.length, "message count");
  for (let i = 0; i < want.length; i++) {
    assert.ok(
      equals(EchoResponseSchema, got[i] as (typeof want)[number], want[i] as (typeof want)[number]),
      `message ${i} differs: ${String(got[i])}`,
    );
  }
}

/** Snapshot of a server's codec counters; `delta()` says what each codec did since. */
function counters(side: ServerSide) {
  const at = Object.fromEntries(CODEC_NAMES.map((n) => [n, { d: side.codecs[n].decoded, e: side.codecs[n].encoded }]));
  return {
    delta: () =>
      Object.fromEntries(
        CODEC_NAMES.map((n) => [n, { decoded: side.codecs[n].decoded - at[n].d, encoded: side.codecs[n].encoded - at[n].e }]),
      ),
  };
}

/** Asserts the server decoded `requests` and encoded `responses` messages with `codec`, and nothing with the others. */
function assertServerUsed(
  delta: ReturnType<ReturnType<typeof counters>["delta"]>,
  codec: CodecName,
  requests: number,
  responses: number,
): void {
  for (const n of CODEC_NAMES) {
    const want = n === codec ? { decoded: requests, encoded: responses } : { decoded: 0, encoded: 0 };
    assert.deepEqual(delta[n], want, `server codec ${n}`);
  }
}

async function rejectsWith(p: Promise<unknown>, code: Code, ...parts: string[]): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    const err = RpcError.from(e);
    assert.equal(err.code, code, err.message);
    for (const s of parts) assert.ok(err.message.includes(s), `${JSON.stringify(err.message)} lacks ${JSON.stringify(s)}`);
    return true;
  });
}

async function listenHttp(handler: HttpHandler): Promise<{ server: http.Server; base: string }> {
  const server = http.createServer((req, res) => {
    if (!handler(req, res)) res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function closeHttp(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
}

/** Petrel's client transports can be closed. */
type ClosableTransport = Transport & { close(): Promise<void> };

/** Protocols driven by Petrel's own client: one server each, a transport made per test. */
interface PetrelProtocol {
  name: string;
  start(
    side: ServerSide,
  ): Promise<{ close(): Promise<void>; transport(codecs: ReturnType<typeof createCodecRegistry>): ClosableTransport }>;
}

const petrelProtocols: PetrelProtocol[] = [
  {
    name: "gRPC",
    async start(side) {
      const server = createGrpcServer({ router: side.router });
      const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
      return {
        close: () => server.close({ graceMs: 5000 }),
        transport: (codecs) => createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}`, codecs }),
      };
    },
  },
  {
    name: "petrel/1",
    async start(side) {
      const server = createNativeServer({ router: side.router });
      const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
      return {
        close: () => server.close({ graceMs: 5000 }),
        transport: (codecs) => createNativeTransport({ address: `127.0.0.1:${port}`, codecs }),
      };
    },
  },
  ...(["gRPC", "petrel/1"] as const).map(
    (inner): PetrelProtocol => ({
      name: `one-port ${inner}`,
      async start(side) {
        const server = createPetrelServer({ router: side.router });
        const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
        return {
          close: () => server.close({ graceMs: 5000 }),
          transport: (codecs) =>
            inner === "gRPC"
              ? createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}`, codecs })
              : createNativeTransport({ address: `127.0.0.1:${port}`, codecs }),
        };
      },
    }),
  ),
];

for (const p of petrelProtocols) {
  describe(`codec negotiation over ${p.name}`, () => {
    const side = serverSide();
    let started: Awaited<ReturnType<PetrelProtocol["start"]>>;
    let transport: ClosableTransport;
    let clientCodecs: ReturnType<typeof codecSet>;
    before(async () => {
      started = await p.start(side);
      clientCodecs = codecSet();
      // The client also knows "xml", so an xml call reaches the server.
      transport = started.transport(createCodecRegistry([...CODEC_NAMES.map((n) => clientCodecs.byName[n]), xmlCodec]));
    });
    after(async () => {
      await transport?.close();
      await started?.close();
    });

    for (const codec of CODEC_NAMES) {
      it(`${codec}: unary and server stream round-trip, handled by the server's ${codec} codec`, async () => {
        const client = createClient(TestService, transport);
        const c = counters(side);
        const clientDecoded = clientCodecs.byName[codec].decoded;
        const res = await client.echo(echoRequest(codec), { codec });
        assertMessages([res], [expectedEcho(codec)]);
        const got = [];
        for await (const m of client.serverStream(streamRequest(codec), { codec })) got.push(m);
        assertMessages(got, expectedStream(codec));
        assertServerUsed(c.delta(), codec, 2, 4);
        assert.equal(clientCodecs.byName[codec].decoded - clientDecoded, 4, "the client decoded every response with the same codec");
      });
    }

    it("an unknown codec is refused (UNIMPLEMENTED) with the list the server accepts, unary and streaming", async () => {
      const client = createClient(TestService, transport);
      await rejectsWith(
        client.echo({ text: "x" }, { codec: "xml" }),
        Code.UNIMPLEMENTED,
        'unsupported codec "xml"',
        `this server accepts: ${ACCEPTS}`,
      );
      await rejectsWith(
        (async () => {
          for await (const _ of client.serverStream({ text: "x", count: 1 }, { codec: "xml" })) {
            // never reached
          }
        })(),
        Code.UNIMPLEMENTED,
        'unsupported codec "xml"',
        `this server accepts: ${ACCEPTS}`,
      );
      // The connection survives the refusal.
      assertMessages([await client.echo(echoRequest("proto"))], [expectedEcho("proto")]);
    });
  });
}

describe("codec negotiation over Connect", () => {
  const side = serverSide();
  const raw = codecSet().byName;
  let server: http.Server;
  let base: string;
  before(async () => {
    ({ server, base } = await listenHttp(createConnectHandler(side.router)));
  });
  after(() => closeHttp(server));

  for (const codec of ["proto", "json"] as const) {
    it(`connect-node ${codec}: unary and server stream, handled by the server's ${codec} codec`, async () => {
      const transport = createConnectTransport({ baseUrl: base, httpVersion: "1.1", useBinaryFormat: codec === "proto" });
      const client = createConnectClient(TestService, transport);
      const c = counters(side);
      assertMessages([await client.echo(echoRequest(codec))], [expectedEcho(codec)]);
      const got = [];
      for await (const m of client.serverStream(streamRequest(codec))) got.push(m);
      assertMessages(got, expectedStream(codec));
      assertServerUsed(c.delta(), codec, 2, 4);
    });
  }

  for (const codec of CODEC_NAMES) {
    it(`by hand ${codec}: application/${codec} and application/connect+${codec}`, async () => {
      const c = counters(side);
      const u = await connectUnaryRaw(
        base,
        ECHO,
        raw[codec],
        "identity",
        EchoRequestSchema,
        EchoResponseSchema,
        create(EchoRequestSchema, echoRequest(codec)),
      );
      assert.equal(u.res.status, 200, u.res.body.toString());
      assert.equal(u.res.headers["content-type"], `application/${codec}`);
      assertMessages([u.message], [expectedEcho(codec)]);
      const s = await connectStreamRaw(
        base,
        STREAM,
        raw[codec],
        "identity",
        StreamRequestSchema,
        EchoResponseSchema,
        create(StreamRequestSchema, streamRequest(codec)),
      );
      assert.equal(s.res.status, 200, s.res.body.toString());
      assert.equal(s.res.headers["content-type"], `application/connect+${codec}`);
      assertMessages(s.messages, expectedStream(codec));
      assert.deepEqual(s.end, {}, "end-stream without error");
      assertServerUsed(c.delta(), codec, 2, 4);
    });
  }

  it("an unknown codec gets HTTP 415 (code unknown) listing every accepted content type, unary and streaming", async () => {
    const u = await connectUnaryRaw(
      base,
      ECHO,
      xmlCodec,
      "identity",
      EchoRequestSchema,
      EchoResponseSchema,
      create(EchoRequestSchema, { text: "x" }),
    );
    assert.equal(u.res.status, 415);
    const ue = JSON.parse(u.res.body.toString()) as { code: string; message: string };
    assert.equal(ue.code, "unknown");
    assert.match(
      ue.message,
      /unsupported content-type "application\/xml", want application\/proto, application\/json, application\/msgpack, application\/avro$/,
    );
    const s = await connectStreamRaw(
      base,
      STREAM,
      xmlCodec,
      "identity",
      StreamRequestSchema,
      EchoResponseSchema,
      create(StreamRequestSchema, { text: "x" }),
    );
    assert.equal(s.res.status, 415);
    const se = JSON.parse(s.res.body.toString()) as { code: string; message: string };
    assert.equal(se.code, "unknown");
    assert.match(
      se.message,
      /want application\/connect\+proto, application\/connect\+json, application\/connect\+msgpack, application\/connect\+avro$/,
    );
  });
});

describe("codec negotiation over gRPC-Web", () => {
  const side = serverSide();
  const raw = codecSet().byName;
  let server: http.Server;
  let base: string;
  before(async () => {
    ({ server, base } = await listenHttp(createGrpcWebHandler(side.router)));
  });
  after(() => closeHttp(server));

  for (const codec of ["proto", "json"] as const) {
    it(`connect-node grpc-web ${codec}: unary and server stream, handled by the server's ${codec} codec`, async () => {
      const transport = createGrpcWebTransport({ baseUrl: base, httpVersion: "1.1", useBinaryFormat: codec === "proto" });
      const client = createConnectClient(TestService, transport);
      const c = counters(side);
      assertMessages([await client.echo(echoRequest(codec))], [expectedEcho(codec)]);
      const got = [];
      for await (const m of client.serverStream(streamRequest(codec))) got.push(m);
      assertMessages(got, expectedStream(codec));
      assertServerUsed(c.delta(), codec, 2, 4);
    });
  }

  for (const codec of CODEC_NAMES) {
    it(`by hand ${codec}: application/grpc-web+${codec}`, async () => {
      const c = counters(side);
      const u = await grpcWebRaw(
        base,
        ECHO,
        raw[codec],
        "identity",
        EchoRequestSchema,
        EchoResponseSchema,
        create(EchoRequestSchema, echoRequest(codec)),
      );
      assert.equal(u.res.status, 200, u.res.body.toString());
      assert.equal(u.res.headers["content-type"], `application/grpc-web+${codec}`);
      assert.equal(u.end["grpc-status"], "0", JSON.stringify(u.end));
      assertMessages(u.messages, [expectedEcho(codec)]);
      const s = await grpcWebRaw(
        base,
        STREAM,
        raw[codec],
        "identity",
        StreamRequestSchema,
        EchoResponseSchema,
        create(StreamRequestSchema, streamRequest(codec)),
      );
      assert.equal(s.end["grpc-status"], "0", JSON.stringify(s.end));
      assertMessages(s.messages, expectedStream(codec));
      assertServerUsed(c.delta(), codec, 2, 4);
    });
  }

  it("an unknown codec gets HTTP 415 naming the codec", async () => {
    const u = await grpcWebRaw(
      base,
      ECHO,
      xmlCodec,
      "identity",
      EchoRequestSchema,
      EchoResponseSchema,
      create(EchoRequestSchema, { text: "x" }),
    );
    assert.equal(u.res.status, 415);
    assert.match(u.res.body.toString(), /unsupported gRPC-Web codec "xml"/);
  });

  it("an unknown codec's 415 lists what the server accepts", async () => {
    const u = await grpcWebRaw(
      base,
      ECHO,
      xmlCodec,
      "identity",
      EchoRequestSchema,
      EchoResponseSchema,
      create(EchoRequestSchema, { text: "x" }),
    );
    assert.equal(u.res.status, 415);
    assert.ok(u.res.body.toString().includes(ACCEPTS), `${JSON.stringify(u.res.body.toString())} lacks the accepted list "${ACCEPTS}"`);
  });
});
