// The gRPC-Web handler against real npm clients — @connectrpc/connect-node's gRPC-Web transport
// (HTTP/1.1 and HTTP/2, binary and JSON) and @improbable-eng/grpc-web with its Node transport —
// and, since neither client speaks grpc-web-text from Node, text mode with hand-built requests
// checked byte by byte.
import assert from "node:assert/strict";
import * as http from "node:http";
import { after, before, describe, it } from "node:test";
import { create, fromBinary, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { Code as CCode, ConnectError, createClient } from "@connectrpc/connect";
import { Http2SessionManager, createGrpcWebTransport } from "@connectrpc/connect-node";
import grpcWeb, { type grpc as GrpcTypes } from "@improbable-eng/grpc-web";
import nodeHttpTransport from "@improbable-eng/grpc-web-node-http-transport";
import { createRouter } from "@petrel/core";
import { frameMessage } from "@petrel/protocol-grpc";
import {
  EchoRequestSchema,
  EchoResponseSchema,
  StreamRequestSchema,
  TestService,
  createTestServiceImpl,
  eventually,
} from "@petrel/testing";
import { type Fixture, LookupResponseSchema, LookupService, startFixture } from "./connect-test-fixture.js";
import { createGrpcWebHandler, parseGrpcWebContentType } from "./grpc-web.js";
import { decodeBase64Stream } from "./grpc-web-base64.js";

let fx: Fixture;
const managers: Http2SessionManager[] = [];

before(async () => {
  fx = await startFixture({}, { maxReceiveMessageSize: 64 * 1024 });
});
after(async () => {
  for (const m of managers) m.abort();
  await fx.close();
});

type Variant = { name: string; http: "1.1" | "2"; binary: boolean };
const variants: Variant[] = [
  { name: "HTTP/1.1 binary", http: "1.1", binary: true },
  { name: "HTTP/1.1 JSON", http: "1.1", binary: false },
  { name: "HTTP/2 binary", http: "2", binary: true },
  { name: "HTTP/2 JSON", http: "2", binary: false },
];

function transport(v: Variant) {
  if (v.http === "1.1") return createGrpcWebTransport({ httpVersion: "1.1", baseUrl: fx.h1, useBinaryFormat: v.binary });
  const sessionManager = new Http2SessionManager(fx.h2);
  managers.push(sessionManager);
  return createGrpcWebTransport({ httpVersion: "2", baseUrl: fx.h2, useBinaryFormat: v.binary, sessionManager });
}

async function rejects(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ConnectError, `not a ConnectError: ${e}`);
    return e;
  }
  assert.fail("call succeeded");
}

for (const v of variants) {
  describe(`gRPC-Web (connect-node client) ${v.name}`, () => {
    it("unary: message, headers and trailers", async () => {
      const client = createClient(TestService, transport(v));
      let header: Headers | undefined;
      let trailer: Headers | undefined;
      const res = await client.echo(
        { text: "wéb", payload: new Uint8Array([9, 8]), seq: 3n },
        { headers: { "x-echo": "w", "x-echo-bin": "AQID" }, onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t) },
      );
      assert.equal(res.text, "wéb");
      assert.deepEqual([...res.payload], [9, 8]);
      assert.equal(header?.get("x-echo"), "w");
      assert.equal(trailer?.get("x-echo-trailer"), "w");
      assert.equal(trailer?.get("x-echo-bin"), "AQID");
      assert.equal(fx.probe.lastHeaders["x-grpc-web"], undefined);
    });

    it("errors: code, message, metadata, details; internal errors hidden", async () => {
      const client = createClient(TestService, transport(v));
      let err = await rejects(client.echo({ failCode: 16, failMessage: "who are you" }));
      assert.equal(err.code, CCode.Unauthenticated);
      assert.equal(err.rawMessage, "who are you");
      assert.equal(err.metadata.get("x-fail"), "yes");
      err = await rejects(client.echo({ text: "throw-plain-error" }));
      assert.equal(err.code, CCode.Internal);
      assert.equal(err.rawMessage, "internal error");
      const lookup = createClient(LookupService, transport(v)) as unknown as Record<string, (r: unknown) => Promise<unknown>>;
      err = await rejects((lookup.fail as (r: unknown) => Promise<unknown>)({ key: "it" }));
      assert.equal(err.code, CCode.FailedPrecondition);
      assert.equal(err.rawMessage, "cannot it ✗");
      assert.deepEqual(
        (err.findDetails(LookupResponseSchema) as unknown as Array<{ value: string }>).map((d) => d.value),
        ["detail"],
      );
      const unknown = createClient(TestService, createGrpcWebTransport({ httpVersion: "1.1", baseUrl: `${fx.h1}/x` }));
      assert.equal((await rejects(unknown.echo({}))).code, CCode.Unimplemented);
    });

    it("deadline", async () => {
      const client = createClient(TestService, transport(v));
      const before = fx.probe.cancelled.filter((c) => c === "Sleep").length;
      const err = await rejects(client.sleep({ sleepMs: 30_000 }, { timeoutMs: 200 }));
      assert.equal(err.code, CCode.DeadlineExceeded);
      await eventually(() => fx.probe.cancelled.filter((c) => c === "Sleep").length > before);
    });

    it("server streaming with trailers and a final error", async () => {
      const client = createClient(TestService, transport(v));
      let trailer: Headers | undefined;
      const got: number[] = [];
      for await (const m of client.serverStream({ text: "s", count: 4 }, { headers: { "x-echo": "t" }, onTrailer: (t) => (trailer = t) })) {
        got.push(m.count);
      }
      assert.deepEqual(got, [0, 1, 2, 3]);
      assert.equal(trailer?.get("x-echo-trailer"), "t");
      const seen: number[] = [];
      const err = await rejects(
        (async () => {
          for await (const m of client.serverStream({ count: 1, failCode: 14 })) seen.push(m.count);
        })(),
      );
      assert.deepEqual(seen, [0]);
      assert.equal(err.code, CCode.Unavailable);
    });

    if (v.http === "2") {
      it("client streaming and bidi over HTTP/2", async () => {
        const client = createClient(TestService, transport(v));
        async function* reqs() {
          for (const t of ["x", "y"]) yield { text: t };
        }
        const cs = await client.clientStream(reqs());
        assert.equal(cs.text, "xy");
        const out: string[] = [];
        for await (const m of client.bidi(reqs())) out.push(m.text);
        assert.deepEqual(out, ["x", "y"]);
      });
    }
  });
}

// Both packages are CommonJS bundles whose named exports Node's ESM loader cannot see.
const { grpc } = grpcWeb;
const { NodeHttpTransport } = nodeHttpTransport;

/** protobuf-es messages dressed as google-protobuf classes, which @improbable-eng/grpc-web expects. */
function messageClass<D extends DescMessage>(schema: D) {
  return class {
    msg: MessageShape<D>;
    constructor(init?: object) {
      this.msg = create(schema, init as never);
    }
    serializeBinary(): Uint8Array {
      return toBinary(schema, this.msg);
    }
    toObject(): MessageShape<D> {
      return this.msg;
    }
    static deserializeBinary(bytes: Uint8Array) {
      const o = new this();
      o.msg = fromBinary(schema, bytes);
      return o;
    }
  };
}
const EchoReq = messageClass(EchoRequestSchema);
const EchoRes = messageClass(EchoResponseSchema);
const StreamReq = messageClass(StreamRequestSchema);
const service = { serviceName: "petrel.testing.v1.TestService" };
const echoMethod = {
  methodName: "Echo",
  service,
  requestStream: false,
  responseStream: false,
  requestType: EchoReq,
  responseType: EchoRes,
};
const streamMethod = {
  methodName: "ServerStream",
  service,
  requestStream: false,
  responseStream: true,
  requestType: StreamReq,
  responseType: EchoRes,
};

describe("gRPC-Web (@improbable-eng/grpc-web client, HTTP/1.1)", () => {
  before(() => grpc.setDefaultTransport(NodeHttpTransport()));

  it("unary OK and error, with metadata", async () => {
    const ok = await new Promise<GrpcTypes.UnaryOutput<InstanceType<typeof EchoRes>>>((onEnd) =>
      grpc.unary(echoMethod as never, { host: fx.h1, request: new EchoReq({ text: "imp" }) as never, metadata: { "x-echo": "i" }, onEnd }),
    );
    assert.equal(ok.status, grpc.Code.OK);
    assert.equal(ok.message?.toObject().text, "imp");
    assert.deepEqual(ok.headers.get("x-echo"), ["i"]);
    assert.deepEqual(ok.trailers.get("x-echo-trailer"), ["i"]);
    const bad = await new Promise<GrpcTypes.UnaryOutput<InstanceType<typeof EchoRes>>>((onEnd) =>
      grpc.unary(echoMethod as never, { host: fx.h1, request: new EchoReq({ failCode: 9, failMessage: "not now ✓" }) as never, onEnd }),
    );
    assert.equal(bad.status, grpc.Code.FailedPrecondition);
    assert.equal(bad.statusMessage, "not now ✓");
    assert.deepEqual(bad.trailers.get("x-fail"), ["yes"]);
  });

  it("server streaming", async () => {
    const texts: number[] = [];
    const end = await new Promise<{ code: GrpcTypes.Code; msg: string }>((resolve) =>
      grpc.invoke(streamMethod as never, {
        host: fx.h1,
        request: new StreamReq({ text: "z", count: 3 }) as never,
        onMessage: (m: unknown) => texts.push((m as InstanceType<typeof EchoRes>).toObject().count),
        onEnd: (code, msg) => resolve({ code, msg }),
      }),
    );
    assert.equal(end.code, grpc.Code.OK);
    assert.deepEqual(texts, [0, 1, 2]);
  });
});

/** Sends a raw request with the body in the given pieces; returns status, headers and body. */
function raw(
  path: string,
  headers: Record<string, string>,
  pieces: Array<string | Uint8Array>,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${fx.h1}${path}`, { method: "POST", headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode as number, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    // Separate writes, so the server sees them as separate chunks (a quantum may straddle them).
    let i = 0;
    const next = () => {
      if (i === pieces.length) return req.end();
      req.write(pieces[i++], () => setImmediate(next));
    };
    next();
  });
}

function trailerBytes(s: string): Buffer {
  const f = Buffer.from(frameMessage(Buffer.from(s, "latin1")));
  f[0] = 0x80;
  return f;
}

describe("gRPC-Web text (hand-built requests, no Node client speaks it)", () => {
  it("decodes chunked base64 segments and answers in base64, byte for byte", async () => {
    const m1 = Buffer.from(frameMessage(toBinary(EchoRequestSchema, create(EchoRequestSchema, { text: "txt" }))));
    // One padded segment per message-frame half: padding in the middle of the stream, and the
    // second segment split mid-quantum across writes.
    const a = m1.subarray(0, 4).toString("base64");
    const b = m1.subarray(4).toString("base64");
    const res = await raw(
      "/petrel.testing.v1.TestService/Echo",
      { "content-type": "application/grpc-web-text", "x-echo": "tx", accept: "application/grpc-web-text" },
      [a, b.slice(0, 3), `${b.slice(3)}\r\n`],
    );
    assert.equal(res.status, 200);
    assert.equal(res.headers["content-type"], "application/grpc-web-text+proto");
    assert.equal(res.headers["x-echo"], "tx");
    const want =
      Buffer.from(frameMessage(toBinary(EchoResponseSchema, create(EchoResponseSchema, { text: "txt", deadlineMs: -1n })))).toString(
        "base64",
      ) + trailerBytes("grpc-status:0\r\nx-echo-trailer:tx\r\n").toString("base64");
    assert.equal(res.body.toString("latin1"), want);
  });

  it("errors in text mode carry the status in a base64 trailer frame", async () => {
    const m = Buffer.from(frameMessage(toBinary(EchoRequestSchema, create(EchoRequestSchema, { failCode: 3, failMessage: "bad 100%" }))));
    const res = await raw("/petrel.testing.v1.TestService/Echo", { "content-type": "application/grpc-web-text+proto" }, [
      m.toString("base64"),
    ]);
    assert.equal(res.status, 200);
    const want = trailerBytes("grpc-status:3\r\ngrpc-message:bad 100%25\r\nx-fail:yes\r\n").toString("base64");
    assert.equal(res.body.toString("latin1"), want);
  });

  it("rejects a body that is not base64", async () => {
    const res = await raw("/petrel.testing.v1.TestService/Echo", { "content-type": "application/grpc-web-text" }, ["AA*A"]);
    assert.equal(res.status, 200);
    const body = Buffer.from(res.body.toString("latin1"), "base64");
    assert.equal(body[0], 0x80);
    assert.match(body.subarray(5).toString(), /^grpc-status:13\r\ngrpc-message:grpc-web-text: invalid base64/);
  });
});

describe("gRPC-Web wire details", () => {
  it("binary: unknown method, oversized message, bad framing, wrong HTTP method, unknown codec", async () => {
    let res = await raw("/petrel.testing.v1.TestService/Nope", { "content-type": "application/grpc-web+proto" }, [Buffer.alloc(5)]);
    assert.deepEqual(res.body, trailerBytes("grpc-status:12\r\ngrpc-message:unknown method /petrel.testing.v1.TestService/Nope\r\n"));
    const big = Buffer.alloc(5);
    big.writeUInt32BE(100_000, 1);
    res = await raw("/petrel.testing.v1.TestService/Echo", { "content-type": "application/grpc-web" }, [big]);
    assert.equal(res.body[0], 0x80);
    assert.match(res.body.subarray(5).toString(), /^grpc-status:8\r\n/);
    res = await raw("/petrel.testing.v1.TestService/Echo", { "content-type": "application/grpc-web" }, [Buffer.from([7, 0, 0, 0, 0])]);
    assert.match(res.body.subarray(5).toString(), /^grpc-status:13\r\n/);
    res = await raw("/petrel.testing.v1.TestService/Echo", { "content-type": "application/grpc-web+cbor" }, [Buffer.alloc(5)]);
    assert.equal(res.status, 415);
    const get = await fetch(`${fx.h1}/petrel.testing.v1.TestService/Echo`, { headers: { "content-type": "application/grpc-web" } });
    assert.equal(get.status, 405);
    await get.arrayBuffer();
  });

  it("never takes plain gRPC", () => {
    const handler = createGrpcWebHandler(createRouter().service(TestService, createTestServiceImpl()));
    const untouched = new Proxy({}, { get: () => assert.fail("response touched") }) as never;
    for (const ct of ["application/grpc", "application/grpc+proto", "application/json", undefined]) {
      const req = { method: "POST", url: "/petrel.testing.v1.TestService/Echo", headers: ct === undefined ? {} : { "content-type": ct } };
      assert.equal(handler(req as never, untouched), false, String(ct));
    }
  });

  it("parses content types and streams base64", async () => {
    assert.deepEqual(parseGrpcWebContentType("application/grpc-web"), { codec: "proto", text: false });
    assert.deepEqual(parseGrpcWebContentType("Application/gRPC-Web-Text+proto; x=y"), { codec: "proto", text: true });
    assert.deepEqual(parseGrpcWebContentType("application/grpc-web+json"), { codec: "json", text: false });
    assert.equal(parseGrpcWebContentType("application/grpc"), undefined);
    assert.equal(parseGrpcWebContentType("application/grpc-web+"), undefined);
    const out: number[] = [];
    async function* src() {
      for (const s of ["AQ", "==Ag", "M=", "BAUG"]) yield Buffer.from(s);
    }
    for await (const c of decodeBase64Stream(src())) out.push(...c);
    assert.deepEqual(out, [1, 2, 3, 4, 5, 6]);
    async function* cut() {
      yield Buffer.from("AQI");
    }
    await assert.rejects(async () => {
      for await (const _ of decodeBase64Stream(cut()));
    }, /ends inside a base64 quantum/);
  });
});
