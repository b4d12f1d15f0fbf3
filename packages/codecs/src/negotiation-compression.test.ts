// Compression negotiated next to the codec, end to end, for every protocol: gRPC, petrel/1 (both
// also on the one-port server), Connect (connect-node, and by hand), gRPC-Web (by hand), JSON-RPC
// over HTTP and the REST gateway, each with identity, gzip and br. A message above the 1024-byte
// default threshold travels compressed both ways, a small one stays uncompressed, and the results
// are equal. Proof from the wire: receivers decompress only what arrived flagged compressed, so
// the receiver's counting compression (and `wasCompressed` where the transport marks it, and the
// raw flags and headers of the hand-made clients) show what each direction did.
import assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { create, equals } from "@bufbuild/protobuf";
import { createClient as createConnectClient } from "@connectrpc/connect";
import { compressionBrotli, compressionGzip, createConnectTransport } from "@connectrpc/connect-node";
import { createClient, createRouter, setMessageCompression, type Transport, wasCompressed } from "@petrel/core";
import {
  createConnectHandler,
  createGrpcServer,
  createGrpcTransport,
  createGrpcWebHandler,
  createJsonRpcHttpHandler,
  createJsonRpcTransport,
  createNativeServer,
  createNativeTransport,
  createPetrelServer,
  type HttpHandler,
} from "@petrel/node";
import { type Compression, createCompressionRegistry } from "@petrel/protocol-grpc";
import { EchoRequestSchema, EchoResponseSchema, StreamRequestSchema, TestService } from "@petrel/testing";
import { LibraryService } from "../../gateway/src/gen/petrel/gateway/testing/v1/library_pb.js";
import { createRestGateway } from "../../gateway/src/rest-gateway.js";
import { createLibraryImpl } from "../../gateway/src/library-fixture.js";
import {
  BIG_PAYLOAD,
  type CompressionName,
  COMPRESSIONS,
  type CompressionSet,
  codecSet,
  compressionSet,
  compressSync,
  connectStreamRaw,
  connectUnaryRaw,
  countingCompression,
  decompressSync,
  grpcWebRaw,
  RESPOND_HEADER,
  rawPost,
  type ServerSide,
  SMALL_PAYLOAD,
  serverSide,
} from "./negotiation-fixture.js";

const ECHO = "/petrel.testing.v1.TestService/Echo";
const STREAM = "/petrel.testing.v1.TestService/ServerStream";
/** The codecs compression is combined with: the default binary codec and a plugged-in one. */
const PAIRED_CODECS = ["proto", "msgpack"] as const;
const SIZES = [
  { name: "large", payload: BIG_PAYLOAD, compressed: true },
  { name: "small", payload: SMALL_PAYLOAD, compressed: false },
] as const;

const echoRequest = (payload: Uint8Array) => ({ text: "z", payload, seq: 42n });
const expectedEcho = (payload: Uint8Array) => create(EchoResponseSchema, { ...echoRequest(payload), deadlineMs: -1n });
const expectedStream = (payload: Uint8Array) => [0, 1, 2].map((count) => create(EchoResponseSchema, { text: "s", count, payload }));

function assertMessages(got: unknown[], want: ReturnType<typeof expectedEcho>[]): void {
  assert.equal(got.length, want.length, "message count");
  for (let i = 0; i < want.length; i++) {
    assert.ok(equals(EchoResponseSchema, got[i] as (typeof want)[number], want[i] as (typeof want)[number]), `message ${i} differs`);
  }
}

/** Decompressions per algorithm since the snapshot, summed over every algorithm but `name`. */
function decompressions(set: CompressionSet) {
  const at = { gzip: set.byName.gzip.decompressed, deflate: set.byName.deflate.decompressed, br: set.byName.br.decompressed };
  return (name: CompressionName) => {
    const d = {
      gzip: set.byName.gzip.decompressed - at.gzip,
      deflate: set.byName.deflate.decompressed - at.deflate,
      br: set.byName.br.decompressed - at.br,
    };
    const self = name === "identity" ? 0 : d[name];
    return { self, others: d.gzip + d.deflate + d.br - self };
  };
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

/** gRPC and petrel/1 (dedicated and one-port), driven by Petrel's client. */
interface PetrelProtocol {
  name: string;
  start(
    side: ServerSide,
    compressions: CompressionSet,
  ): Promise<{ close(): Promise<void>; transport(client: CompressionSet): ClosableTransport }>;
}

const petrelProtocols: PetrelProtocol[] = [
  {
    name: "gRPC",
    async start(side, comp) {
      const server = createGrpcServer({ router: side.router, compressions: comp.registry });
      const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
      return {
        close: () => server.close({ graceMs: 5000 }),
        transport: (client) =>
          createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}`, codecs: codecSet().registry, compressions: client.registry }),
      };
    },
  },
  {
    name: "petrel/1",
    async start(side, comp) {
      const server = createNativeServer({ router: side.router, compressions: comp.registry });
      const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
      return {
        close: () => server.close({ graceMs: 5000 }),
        transport: (client) =>
          createNativeTransport({ address: `127.0.0.1:${port}`, codecs: codecSet().registry, compressions: client.registry }),
      };
    },
  },
  ...(["gRPC", "petrel/1"] as const).map(
    (inner): PetrelProtocol => ({
      name: `one-port ${inner}`,
      async start(side, comp) {
        const server = createPetrelServer({
          router: side.router,
          grpc: { compressions: comp.registry },
          native: { compressions: comp.registry },
        });
        const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
        return {
          close: () => server.close({ graceMs: 5000 }),
          transport: (client) =>
            inner === "gRPC"
              ? createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}`, codecs: codecSet().registry, compressions: client.registry })
              : createNativeTransport({ address: `127.0.0.1:${port}`, codecs: codecSet().registry, compressions: client.registry }),
        };
      },
    }),
  ),
];

for (const p of petrelProtocols) {
  describe(`compression over ${p.name}`, () => {
    const side = serverSide();
    const serverComp = compressionSet();
    const clientComp = compressionSet();
    let started: Awaited<ReturnType<PetrelProtocol["start"]>>;
    let transport: ClosableTransport;
    before(async () => {
      started = await p.start(side, serverComp);
      transport = started.transport(clientComp);
    });
    after(async () => {
      await transport?.close();
      await started?.close();
    });

    for (const codec of PAIRED_CODECS) {
      for (const compression of COMPRESSIONS) {
        for (const size of SIZES) {
          const on = compression !== "identity" && size.compressed;
          it(`${codec} x ${compression}, ${size.name} messages: ${on ? "compressed both ways" : "uncompressed"}`, async () => {
            const client = createClient(TestService, transport);
            // Per call: x-petrel-compress picks the request compression (never sent); the test
            // service turns RESPOND_HEADER into its response's x-petrel-compress.
            const headers: Record<string, string> =
              compression === "identity" ? {} : { "x-petrel-compress": compression, [RESPOND_HEADER]: compression };
            const atServer = decompressions(serverComp);
            const atClient = decompressions(clientComp);
            const probed = side.probe.requestsCompressed.length;
            const codecDecoded = side.codecs[codec].decoded;

            const res = await client.echo(echoRequest(size.payload), { codec, headers });
            assertMessages([res], [expectedEcho(size.payload)]);
            assert.equal(wasCompressed(res), on, "the response's compressed flag");
            const got = [];
            for await (const m of client.serverStream({ text: "s", count: 3, payload: size.payload }, { codec, headers })) got.push(m);
            assertMessages(got, expectedStream(size.payload));
            assert.deepEqual(
              got.map((m) => wasCompressed(m)),
              [on, on, on],
              "each stream message's compressed flag",
            );

            assert.deepEqual(side.probe.requestsCompressed.slice(probed), [on, on], "the server saw the requests' compressed flag");
            assert.deepEqual(atServer(compression), { self: on ? 2 : 0, others: 0 }, "server decompressions");
            assert.deepEqual(atClient(compression), { self: on ? 4 : 0, others: 0 }, "client decompressions");
            assert.equal(side.codecs[codec].decoded - codecDecoded, 2, `the server decoded with ${codec}`);
          });
        }
      }
    }

    // message-flags.ts: `setMessageCompression(msg, true)` compresses a message below compressMinBytes.
    it("setMessageCompression(msg, true) compresses a small request", async () => {
      const client = createClient(TestService, transport);
      const atServer = decompressions(serverComp);
      const req = setMessageCompression(create(EchoRequestSchema, echoRequest(SMALL_PAYLOAD)), true);
      const res = await client.echo(req, { headers: { "x-petrel-compress": "gzip" } });
      assertMessages([res], [expectedEcho(SMALL_PAYLOAD)]);
      assert.deepEqual(atServer("gzip"), { self: 1, others: 0 }, "the server decompressed the small request");
    });
  });
}

describe("compression over Connect", () => {
  const side = serverSide();
  const serverComp = compressionSet();
  const raw = codecSet().byName;
  let server: http.Server;
  let base: string;
  before(async () => {
    ({ server, base } = await listenHttp(createConnectHandler(side.router, { compressions: serverComp.registry })));
  });
  after(() => closeHttp(server));

  const connectNode = { gzip: compressionGzip, br: compressionBrotli };
  type ConnectCompression = typeof compressionGzip;
  for (const compression of COMPRESSIONS) {
    for (const size of SIZES) {
      const on = compression !== "identity" && size.compressed;
      it(`connect-node proto x ${compression}, ${size.name} messages: ${on ? "compressed both ways" : "uncompressed"}`, async () => {
        // connect-node's Compression has the same shape as Petrel's: count its decompressions too.
        const mine = compression === "identity" ? undefined : countingCompression(connectNode[compression] as unknown as Compression);
        const transport = createConnectTransport({
          baseUrl: base,
          httpVersion: "1.1",
          acceptCompression: mine === undefined ? [] : [mine as unknown as ConnectCompression],
          ...(mine === undefined ? {} : { sendCompression: mine as unknown as ConnectCompression }),
        });
        const client = createConnectClient(TestService, transport);
        const atServer = decompressions(serverComp);
        const proto = side.codecs.proto.decoded;
        assertMessages([await client.echo(echoRequest(size.payload))], [expectedEcho(size.payload)]);
        const got = [];
        for await (const m of client.serverStream({ text: "s", count: 3, payload: size.payload })) got.push(m);
        assertMessages(got, expectedStream(size.payload));
        assert.deepEqual(atServer(compression), { self: on ? 2 : 0, others: 0 }, "server decompressions");
        // Unary: one compressed body; stream: three compressed messages (the end-stream JSON is small).
        assert.equal(mine?.decompressed ?? 0, on ? 4 : 0, "client decompressions");
        assert.equal(side.codecs.proto.decoded - proto, 2);
      });
    }
  }

  for (const compression of COMPRESSIONS) {
    for (const size of SIZES) {
      const on = compression !== "identity" && size.compressed;
      it(`by hand msgpack x ${compression}, ${size.name} messages: ${on ? "compressed both ways" : "uncompressed"}`, async () => {
        const atServer = decompressions(serverComp);
        const msgpack = side.codecs.msgpack.decoded;
        const u = await connectUnaryRaw(
          base,
          ECHO,
          raw.msgpack,
          compression,
          EchoRequestSchema,
          EchoResponseSchema,
          create(EchoRequestSchema, echoRequest(size.payload)),
        );
        assert.equal(u.res.status, 200, u.res.body.toString());
        assert.equal(u.requestCompressed, on);
        assert.equal(u.res.headers["content-encoding"], on ? compression : undefined, "unary response content-encoding");
        assertMessages([u.message], [expectedEcho(size.payload)]);
        const s = await connectStreamRaw(
          base,
          STREAM,
          raw.msgpack,
          compression,
          StreamRequestSchema,
          EchoResponseSchema,
          create(StreamRequestSchema, { text: "s", count: 3, payload: size.payload }),
        );
        assert.equal(s.res.status, 200, s.res.body.toString());
        assert.equal(s.requestCompressed, on);
        if (on) assert.equal(s.res.headers["connect-content-encoding"], compression);
        assert.deepEqual(s.compressed, [on, on, on], "each stream envelope's compressed flag");
        assertMessages(s.messages, expectedStream(size.payload));
        assert.deepEqual(s.end, {});
        assert.deepEqual(atServer(compression), { self: on ? 2 : 0, others: 0 }, "server decompressions");
        assert.equal(side.codecs.msgpack.decoded - msgpack, 2);
      });
    }
  }

  it("handlers see wasCompressed(request) on a compressed request", async () => {
    const probed = side.probe.requestsCompressed.length;
    const u = await connectUnaryRaw(
      base,
      ECHO,
      raw.msgpack,
      "gzip",
      EchoRequestSchema,
      EchoResponseSchema,
      create(EchoRequestSchema, echoRequest(BIG_PAYLOAD)),
    );
    assert.equal(u.requestCompressed, true);
    assert.deepEqual(side.probe.requestsCompressed.slice(probed), [true]);
  });
});

describe("compression over gRPC-Web", () => {
  const side = serverSide();
  const serverComp = compressionSet();
  const raw = codecSet().byName;
  let server: http.Server;
  let base: string;
  before(async () => {
    ({ server, base } = await listenHttp(createGrpcWebHandler(side.router, { compressions: serverComp.registry })));
  });
  after(() => closeHttp(server));

  for (const codec of PAIRED_CODECS) {
    for (const compression of COMPRESSIONS) {
      for (const size of SIZES) {
        const on = compression !== "identity" && size.compressed;
        it(`by hand ${codec} x ${compression}, ${size.name} messages: ${on ? "compressed both ways" : "uncompressed"}`, async () => {
          const atServer = decompressions(serverComp);
          const u = await grpcWebRaw(
            base,
            ECHO,
            raw[codec],
            compression,
            EchoRequestSchema,
            EchoResponseSchema,
            create(EchoRequestSchema, echoRequest(size.payload)),
          );
          assert.equal(u.res.status, 200, u.res.body.toString());
          assert.equal(u.end["grpc-status"], "0", JSON.stringify(u.end));
          assert.equal(u.requestCompressed, on);
          assert.deepEqual(u.compressed, [on], "the unary response frame's compressed flag");
          assertMessages(u.messages, [expectedEcho(size.payload)]);
          const s = await grpcWebRaw(
            base,
            STREAM,
            raw[codec],
            compression,
            StreamRequestSchema,
            EchoResponseSchema,
            create(StreamRequestSchema, { text: "s", count: 3, payload: size.payload }),
          );
          assert.equal(s.end["grpc-status"], "0", JSON.stringify(s.end));
          assert.deepEqual(s.compressed, [on, on, on], "each stream frame's compressed flag");
          assertMessages(s.messages, expectedStream(size.payload));
          assert.deepEqual(atServer(compression), { self: on ? 2 : 0, others: 0 }, "server decompressions");
        });
      }
    }
  }

  it("handlers see wasCompressed(request) on a compressed request", async () => {
    const probed = side.probe.requestsCompressed.length;
    const u = await grpcWebRaw(
      base,
      ECHO,
      raw.msgpack,
      "gzip",
      EchoRequestSchema,
      EchoResponseSchema,
      create(EchoRequestSchema, echoRequest(BIG_PAYLOAD)),
    );
    assert.equal(u.requestCompressed, true);
    assert.deepEqual(side.probe.requestsCompressed.slice(probed), [true]);
  });
});

describe("compression over JSON-RPC (HTTP Content-Encoding)", () => {
  const side = serverSide();
  const serverComp = compressionSet();
  let server: http.Server;
  let base: string;
  before(async () => {
    ({ server, base } = await listenHttp(createJsonRpcHttpHandler(side.router, { compressions: serverComp.registry })));
  });
  after(() => closeHttp(server));

  for (const compression of COMPRESSIONS) {
    for (const size of SIZES) {
      const on = compression !== "identity" && size.compressed;
      it(`Petrel client x ${compression}, ${size.name} request and response: ${on ? "compressed both ways" : "uncompressed"}`, async () => {
        // The client offers (Accept-Encoding) and uses only the algorithm under test.
        const clientComp = compressionSet();
        const mine = compression === "identity" ? undefined : clientComp.byName[compression];
        const transport = createJsonRpcTransport({
          url: `${base}/jsonrpc`,
          compressions: mine === undefined ? createCompressionRegistry() : createCompressionRegistry(mine),
          ...(mine === undefined ? {} : { compression }),
        });
        try {
          const client = createClient(TestService, transport);
          const atServer = decompressions(serverComp);
          const res = await client.echo(echoRequest(size.payload));
          assertMessages([res], [expectedEcho(size.payload)]);
          // The server decompresses only a request with Content-Encoding, the client only a response with one.
          assert.deepEqual(atServer(compression), { self: on ? 1 : 0, others: 0 }, "server decompressions");
          assert.equal(mine?.decompressed ?? 0, on ? 1 : 0, "client decompressions");
        } finally {
          await transport.close();
        }
      });
    }
  }

  it("by hand: Content-Encoding on the wire follows Accept-Encoding and the 1024-byte threshold", async () => {
    const body = (payload: Uint8Array) =>
      Buffer.from(
        JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "petrel.testing.v1.TestService/Echo",
          params: { text: "z", payload: Buffer.from(payload).toString("base64") },
        }),
      );
    for (const compression of ["gzip", "br"] as const) {
      for (const size of SIZES) {
        const r = await rawPost(
          base,
          "/jsonrpc",
          { "content-type": "application/json", "accept-encoding": compression },
          body(size.payload),
        );
        assert.equal(r.status, 200, r.body.toString());
        assert.equal(r.headers["content-encoding"], size.compressed ? compression : undefined, `${compression} ${size.name}`);
        const text = (size.compressed ? decompressSync(compression, r.body) : r.body).toString();
        const result = (JSON.parse(text) as { result: { payload: string } }).result;
        assert.equal(result.payload, Buffer.from(size.payload).toString("base64"));
      }
    }
  });
});

describe("compression over the REST gateway (HTTP Content-Encoding)", () => {
  const serverComp = compressionSet();
  let server: http.Server;
  let base: string;
  let shelf = 0;
  before(async () => {
    const router = createRouter().service(LibraryService, createLibraryImpl());
    ({ server, base } = await listenHttp(createRestGateway({ router, compressions: serverComp.registry })));
  });
  after(() => closeHttp(server));

  const big = "A long title that compresses well. ".repeat(60);
  for (const compression of COMPRESSIONS) {
    for (const size of SIZES) {
      const on = compression !== "identity" && size.compressed;
      it(`POST a book x ${compression}, ${size.name}: ${on ? "compressed both ways" : "uncompressed"}`, async () => {
        const title = size.compressed ? big : "Dune";
        const json = Buffer.from(JSON.stringify({ title, author: "Someone" }));
        const headers: Record<string, string> = { "content-type": "application/json" };
        if (compression !== "identity") headers["accept-encoding"] = compression;
        if (on) headers["content-encoding"] = compression;
        const atServer = decompressions(serverComp);
        const r = await rawPost(base, `/v1/shelves/n${++shelf}/books`, headers, on ? compressSync(compression, json) : json);
        assert.equal(r.status, 200, r.body.toString());
        assert.equal(r.headers["content-encoding"], on ? compression : undefined);
        const text = (on ? decompressSync(compression, r.body) : r.body).toString();
        assert.equal((JSON.parse(text) as { title: string }).title, title);
        assert.deepEqual(atServer(compression), { self: on ? 1 : 0, others: 0 }, "server decompressions");
      });
    }
  }
});
