import assert from "node:assert/strict";
import * as http2 from "node:http2";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { Code, RpcError, createClient, createRouter } from "@petrel/core";
import { TestService, createTestServiceImpl } from "@petrel/testing";
import { createGrpcServer, createGrpcTransport, type GrpcServer } from "./index.js";

/** Sends one raw HTTP/2 request and collects what comes back. */
async function rawRequest(
  port: number,
  headers: http2.OutgoingHttpHeaders,
  body: Uint8Array | Uint8Array[] | undefined,
): Promise<{
  status: number | undefined;
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
  rst: number | undefined;
}> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on("error", () => {});
  try {
    return await new Promise((resolve) => {
      const req = session.request({ ":method": "POST", te: "trailers", ...headers });
      let status: number | undefined;
      let h: http2.IncomingHttpHeaders = {};
      let t: http2.IncomingHttpHeaders = {};
      req.on("response", (r) => {
        status = r[":status"];
        h = r;
      });
      req.on("trailers", (tr) => {
        t = tr;
      });
      req.on("data", () => {});
      req.on("error", () => {});
      req.on("close", () => resolve({ status, headers: h, trailers: t, rst: req.rstCode }));
      if (Array.isArray(body)) {
        for (const chunk of body) req.write(chunk);
        req.end();
      } else if (body !== undefined) req.end(body);
      else req.end();
    });
  } finally {
    session.destroy();
  }
}

function frame(len: number, body: Uint8Array, flag = 0): Uint8Array {
  const out = new Uint8Array(5 + body.length);
  out[0] = flag;
  new DataView(out.buffer).setUint32(1, len);
  out.set(body, 5);
  return out;
}

const echoPath = "/petrel.testing.v1.TestService/Echo";
const grpcHeaders = { ":path": echoPath, "content-type": "application/grpc" };

describe("gRPC server: bad input gets the spec's status, and the server keeps serving", () => {
  let server: GrpcServer;
  let port: number;
  before(async () => {
    server = createGrpcServer({ router: createRouter().service(TestService, createTestServiceImpl()) });
    ({ port } = await server.listen({ port: 0, host: "127.0.0.1" }));
  });
  after(async () => {
    await server.close({ graceMs: 1000 });
  });

  const statusOf = (r: { headers: http2.IncomingHttpHeaders; trailers: http2.IncomingHttpHeaders }) =>
    Number(r.trailers["grpc-status"] ?? r.headers["grpc-status"]);

  it("a wrong content-type gets HTTP 415", async () => {
    const r = await rawRequest(port, { ":path": echoPath, "content-type": "text/plain" }, new Uint8Array(0));
    assert.equal(r.status, 415);
  });

  it("a declared length over the 4 MiB limit gets RESOURCE_EXHAUSTED before the bytes arrive", async () => {
    const r = await rawRequest(port, grpcHeaders, frame(5 * 1024 * 1024, new Uint8Array(10)));
    assert.equal(statusOf(r), Code.RESOURCE_EXHAUSTED);
  });

  it("a message shorter than declared (truncated) gets INTERNAL", async () => {
    const r = await rawRequest(port, grpcHeaders, frame(100, new Uint8Array(10)));
    assert.equal(statusOf(r), Code.INTERNAL);
  });

  it("a bad compressed-flag byte gets INTERNAL", async () => {
    const r = await rawRequest(port, grpcHeaders, frame(0, new Uint8Array(0), 7));
    assert.equal(statusOf(r), Code.INTERNAL);
  });

  it("a compressed message without grpc-encoding gets INTERNAL; an unknown grpc-encoding gets UNIMPLEMENTED", async () => {
    const r = await rawRequest(port, grpcHeaders, frame(0, new Uint8Array(0), 1));
    assert.equal(statusOf(r), Code.INTERNAL);
    const r2 = await rawRequest(port, { ...grpcHeaders, "grpc-encoding": "snappy" }, frame(0, new Uint8Array(0)));
    assert.equal(statusOf(r2), Code.UNIMPLEMENTED);
    assert.equal(r2.headers["grpc-accept-encoding"], "identity,deflate,gzip,br");
  });

  it("a malformed grpc-timeout and invalid base64 in a -bin header get INTERNAL", async () => {
    const r = await rawRequest(port, { ...grpcHeaders, "grpc-timeout": "12x" }, frame(0, new Uint8Array(0)));
    assert.equal(statusOf(r), Code.INTERNAL);
    const r2 = await rawRequest(port, { ...grpcHeaders, "x-data-bin": "!!not base64!!" }, frame(0, new Uint8Array(0)));
    assert.equal(statusOf(r2), Code.INTERNAL);
  });

  it("undecodable protobuf gets INTERNAL; a unary call without a message gets an error status", async () => {
    const r = await rawRequest(port, grpcHeaders, frame(3, new Uint8Array([0xff, 0xff, 0xff])));
    assert.equal(statusOf(r), Code.INTERNAL);
    const r2 = await rawRequest(port, grpcHeaders, new Uint8Array(0));
    assert.notEqual(statusOf(r2), Code.OK);
  });

  it("a unary body in any chunking: one message split over writes is OK, two messages in a chunk are UNIMPLEMENTED", async () => {
    const { create, toBinary } = await import("@bufbuild/protobuf");
    const { EchoRequestSchema } = await import("@petrel/testing");
    const msg = toBinary(EchoRequestSchema, create(EchoRequestSchema, { text: "split" }));
    const one = frame(msg.length, msg);
    // Byte by byte: every DATA frame holds a fragment of the prefix or the body.
    const split = await rawRequest(
      port,
      grpcHeaders,
      Array.from(one, (b) => Uint8Array.of(b)),
    );
    assert.equal(statusOf(split), Code.OK);
    const two = new Uint8Array(one.length * 2);
    two.set(one, 0);
    two.set(one, one.length);
    const twoInOne = await rawRequest(port, grpcHeaders, two);
    assert.equal(statusOf(twoInOne), Code.UNIMPLEMENTED, "two request messages for a unary method");
    // Like grpc-go, the server may answer a unary call as soon as it has the message, so what
    // arrives in a later DATA frame is either rejected (if it came in time) or ignored.
    const twoWrites = await rawRequest(port, grpcHeaders, [one, one]);
    assert.ok(
      ([Code.OK, Code.UNIMPLEMENTED] as number[]).includes(statusOf(twoWrites)),
      `two messages in two writes: ${statusOf(twoWrites)}`,
    );
    const fragment = await rawRequest(port, grpcHeaders, [one, Uint8Array.of(0, 0)]);
    assert.ok(
      ([Code.OK, Code.INTERNAL] as number[]).includes(statusOf(fragment)),
      `a message, then a partial prefix: ${statusOf(fragment)}`,
    );
    const empty = await rawRequest(port, grpcHeaders, frame(0, new Uint8Array(0)));
    assert.equal(statusOf(empty), Code.OK, "an empty message is a valid request");
  });

  it("HTTP/1.1 on the h2-only port is refused without harming the server", async () => {
    const sock = connect({ host: "127.0.0.1", port });
    sock.on("error", () => {});
    let answer = "";
    // Read what the server sends (else the socket never sees the end): SETTINGS, then GOAWAY.
    sock.on("data", (d: Buffer) => {
      answer += d.toString("latin1");
    });
    sock.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    await new Promise<void>((resolve) => sock.on("close", () => resolve()));
    assert.ok(!answer.startsWith("HTTP/1.1 200"), "no HTTP/1.1 answer on an h2-only port");
    const t = createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` });
    const c = createClient(TestService, t);
    assert.equal((await c.echo({ text: "still serving" })).text, "still serving");
    await t.close();
  });

  it("an abruptly reset stream aborts its handler and leaves the session usable", async () => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", () => {});
    const req = session.request({
      ":method": "POST",
      te: "trailers",
      ":path": "/petrel.testing.v1.TestService/Bidi",
      "content-type": "application/grpc",
    });
    req.on("error", () => {});
    req.write(frame(0, new Uint8Array(0)));
    req.close(http2.constants.NGHTTP2_CANCEL);
    const r = await new Promise<number | undefined>((resolve) => {
      const again = session.request({ ":method": "POST", te: "trailers", ...grpcHeaders });
      let s: number | undefined;
      again.on("response", (h) => {
        s = Number(h["grpc-status"] ?? Number.NaN);
      });
      again.on("trailers", (t) => {
        s = Number(t["grpc-status"]);
      });
      again.on("data", () => {});
      again.on("close", () => resolve(s));
      again.end(frame(0, new Uint8Array(0)));
    });
    assert.equal(r, Code.OK);
    session.destroy();
  });
});

describe("gRPC client: a non-gRPC HTTP response maps to the spec's status", () => {
  for (const [status, code] of [
    [502, Code.UNAVAILABLE],
    [503, Code.UNAVAILABLE],
    [404, Code.UNIMPLEMENTED],
    [401, Code.UNAUTHENTICATED],
    [403, Code.PERMISSION_DENIED],
    [400, Code.INTERNAL],
    [500, Code.UNKNOWN],
  ] as const) {
    it(`HTTP ${status} with an HTML body -> ${Code[code as never] ?? code}`, async () => {
      const proxy = http2.createServer();
      proxy.on("stream", (stream) => {
        stream.on("error", () => {});
        stream.respond({ ":status": status, "content-type": "text/html" });
        stream.end("<html><body>Bad Gateway</body></html>");
      });
      await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
      const p = (proxy.address() as { port: number }).port;
      const t = createGrpcTransport({ baseUrl: `http://127.0.0.1:${p}` });
      const c = createClient(TestService, t);
      try {
        await c.echo({ text: "x" });
        assert.fail("expected an error");
      } catch (e) {
        assert.ok(e instanceof RpcError);
        assert.equal(e.code, code);
      } finally {
        await t.close();
        await new Promise<void>((r) => proxy.close(() => r()));
      }
    });
  }
});

describe("gRPC deadlines beyond setTimeout's range", () => {
  it("a 30-day deadline does not expire early (client and server side)", async () => {
    const server = createGrpcServer({ router: createRouter().service(TestService, createTestServiceImpl()) });
    const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
    const t = createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` });
    const c = createClient(TestService, t);
    try {
      const res = await c.sleep({ sleepMs: 50 }, { timeoutMs: 30 * 86_400_000 });
      assert.equal(res.cancelled, false);
    } finally {
      await t.close();
      await server.close({ graceMs: 1000 });
    }
  });
});
