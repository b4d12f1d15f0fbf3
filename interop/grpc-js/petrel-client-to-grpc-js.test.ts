/**
 * Interop, direction 2: Petrel's gRPC client (createGrpcTransport + createClient) drives a
 * @grpc/grpc-js server implementing the TestService with the reference semantics
 * (grpc-js-peer.ts). A pass means Petrel's client understands a stock grpc-js server.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, Metadata, createClient, type Client } from "@petrel/core";
import { createGrpcTransport } from "@petrel/node";
import { EchoRequestSchema, TestService, drain, eventually, expectRpcError, from } from "@petrel/testing";
import type * as grpc from "@grpc/grpc-js";
import { startGrpcJsServer, type GrpcJsPeerServer } from "./grpc-js-peer.ts";

/** The grpc-js server accepts up to this much, so larger-than-4-MiB responses can be produced. */
const PEER_MAX_RECEIVE = 8 * 1024 * 1024;

const count = (xs: string[], m: string) => xs.filter((x) => x === m).length;

describe("interop: Petrel gRPC client -> grpc-js server", () => {
  let peer: GrpcJsPeerServer;
  let transport: ReturnType<typeof createGrpcTransport>;
  let client: Client<typeof TestService>;

  before(async () => {
    peer = await startGrpcJsServer({ "grpc.max_receive_message_length": PEER_MAX_RECEIVE });
    transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${peer.port}` });
    client = createClient(TestService, transport);
  });

  after(async () => {
    await transport?.close();
    peer?.close();
  });

  it("unary echo keeps unicode strings, bytes and int64 (beyond 2^53 and negative)", async () => {
    const payload = new Uint8Array([0, 1, 2, 0x7f, 0x80, 0xfe, 0xff]);
    const text = "héllo ✓ — 鸟 🐦 \u0000 end";
    const a = await client.echo({ text, payload, seq: 9007199254740993n });
    assert.equal(a.text, text);
    assert.deepEqual([...a.payload], [...payload]);
    assert.equal(a.seq, 9007199254740993n);
    assert.equal(a.deadlineMs, -1n, "no deadline was sent");
    const b = await client.echo({ seq: -9223372036854775808n });
    assert.equal(b.seq, -9223372036854775808n);
    assert.equal(b.text, "");
    assert.equal(b.payload.length, 0);
  });

  it("a grpc-js error status becomes an RpcError with code, message (incl. non-ASCII) and trailers", async () => {
    const failMessage = "no such thing: ünïcødé 100% \r\n done";
    let trailer: Metadata | undefined;
    const err = await expectRpcError(
      client.echo({ failCode: Code.NOT_FOUND, failMessage }, { onTrailer: (t) => (trailer = t) }),
      Code.NOT_FOUND,
    );
    assert.equal(err.rawMessage, failMessage);
    assert.equal(err.metadata.get("x-fail"), "yes");
    assert.equal(trailer?.get("x-fail"), "yes");
  });

  it("an error after response headers were sent carries x-fail and the echo trailers", async () => {
    let header: Metadata | undefined;
    const err = await expectRpcError(
      client.echo(
        { failCode: Code.FAILED_PRECONDITION, failMessage: "not now" },
        { headers: { "x-echo": "e1" }, onHeader: (h) => (header = h) },
      ),
      Code.FAILED_PRECONDITION,
    );
    assert.equal(err.rawMessage, "not now");
    assert.equal(err.metadata.get("x-fail"), "yes");
    assert.equal(err.metadata.get("x-echo-trailer"), "e1");
    assert.equal(header, undefined, "onHeader is for successful calls");
  });

  it("every non-OK status code round trips", async () => {
    for (let code = 1; code <= 16; code++) {
      const err = await expectRpcError(client.echo({ failCode: code, failMessage: `code ${code}` }), code as Code);
      assert.equal(err.rawMessage, `code ${code}`);
    }
  });

  it("INTERNAL from the server reaches the client as INTERNAL with the server's message", async () => {
    const err = await expectRpcError(client.echo({ text: "throw-plain-error" }), Code.INTERNAL);
    assert.equal(err.rawMessage, "internal error");
  });

  it("unknown method and unknown service are UNIMPLEMENTED; the transport keeps serving", async () => {
    const base = {
      stream: false as const,
      service: TestService,
      method: TestService.method.echo,
      header: new Metadata(),
      deadline: undefined,
      signal: undefined,
      codec: undefined,
      message: create(EchoRequestSchema, {}),
    };
    await expectRpcError(transport.unary({ ...base, path: "/petrel.testing.v1.TestService/Nope" }), Code.UNIMPLEMENTED);
    await expectRpcError(transport.unary({ ...base, path: "/no.such.Service/Echo" }), Code.UNIMPLEMENTED);
    assert.equal((await client.echo({ text: "still ok" })).text, "still ok");
  });

  it("request metadata (incl. -bin) reaches the handler; onHeader/onTrailer see the response metadata", async () => {
    let header: Metadata | undefined;
    let trailer: Metadata | undefined;
    const bin = new Uint8Array([0xde, 0xad, 0x00, 0xbe, 0xef]);
    await client.echo(
      { text: "x" },
      {
        headers: { "x-echo": "v1", "x-echo-bin": bin, "x-other": "abc def" },
        onHeader: (h) => (header = h),
        onTrailer: (t) => (trailer = t),
      },
    );
    assert.equal(peer.probe.lastMetadata["x-echo"], "v1");
    assert.equal(peer.probe.lastMetadata["x-other"], "abc def");
    assert.equal(peer.probe.lastMetadata["x-echo-bin"], Buffer.from(bin).toString("base64"), "grpc-js decoded the same bytes");
    assert.equal(header?.get("x-echo"), "v1");
    assert.equal(trailer?.get("x-echo-trailer"), "v1");
    const back = trailer?.get("x-echo-bin");
    assert.ok(back instanceof Uint8Array, `x-echo-bin trailer: ${String(back)}`);
    assert.deepEqual([...back], [...bin]);
  });

  it("the deadline reaches the grpc-js handler", async () => {
    const res = await client.echo({ text: "d" }, { timeoutMs: 60_000 });
    assert.ok(res.deadlineMs > 0n && res.deadlineMs <= 60_000n, `deadlineMs=${res.deadlineMs}`);
  });

  it("an expired deadline gives DEADLINE_EXCEEDED and the grpc-js handler stops", async () => {
    const before = count(peer.probe.cancelled, "Sleep") + count(peer.probe.deadlineExpired, "Sleep");
    await expectRpcError(client.sleep({ sleepMs: 60_000 }, { timeoutMs: 200 }), Code.DEADLINE_EXCEEDED);
    await eventually(
      () => count(peer.probe.cancelled, "Sleep") + count(peer.probe.deadlineExpired, "Sleep") > before,
      10_000,
      "grpc-js Sleep handler ended by the deadline",
    );
  });

  it("aborting the AbortSignal gives CANCELLED and the grpc-js handler sees 'cancelled'", async () => {
    const before = count(peer.probe.cancelled, "Sleep");
    const ac = new AbortController();
    const p = client.sleep({ sleepMs: 60_000 }, { signal: ac.signal, headers: { "x-call": "cancel-me" } });
    // Abort once the handler runs, so there is a server call to cancel.
    await eventually(() => peer.probe.lastMetadata["x-call"] === "cancel-me", 10_000, "Sleep handler started");
    ac.abort();
    await expectRpcError(p, Code.CANCELLED);
    await eventually(() => count(peer.probe.cancelled, "Sleep") > before, 10_000, "grpc-js 'cancelled' event");
  });

  it("server streaming delivers every message in order, then trailers", async () => {
    let header: Metadata | undefined;
    let trailer: Metadata | undefined;
    const msgs = await drain(
      client.serverStream(
        { text: "s", count: 5, payload: new TextEncoder().encode("pay") },
        { headers: { "x-echo": "st" }, onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t) },
      ),
    );
    assert.deepEqual(
      msgs.map((m) => m.count),
      [0, 1, 2, 3, 4],
    );
    for (const m of msgs) {
      assert.equal(m.text, "s");
      assert.equal(new TextDecoder().decode(m.payload), "pay");
    }
    assert.equal(header?.get("x-echo"), "st");
    assert.equal(trailer?.get("x-echo-trailer"), "st");
  });

  it("server streaming that fails midway delivers the messages, then the error", async () => {
    const got: number[] = [];
    const err = await expectRpcError(
      (async () => {
        for await (const m of client.serverStream({ count: 3, failCode: Code.ABORTED })) got.push(m.count);
      })(),
      Code.ABORTED,
    );
    assert.deepEqual(got, [0, 1, 2]);
    assert.equal(err.rawMessage, "stream failed on purpose");
  });

  it("a server stream failing after headers: onHeader saw them, the error carries the trailers", async () => {
    let header: Metadata | undefined;
    const got: number[] = [];
    const err = await expectRpcError(
      (async () => {
        for await (const m of client.serverStream(
          { count: 2, failCode: Code.DATA_LOSS },
          { headers: { "x-echo": "sf" }, onHeader: (h) => (header = h) },
        )) {
          got.push(m.count);
        }
      })(),
      Code.DATA_LOSS,
    );
    assert.deepEqual(got, [0, 1]);
    assert.equal(header?.get("x-echo"), "sf");
    assert.equal(err.metadata.get("x-echo-trailer"), "sf");
  });

  it("breaking out of a server stream cancels the grpc-js handler", async () => {
    const before = count(peer.probe.cancelled, "ServerStream");
    for await (const m of client.serverStream({ count: 100_000, intervalMs: 5 })) {
      if (m.count === 2) break;
    }
    await eventually(() => count(peer.probe.cancelled, "ServerStream") > before, 10_000, "grpc-js ServerStream 'cancelled'");
  });

  it("client streaming sends every message and gets one answer; an empty stream works", async () => {
    let header: Metadata | undefined;
    let trailer: Metadata | undefined;
    const res = await client.clientStream(from([{ text: "a" }, { text: "b" }, { text: "c" }]), {
      headers: { "x-echo": "cs" },
      onHeader: (h) => (header = h),
      onTrailer: (t) => (trailer = t),
    });
    assert.equal(res.text, "abc");
    assert.equal(res.count, 3);
    assert.equal(header?.get("x-echo"), "cs");
    assert.equal(trailer?.get("x-echo-trailer"), "cs");
    const empty = await client.clientStream(from([]));
    assert.equal(empty.count, 0);
    assert.equal(empty.text, "");
  });

  it("client streaming: an error from the grpc-js handler reaches the client", async () => {
    const err = await expectRpcError(
      client.clientStream(from([{ text: "a" }, { failCode: Code.OUT_OF_RANGE, failMessage: "too far" }])),
      Code.OUT_OF_RANGE,
    );
    assert.equal(err.rawMessage, "too far");
    assert.equal(err.metadata.get("x-fail"), "yes");
  });

  it("bidi ping-pong: each answer arrives before the next request is sent", async () => {
    let sent = 0;
    let received = 0;
    let wake: (() => void) | undefined;
    let trailer: Metadata | undefined;
    async function* requests() {
      for (let i = 0; i < 5; i++) {
        while (received < i) await new Promise<void>((r) => (wake = r));
        sent++;
        yield { text: `m${i}`, seq: BigInt(1_000_000_000_000 + i) };
      }
    }
    for await (const res of client.bidi(requests(), { headers: { "x-echo": "bd" }, onTrailer: (t) => (trailer = t) })) {
      assert.equal(res.text, `m${received}`);
      assert.equal(res.count, received);
      assert.equal(res.seq, BigInt(1_000_000_000_000 + received));
      assert.equal(sent, received + 1, "the answer came before the next request was produced");
      received++;
      wake?.();
    }
    assert.equal(received, 5);
    assert.equal(trailer?.get("x-echo-trailer"), "bd");
  });

  it("32 MiB each way through HTTP/2 flow control, with a slow reader", async () => {
    const mib = new Uint8Array(1 << 20);
    for (let i = 0; i < mib.length; i++) mib[i] = (i * 7) & 0xff;
    const expected = Buffer.from(mib);
    const counts: number[] = [];
    for await (const m of client.serverStream({ text: "big", count: 32, payload: mib })) {
      assert.ok(Buffer.from(m.payload).equals(expected), `message ${m.count}: payload differs`);
      counts.push(m.count);
      // A slow consumer: Petrel's transport must pause the HTTP/2 stream and resume it.
      await new Promise((r) => setImmediate(r));
    }
    assert.deepEqual(
      counts,
      Array.from({ length: 32 }, (_, i) => i),
    );
    const letters = Array.from({ length: 32 }, (_, i) => String.fromCharCode(97 + (i % 26)));
    const up = await client.clientStream(from(letters.map((text) => ({ text, payload: mib }))));
    assert.equal(up.count, 32);
    assert.equal(up.text, letters.join(""));
  });

  it("200 concurrent unary calls on one transport each get their own answer", async () => {
    const calls = [];
    for (let i = 0; i < 200; i++) calls.push(client.echo({ text: `c${i}`, seq: BigInt(i) }));
    const results = await Promise.all(calls);
    results.forEach((res, i) => {
      assert.equal(res.text, `c${i}`);
      assert.equal(res.seq, BigInt(i));
    });
  });

  it("a 1 MiB message round trips", async () => {
    const payload = new Uint8Array(1 << 20);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff;
    const res = await client.echo({ payload });
    assert.equal(res.payload.length, payload.length);
    assert.ok(Buffer.from(res.payload).equals(Buffer.from(payload)), "payload bytes differ");
  });

  it("a response over Petrel's 4 MiB receive limit is RESOURCE_EXHAUSTED; the transport keeps serving", async () => {
    // The request (5 MiB) is within grpc-js's raised limit; its echo is over Petrel's default 4 MiB.
    await expectRpcError(client.echo({ payload: new Uint8Array(5 * 1024 * 1024) }), Code.RESOURCE_EXHAUSTED);
    assert.equal((await client.echo({ text: "after" })).text, "after");
  });

  it("a request over grpc-js's receive limit is RESOURCE_EXHAUSTED from the server", async () => {
    await expectRpcError(client.echo({ payload: new Uint8Array(PEER_MAX_RECEIVE + 16) }), Code.RESOURCE_EXHAUSTED);
    assert.equal((await client.echo({ text: "after" })).text, "after");
  });
});

describe("interop: Petrel gRPC client -> grpc-js server, compression and shutdown", () => {
  it("a grpc-js server configured for gzip answers Petrel uncompressed (Petrel accepts identity only)", async () => {
    const peer = await startGrpcJsServer({ "grpc.default_compression_algorithm": 2 } as grpc.ServerOptions);
    const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${peer.port}` });
    try {
      const client = createClient(TestService, transport);
      const text = "z".repeat(10_000); // compressible: gzip would be used if allowed
      assert.equal((await client.echo({ text })).text, text);
      const counts: number[] = [];
      for await (const m of client.serverStream({ text, count: 3 })) {
        assert.equal(m.text, text);
        counts.push(m.count);
      }
      assert.deepEqual(counts, [0, 1, 2]);
    } finally {
      await transport.close();
      peer.close();
    }
  });

  it("grpc-js tryShutdown lets Petrel's in-flight call finish (GOAWAY), then new calls are UNAVAILABLE", async () => {
    const peer = await startGrpcJsServer();
    const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${peer.port}` });
    try {
      const client = createClient(TestService, transport);
      const inflight = client.sleep({ sleepMs: 300 }, { headers: { "x-call": "drain-me" } });
      await eventually(() => peer.probe.lastMetadata["x-call"] === "drain-me", 10_000, "Sleep handler started");
      const shutDown = new Promise<void>((resolve, reject) => peer.server.tryShutdown((e) => (e ? reject(e) : resolve())));
      const res = await inflight;
      assert.equal(res.cancelled, false, "the in-flight call was not cut short");
      await shutDown;
      await expectRpcError(client.echo({ text: "late" }, { timeoutMs: 10_000 }), Code.UNAVAILABLE);
    } finally {
      await transport.close();
      peer.close();
    }
  });
});
