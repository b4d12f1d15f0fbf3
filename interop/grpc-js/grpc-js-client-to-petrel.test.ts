/**
 * Interop, direction 1: a @grpc/grpc-js client drives Petrel's gRPC server (createGrpcServer)
 * serving the reference TestService (createTestServiceImpl). Everything is observed through
 * grpc-js's public API, so a pass means a stock grpc-js client understands Petrel's wire format.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { createRouter } from "@petrel/core";
import { createGrpcServer, type GrpcServer } from "@petrel/node";
import {
  EchoRequestSchema,
  EchoResponseSchema,
  TestService,
  createTestServiceImpl,
  eventually,
  type TestServiceProbe,
} from "@petrel/testing";
import {
  collectStream,
  collectUnary,
  createGenericGrpcJsClient,
  createGrpcJsClient,
  deadlineIn,
  rawBytes,
  type EchoRequest,
  type EchoResponse,
  type In,
  type SleepResponse,
  type TestServiceClient,
  type UnaryOutcome,
} from "./grpc-js-peer.ts";

const SERVICE = "petrel.testing.v1.TestService";

function md(init: Record<string, string | Buffer> = {}): grpc.Metadata {
  const m = new grpc.Metadata();
  for (const [k, v] of Object.entries(init)) m.set(k, v);
  return m;
}

function expectStatus<R>(o: UnaryOutcome<R>, code: grpc.status): grpc.ServiceError {
  assert.ok(o.error !== undefined, `expected status ${grpc.status[code]}, call succeeded`);
  assert.equal(o.error.code, code, `expected ${grpc.status[code]}, got ${grpc.status[o.error.code]}: ${o.error.details}`);
  assert.equal(o.status.code, code);
  return o.error;
}

function ok<R>(o: UnaryOutcome<R>): R {
  assert.equal(o.error, undefined, `call failed: ${o.error?.code} ${o.error?.details}`);
  assert.equal(o.status.code, grpc.status.OK);
  assert.ok(o.response !== undefined);
  return o.response;
}

describe("interop: grpc-js client -> Petrel gRPC server", () => {
  let probe: TestServiceProbe;
  /** Methods whose Petrel handler was entered, in order (from a server interceptor). */
  const started: string[] = [];
  let server: GrpcServer;
  let port: number;
  let client: TestServiceClient;
  let generic: grpc.Client;

  const echo = (req: In<EchoRequest>, meta = md(), opts: grpc.CallOptions = {}) =>
    collectUnary<EchoResponse>((cb) => client.Echo(req, meta, opts, cb));

  before(async () => {
    probe = { cancelled: [], lastHeaders: {} };
    const router = createRouter({
      interceptors: [
        (next) => (req) => {
          started.push(req.method.name);
          return next(req);
        },
      ],
    }).service(TestService, createTestServiceImpl(probe));
    server = createGrpcServer({ router });
    ({ port } = await server.listen({ port: 0, host: "127.0.0.1" }));
    client = createGrpcJsClient(`127.0.0.1:${port}`);
    generic = createGenericGrpcJsClient(`127.0.0.1:${port}`);
  });

  after(async () => {
    client?.close();
    generic?.close();
    await server?.close({ graceMs: 1000 });
  });

  it("unary echo keeps unicode strings, bytes and int64 (beyond 2^53 and negative)", async () => {
    const payload = Buffer.from([0, 1, 2, 0x7f, 0x80, 0xfe, 0xff]);
    const text = "héllo ✓ — 鸟 🐦 \u0000 end";
    const a = ok(await echo({ text, payload, seq: "9007199254740993" }));
    assert.equal(a.text, text);
    assert.ok(Buffer.isBuffer(a.payload));
    assert.deepEqual([...a.payload], [...payload]);
    assert.equal(a.seq, "9007199254740993");
    assert.equal(a.deadlineMs, "-1", "no deadline was sent");
    const b = ok(await echo({ seq: "-9223372036854775808" }));
    assert.equal(b.seq, "-9223372036854775808");
    assert.equal(b.text, "");
    assert.equal(b.payload.length, 0);
  });

  it("an RpcError reaches grpc-js with code, message (incl. non-ASCII) and trailing metadata", async () => {
    const failMessage = "no such thing: ünïcødé 100% \r\n done";
    const o = await echo({ failCode: grpc.status.NOT_FOUND, failMessage });
    const err = expectStatus(o, grpc.status.NOT_FOUND);
    assert.equal(err.details, failMessage);
    assert.deepEqual(err.metadata.get("x-fail"), ["yes"]);
    assert.deepEqual(o.status.metadata.get("x-fail"), ["yes"]);
  });

  it("an error after the handler set response metadata carries x-fail and the echo trailers", async () => {
    const o = await echo({ failCode: grpc.status.FAILED_PRECONDITION, failMessage: "not now" }, md({ "x-echo": "e1" }));
    const err = expectStatus(o, grpc.status.FAILED_PRECONDITION);
    assert.equal(err.details, "not now");
    assert.deepEqual(err.metadata.get("x-fail"), ["yes"]);
    assert.deepEqual(err.metadata.get("x-echo-trailer"), ["e1"]);
  });

  it("every non-OK status code round trips", async () => {
    for (let code = 1; code <= 16; code++) {
      const err = expectStatus(await echo({ failCode: code, failMessage: `code ${code}` }), code);
      assert.equal(err.details, `code ${code}`);
    }
  });

  it("a plain Error becomes INTERNAL and its message stays on the server", async () => {
    const o = await echo({ text: "throw-plain-error" });
    const err = expectStatus(o, grpc.status.INTERNAL);
    assert.ok(!err.details.includes("secret"), err.details);
    assert.ok(!JSON.stringify(o.status.metadata.toJSON()).includes("secret"), "leaked in trailers");
  });

  it("unknown method and unknown service are UNIMPLEMENTED; the connection keeps serving", async () => {
    const call = (path: string) =>
      collectUnary<Buffer>((cb) => generic.makeUnaryRequest(path, rawBytes.serialize, rawBytes.deserialize, Buffer.alloc(0), md(), {}, cb));
    expectStatus(await call(`/${SERVICE}/Nope`), grpc.status.UNIMPLEMENTED);
    expectStatus(await call("/no.such.Service/Echo"), grpc.status.UNIMPLEMENTED);
    // Same channel, a real method, bytes encoded by protobuf-es: still answered.
    const req = Buffer.from(toBinary(EchoRequestSchema, create(EchoRequestSchema, { text: "still ok", seq: 5n })));
    const raw = ok(
      await collectUnary<Buffer>((cb) =>
        generic.makeUnaryRequest(`/${SERVICE}/Echo`, rawBytes.serialize, rawBytes.deserialize, req, md(), {}, cb),
      ),
    );
    const res = fromBinary(EchoResponseSchema, raw);
    assert.equal(res.text, "still ok");
    assert.equal(res.seq, 5n);
  });

  it("request metadata (incl. -bin) reaches the handler; header and trailer metadata come back", async () => {
    const bin = Buffer.from([0xde, 0xad, 0x00, 0xbe, 0xef]); // 5 bytes: base64 needs padding
    const o = await echo({ text: "x" }, md({ "x-echo": "v1", "x-echo-bin": bin, "x-other": "abc def" }));
    ok(o);
    assert.equal(probe.lastHeaders["x-echo"], "v1");
    assert.equal(probe.lastHeaders["x-other"], "abc def");
    assert.equal(probe.lastHeaders["x-echo-bin"], bin.toString("base64"), "binary header decoded to the same bytes");
    assert.ok(o.header !== undefined, "no response headers");
    assert.deepEqual(o.header.get("x-echo"), ["v1"]);
    assert.deepEqual(o.status.metadata.get("x-echo-trailer"), ["v1"]);
    const back = o.status.metadata.get("x-echo-bin");
    assert.equal(back.length, 1);
    assert.ok(Buffer.isBuffer(back[0]));
    assert.deepEqual([...(back[0] as Buffer)], [...bin]);
  });

  it("the deadline reaches the handler", async () => {
    const res = ok(await echo({ text: "d" }, md(), deadlineIn(60_000)));
    const ms = Number(res.deadlineMs);
    assert.ok(ms > 0 && ms <= 60_000, `deadlineMs=${res.deadlineMs}`);
  });

  it("an expired deadline gives DEADLINE_EXCEEDED and aborts the handler", async () => {
    const before = probe.cancelled.filter((m) => m === "Sleep").length;
    const o = await collectUnary<SleepResponse>((cb) => client.Sleep({ sleepMs: 60_000 }, md(), deadlineIn(200), cb));
    expectStatus(o, grpc.status.DEADLINE_EXCEEDED);
    await eventually(() => probe.cancelled.filter((m) => m === "Sleep").length > before, 10_000, "Sleep handler aborted by the deadline");
  });

  it("a deadline beyond 2^31-1 ms (30 days) does not expire early", async () => {
    const o = await collectUnary<SleepResponse>((cb) => client.Sleep({ sleepMs: 100 }, md(), deadlineIn(30 * 86_400_000), cb));
    const res = ok(o);
    assert.equal(res.cancelled, false);
  });

  it("call.cancel() gives CANCELLED and aborts the handler", async () => {
    const before = probe.cancelled.filter((m) => m === "Sleep").length;
    const startedBefore = started.filter((m) => m === "Sleep").length;
    const o = await collectUnary<SleepResponse>(
      (cb) => client.Sleep({ sleepMs: 60_000 }, md(), {}, cb),
      (call) => {
        // Cancel once the handler is running, so the server really has something to abort.
        void eventually(() => started.filter((m) => m === "Sleep").length > startedBefore, 10_000, "Sleep handler started").then(() =>
          call.cancel(),
        );
      },
    );
    expectStatus(o, grpc.status.CANCELLED);
    await eventually(() => probe.cancelled.filter((m) => m === "Sleep").length > before, 10_000, "Sleep handler aborted by cancel");
  });

  it("server streaming delivers every message in order, with header and trailer metadata", async () => {
    const payload = Buffer.from("pay");
    const r = await collectStream(client.ServerStream({ text: "s", count: 5, payload }, md({ "x-echo": "st" })));
    assert.equal(r.error, undefined, r.error?.details);
    assert.equal(r.status.code, grpc.status.OK);
    assert.deepEqual(
      r.messages.map((m) => m.count),
      [0, 1, 2, 3, 4],
    );
    for (const m of r.messages) {
      assert.equal(m.text, "s");
      assert.equal(m.payload.toString(), "pay");
    }
    assert.deepEqual(r.header?.get("x-echo"), ["st"]);
    assert.deepEqual(r.status.metadata.get("x-echo-trailer"), ["st"]);
  });

  it("server streaming that fails midway delivers the messages, then the status", async () => {
    const r = await collectStream(client.ServerStream({ count: 3, failCode: grpc.status.ABORTED }));
    assert.deepEqual(
      r.messages.map((m) => m.count),
      [0, 1, 2],
    );
    assert.equal(r.error?.code, grpc.status.ABORTED);
    assert.equal(r.status.code, grpc.status.ABORTED);
    assert.equal(r.status.details, "stream failed on purpose");
  });

  it("cancelling a server stream midway aborts the handler", async () => {
    const before = probe.cancelled.filter((m) => m === "ServerStream").length;
    const call = client.ServerStream({ count: 100_000, intervalMs: 5 });
    const r = collectStream(call);
    let seen = 0;
    call.on("data", () => {
      if (++seen === 3) call.cancel();
    });
    const done = await r;
    assert.equal(done.error?.code, grpc.status.CANCELLED);
    assert.ok(done.messages.length >= 3 && done.messages.length < 100_000);
    await eventually(() => probe.cancelled.filter((m) => m === "ServerStream").length > before, 10_000, "ServerStream handler aborted");
  });

  it("client streaming sends every message and gets one answer; an empty stream works", async () => {
    const o = await collectUnary<EchoResponse>((cb) => {
      const c = client.ClientStream(md({ "x-echo": "cs" }), {}, cb);
      for (const text of ["a", "b", "c"]) c.write({ text });
      c.end();
      return c;
    });
    const res = ok(o);
    assert.equal(res.text, "abc");
    assert.equal(res.count, 3);
    assert.deepEqual(o.header?.get("x-echo"), ["cs"]);
    assert.deepEqual(o.status.metadata.get("x-echo-trailer"), ["cs"]);
    const empty = ok(
      await collectUnary<EchoResponse>((cb) => {
        const c = client.ClientStream(md(), {}, cb);
        c.end();
        return c;
      }),
    );
    assert.equal(empty.count, 0);
    assert.equal(empty.text, "");
  });

  it("client streaming: an error from the handler reaches grpc-js", async () => {
    const o = await collectUnary<EchoResponse>((cb) => {
      const c = client.ClientStream(md(), {}, cb);
      c.write({ text: "a" });
      c.write({ failCode: grpc.status.OUT_OF_RANGE, failMessage: "too far" });
      c.end();
      return c;
    });
    const err = expectStatus(o, grpc.status.OUT_OF_RANGE);
    assert.equal(err.details, "too far");
    assert.deepEqual(err.metadata.get("x-fail"), ["yes"]);
  });

  it("bidi ping-pong: each answer arrives before the next request is sent", async () => {
    const call = client.Bidi(md({ "x-echo": "bd" }));
    const status = once(call, "status") as Promise<[grpc.StatusObject]>;
    const header = once(call, "metadata") as Promise<[grpc.Metadata]>;
    for (let i = 0; i < 5; i++) {
      const next = once(call, "data") as Promise<[EchoResponse]>;
      call.write({ text: `m${i}`, seq: String(1_000_000_000_000 + i) });
      const [res] = await next;
      assert.equal(res.text, `m${i}`);
      assert.equal(res.count, i);
      assert.equal(res.seq, String(1_000_000_000_000 + i));
    }
    call.end();
    call.resume();
    const [s] = await status;
    assert.equal(s.code, grpc.status.OK, s.details);
    assert.deepEqual(s.metadata.get("x-echo-trailer"), ["bd"]);
    assert.deepEqual((await header)[0].get("x-echo"), ["bd"]);
  });

  it("32 MiB each way through HTTP/2 flow control: server stream and client stream of 1 MiB messages", async () => {
    const mib = Buffer.alloc(1 << 20);
    for (let i = 0; i < mib.length; i++) mib[i] = (i * 7) & 0xff;
    const down = await collectStream(client.ServerStream({ text: "big", count: 32, payload: mib }));
    assert.equal(down.error, undefined, down.error?.details);
    assert.deepEqual(
      down.messages.map((m) => m.count),
      Array.from({ length: 32 }, (_, i) => i),
    );
    for (const m of down.messages) assert.ok(m.payload.equals(mib), `message ${m.count}: payload differs`);

    const up = ok(
      await collectUnary<EchoResponse>((cb) => {
        const c = client.ClientStream(md(), {}, cb);
        let i = 0;
        // Respect the writable's backpressure like a real grpc-js producer.
        const pump = () => {
          while (i < 32) {
            if (!c.write({ text: String.fromCharCode(97 + (i % 26)), payload: mib })) {
              i++;
              c.once("drain", pump);
              return;
            }
            i++;
          }
          c.end();
        };
        pump();
        return c;
      }),
    );
    assert.equal(up.count, 32);
    assert.equal(up.text, Array.from({ length: 32 }, (_, i) => String.fromCharCode(97 + (i % 26))).join(""));
  });

  it("a gzip-compressing grpc-js client is served correctly", async () => {
    const gz = createGrpcJsClient(`127.0.0.1:${port}`, { "grpc.default_compression_algorithm": 2 });
    try {
      const o = await collectUnary<EchoResponse>((cb) => gz.Echo({ text: "zip".repeat(100) }, md(), {}, cb));
      // compression.md: the server supports gzip, so the compressed request must be read.
      assert.equal(ok(o).text, "zip".repeat(100));
    } finally {
      gz.close();
    }
  });

  it("200 concurrent unary calls on one channel each get their own answer", async () => {
    const calls = [];
    for (let i = 0; i < 200; i++) calls.push(echo({ text: `c${i}`, seq: i }));
    const results = await Promise.all(calls);
    results.forEach((o, i) => {
      const res = ok(o);
      assert.equal(res.text, `c${i}`);
      assert.equal(res.seq, String(i));
    });
  });

  it("a 1 MiB message round trips", async () => {
    const payload = Buffer.alloc(1 << 20);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff;
    const res = ok(await echo({ payload }));
    assert.equal(res.payload.length, payload.length);
    assert.ok(res.payload.equals(payload), "payload bytes differ");
  });

  it("a request over the server's 4 MiB receive limit is RESOURCE_EXHAUSTED; the channel keeps serving", async () => {
    const o = await echo({ payload: Buffer.alloc(4 * 1024 * 1024 + 16) });
    expectStatus(o, grpc.status.RESOURCE_EXHAUSTED);
    assert.equal(ok(await echo({ text: "after" })).text, "after");
  });
});

describe("interop: grpc-js client -> Petrel gRPC server, graceful shutdown", () => {
  const started: string[] = [];
  let server: GrpcServer;
  let client: TestServiceClient;

  before(async () => {
    const router = createRouter({
      interceptors: [
        (next) => (req) => {
          started.push(req.method.name);
          return next(req);
        },
      ],
    }).service(TestService, createTestServiceImpl({ cancelled: [], lastHeaders: {} }));
    server = createGrpcServer({ router });
    const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
    client = createGrpcJsClient(`127.0.0.1:${port}`);
  });

  after(async () => {
    client?.close();
    await server?.close({ graceMs: 0 });
  });

  it("server.close() lets an in-flight grpc-js call finish (GOAWAY), then new calls are UNAVAILABLE", async () => {
    const inflight = collectUnary<SleepResponse>((cb) => client.Sleep({ sleepMs: 300 }, md(), {}, cb));
    await eventually(() => started.includes("Sleep"), 10_000, "Sleep handler started");
    const closed = server.close({ graceMs: 30_000 });
    const res = ok(await inflight);
    assert.equal(res.cancelled, false, "the in-flight call was not cut short");
    await closed;
    const after = await collectUnary<EchoResponse>((cb) => client.Echo({ text: "late" }, md(), deadlineIn(10_000), cb));
    assert.equal(after.error?.code, grpc.status.UNAVAILABLE, after.error?.details);
  });
});
