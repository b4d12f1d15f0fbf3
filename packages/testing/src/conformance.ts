import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, Metadata, RpcError, createClient, createRouter, type Router, type Transport } from "@petrel/core";
import { EchoRequestSchema, TestService } from "./gen/petrel/testing/v1/test_pb.js";
import { createTestServiceImpl, type TestServiceProbe } from "./test-service.js";

/** A server+client pair under test. */
export interface ConformanceTarget {
  transport: Transport;
  close(): Promise<void>;
}

/** Makes a target that serves `router` (which already has TestService registered). */
export type ConformanceSetup = (router: Router) => Promise<ConformanceTarget>;

/** Polls `cond` until true; fails after `timeoutMs` (generous: CI boxes are busy). */
export async function eventually(cond: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Awaits `p` and asserts it failed with an RpcError of `code`; returns the error. */
export async function expectRpcError(p: Promise<unknown>, code: Code): Promise<RpcError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof RpcError, `expected RpcError, got ${String(e)}`);
    assert.equal(e.code, code, `expected code ${code}, got ${e.code}: ${e.message}`);
    return e;
  }
  assert.fail(`expected RpcError ${code}, call succeeded`);
}

/** Collects an async iterable into an array. */
export async function drain<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** An async iterable over `items` (a request stream for tests). */
export async function* from<T>(items: T[]): AsyncGenerator<T> {
  for (const x of items) yield x;
}

/**
 * The behaviour every transport must show, run against a real target: all four call kinds,
 * errors and their trailers, metadata both ways, deadlines and cancellation reaching the handler,
 * unknown methods, codecs, and many calls in flight at once.
 */
export function describeTransportConformance(name: string, setup: ConformanceSetup): void {
  describe(`transport conformance: ${name}`, () => {
    let probe: TestServiceProbe;
    let target: ConformanceTarget;
    let client: ReturnType<typeof createClient<typeof TestService>>;

    before(async () => {
      probe = { cancelled: [], lastHeaders: {} };
      const router = createRouter().service(TestService, createTestServiceImpl(probe));
      target = await setup(router);
      client = createClient(TestService, target.transport);
    });
    after(async () => {
      await target.close();
    });

    it("unary round trip keeps strings, bytes and int64", async () => {
      const payload = new Uint8Array([0, 1, 2, 255]);
      const res = await client.echo({ text: "héllo ✓", payload, seq: 9007199254740993n });
      assert.equal(res.text, "héllo ✓");
      assert.deepEqual([...res.payload], [...payload]);
      assert.equal(res.seq, 9007199254740993n);
      assert.equal(res.deadlineMs, -1n);
    });

    it("an RpcError thrown by the handler reaches the client with code, message and trailers", async () => {
      let trailer: Metadata | undefined;
      const err = await expectRpcError(
        client.echo({ failCode: Code.NOT_FOUND, failMessage: "no such thing" }, { onTrailer: (t) => (trailer = t) }),
        Code.NOT_FOUND,
      );
      assert.equal(err.rawMessage, "no such thing");
      assert.equal(err.metadata.get("x-fail"), "yes");
      assert.equal(trailer?.get("x-fail"), "yes");
    });

    it("a plain Error becomes INTERNAL and its message and stack stay on the server", async () => {
      const err = await expectRpcError(client.echo({ text: "throw-plain-error" }), Code.INTERNAL);
      assert.ok(!err.message.includes("secret"), err.message);
      assert.ok(!String(err.stack).includes("test-service"), "server stack leaked");
    });

    it("unknown method and unknown service are UNIMPLEMENTED", async () => {
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
      await expectRpcError(target.transport.unary({ ...base, path: "/petrel.testing.v1.TestService/Nope" }), Code.UNIMPLEMENTED);
      await expectRpcError(target.transport.unary({ ...base, path: "/no.such.Service/Echo" }), Code.UNIMPLEMENTED);
      // The connection still serves afterwards.
      assert.equal((await client.echo({ text: "still ok" })).text, "still ok");
    });

    it("request headers reach the handler; response headers and trailers reach the client", async () => {
      let header: Metadata | undefined;
      let trailer: Metadata | undefined;
      const bin = new Uint8Array([0xde, 0xad, 0, 0xbe, 0xef]);
      await client.echo(
        { text: "x" },
        { headers: { "x-echo": "v1", "x-echo-bin": bin }, onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t) },
      );
      assert.equal(probe.lastHeaders["x-echo"], "v1");
      assert.equal(header?.get("x-echo"), "v1");
      assert.equal(trailer?.get("x-echo-trailer"), "v1");
      assert.ok(trailer !== undefined);
      assert.deepEqual([...(trailer.get("x-echo-bin") as Uint8Array)], [...bin]);
    });

    it("the deadline reaches the handler", async () => {
      const res = await client.echo({ text: "d" }, { timeoutMs: 60_000 });
      assert.ok(res.deadlineMs > 0n && res.deadlineMs <= 60_000n, `deadlineMs=${res.deadlineMs}`);
    });

    it("a passed deadline fails with DEADLINE_EXCEEDED and aborts the handler", async () => {
      const before = probe.cancelled.length;
      await expectRpcError(client.sleep({ sleepMs: 60_000 }, { timeoutMs: 50 }), Code.DEADLINE_EXCEEDED);
      await eventually(() => probe.cancelled.length > before, 10_000, "handler abort on deadline");
    });

    it("client cancellation fails with CANCELLED and aborts the handler", async () => {
      const before = probe.cancelled.length;
      const ac = new AbortController();
      const p = client.sleep({ sleepMs: 60_000 }, { signal: ac.signal });
      setTimeout(() => ac.abort(), 30);
      await expectRpcError(p, Code.CANCELLED);
      await eventually(() => probe.cancelled.length > before, 10_000, "handler abort on cancel");
    });

    it("server streaming delivers every message in order, then trailers", async () => {
      let trailer: Metadata | undefined;
      const msgs = await drain(
        client.serverStream({ text: "s", count: 5 }, { headers: { "x-echo": "st" }, onTrailer: (t) => (trailer = t) }),
      );
      assert.deepEqual(
        msgs.map((m) => m.count),
        [0, 1, 2, 3, 4],
      );
      assert.equal(trailer?.get("x-echo-trailer"), "st");
    });

    it("server streaming that fails midway delivers the messages, then the error", async () => {
      const got: number[] = [];
      await expectRpcError(
        (async () => {
          for await (const m of client.serverStream({ count: 3, failCode: Code.ABORTED })) got.push(m.count);
        })(),
        Code.ABORTED,
      );
      assert.deepEqual(got, [0, 1, 2]);
    });

    it("breaking out of a server stream cancels the handler", async () => {
      const before = probe.cancelled.length;
      for await (const m of client.serverStream({ count: 1000, intervalMs: 5 })) {
        if (m.count === 2) break;
      }
      await eventually(() => probe.cancelled.length > before, 10_000, "handler abort on early break");
    });

    it("client streaming sends every message and gets one answer; an empty stream works", async () => {
      const res = await client.clientStream(from([{ text: "a" }, { text: "b" }, { text: "c" }]));
      assert.equal(res.text, "abc");
      assert.equal(res.count, 3);
      const empty = await client.clientStream(from([]));
      assert.equal(empty.count, 0);
    });

    it("client streaming error from the handler reaches the client", async () => {
      await expectRpcError(client.clientStream(from([{ text: "a" }, { failCode: Code.OUT_OF_RANGE }])), Code.OUT_OF_RANGE);
    });

    it("bidi streaming ping-pongs: each answer arrives before the next request is sent", async () => {
      let sent = 0;
      let received = 0;
      let wake: (() => void) | undefined;
      async function* requests() {
        for (let i = 0; i < 5; i++) {
          while (received < i) await new Promise<void>((r) => (wake = r));
          sent++;
          yield { text: `m${i}`, seq: BigInt(i) };
        }
      }
      for await (const res of client.bidi(requests())) {
        assert.equal(res.text, `m${received}`);
        assert.equal(sent, received + 1, "the answer came before the next request was produced");
        received++;
        wake?.();
      }
      assert.equal(received, 5);
    });

    it("the json codec works per call", async () => {
      const res = await client.echo({ text: "json!", seq: 7n }, { codec: "json" });
      assert.equal(res.text, "json!");
      assert.equal(res.seq, 7n);
    });

    it("an unknown codec is UNIMPLEMENTED", async () => {
      await expectRpcError(client.echo({ text: "x" }, { codec: "no-such-codec" }), Code.UNIMPLEMENTED);
    });

    it("500 concurrent calls on one transport all get their own answer", async () => {
      const calls = [];
      for (let i = 0; i < 500; i++) calls.push(client.echo({ text: `c${i}`, seq: BigInt(i) }));
      const results = await Promise.all(calls);
      for (let i = 0; i < 500; i++) {
        assert.equal(results[i]?.text, `c${i}`);
        assert.equal(results[i]?.seq, BigInt(i));
      }
    });

    it("a large message (1 MiB) round trips", async () => {
      const payload = new Uint8Array(1 << 20);
      for (let i = 0; i < payload.length; i++) payload[i] = i & 0xff;
      const res = await client.echo({ payload });
      assert.equal(res.payload.length, payload.length);
      assert.equal(res.payload[123456], 123456 & 0xff);
    });
  });
}
