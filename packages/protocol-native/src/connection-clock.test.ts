import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, Metadata, RpcError, createRouter, type UnaryRequest } from "@petrel/core";
import { SleepRequestSchema, TestService, createTestServiceImpl, type TestServiceProbe } from "@petrel/testing";
import { FakeClock, channelPair, settle } from "./fake-clock-fixture.js";
import { createNativeClientTransport, ServerConnection, type ClosableTransport } from "./index.js";

function sleepRequest(deadline: number | undefined, sleepMs: number): UnaryRequest {
  return {
    stream: false,
    service: TestService,
    method: TestService.method.sleep,
    path: "/petrel.testing.v1.TestService/Sleep",
    header: new Metadata(),
    deadline,
    signal: undefined,
    codec: undefined,
    message: create(SleepRequestSchema, { sleepMs }),
  };
}

/** A client transport and a server connection over an in-memory channel, both on one fake clock. */
function setup(options: { keepaliveMs?: number; keepaliveTimeoutMs?: number; idleTimeoutMs?: number } = {}) {
  const clock = new FakeClock();
  const probe: TestServiceProbe = { cancelled: [], lastHeaders: {} };
  const router = createRouter().service(TestService, createTestServiceImpl(probe));
  const pair = channelPair();
  let server: ServerConnection | undefined;
  const transport: ClosableTransport = createNativeClientTransport({
    address: "fake:1",
    clock,
    keepaliveMs: options.keepaliveMs ?? 0,
    keepaliveTimeoutMs: options.keepaliveTimeoutMs,
    dial: (address, events) => {
      const ch = pair.dial(address, events);
      server = new ServerConnection(
        pair.accept({
          onOpen: () => {},
          onData: (c) => server?.onData(c),
          onClose: (e) => server?.onClose(e),
        }),
        { router, peerAddress: "fake", clock, idleTimeoutMs: options.idleTimeoutMs ?? 0 },
      );
      server.onOpen();
      return ch;
    },
  });
  return { clock, probe, transport, pair, server: () => server };
}

async function outcome(p: Promise<unknown>): Promise<Code | "ok"> {
  try {
    await p;
    return "ok";
  } catch (e) {
    assert.ok(e instanceof RpcError, String(e));
    return e.code;
  }
}

describe("petrel/1 timing logic on a fake clock", () => {
  it("a deadline expires only when the clock passes it; both sides act on it", async () => {
    const { clock, transport, server } = setup();
    // The handler sleeps with a real timer for 60 s; the deadline is 100 fake ms away.
    let settled = false;
    const call = outcome(transport.unary(sleepRequest(clock.now() + 100, 60_000))).then((r) => {
      settled = true;
      return r;
    });
    await settle();
    await clock.advance(99);
    assert.equal(settled, false, "not expired 1 ms early");
    assert.equal(server()?.activeStreams, 1);
    await clock.advance(10);
    assert.equal(await call, Code.DEADLINE_EXCEEDED);
    await settle();
    assert.equal(server()?.activeStreams, 0, "the server ended its side of the stream");
    await transport.close();
  });

  it("keepalive: a silent peer is declared dead after interval + timeout, not before", async () => {
    const { clock, transport, pair } = setup({ keepaliveMs: 1000, keepaliveTimeoutMs: 500 });
    // Connect with a quick call, then the peer vanishes.
    assert.equal(await outcome(transport.unary(sleepRequest(undefined, 0))), "ok");
    pair.blackhole();
    let settled = false;
    const call = outcome(transport.unary(sleepRequest(undefined, 0))).then((r) => {
      settled = true;
      return r;
    });
    await clock.advance(1400);
    assert.equal(settled, false, "a PING is out, its timeout not yet reached");
    await clock.advance(400);
    assert.equal(await call, Code.UNAVAILABLE);
    await transport.close();
  });

  it("idle timeout: the server closes a connection without streams after exactly its timeout", async () => {
    const { clock, transport, server } = setup({ idleTimeoutMs: 5000 });
    assert.equal(await outcome(transport.unary(sleepRequest(undefined, 0))), "ok");
    await clock.advance(4000);
    assert.equal(server()?.closed, false);
    await clock.advance(2000);
    await settle();
    assert.equal(server()?.closed, true);
    await transport.close();
  });
});
