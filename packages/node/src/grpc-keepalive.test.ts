/** Keepalive: the ping enforcement policy (fake clock), GOAWAY too_many_pings on the wire, client dead-peer detection. */
import assert from "node:assert/strict";
import * as http2 from "node:http2";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { describe, it } from "node:test";
import { createClient, createRouter } from "@petrel/core";
import { createGrpcServer, createGrpcTransport, grpcConnectionChannel, PingEnforcer, type GrpcConnectionEvent } from "@petrel/node";
import { TestService, createTestServiceImpl, eventually } from "@petrel/testing";
import { SentBytesTracker, PING_FRAME_BYTES } from "./grpc-keepalive.ts";

const MIN = 60_000;

describe("PingEnforcer (grpc-go EnforcementPolicy)", () => {
  const clock = () => {
    let t = 1_000_000;
    return { now: () => t, advance: (ms: number) => (t += ms) };
  };

  it("pings at the allowed rate never strike", () => {
    const c = clock();
    const e = new PingEnforcer({ minTimeMs: MIN, permitWithoutCalls: false }, c.now);
    for (let i = 0; i < 20; i++) {
      assert.equal(e.onPing(1, false), false);
      c.advance(MIN);
    }
    assert.equal(e.strikes, 0);
  });

  it("two strikes are tolerated, the third too-early ping means GOAWAY", () => {
    const c = clock();
    const e = new PingEnforcer({ minTimeMs: MIN, permitWithoutCalls: false }, c.now);
    assert.equal(e.onPing(1, false), false, "first ping is never a strike");
    c.advance(MIN - 1);
    assert.equal(e.onPing(1, false), false);
    c.advance(1);
    assert.equal(e.onPing(1, false), false);
    assert.equal(e.strikes, 2);
    c.advance(10);
    assert.equal(e.onPing(1, false), true);
  });

  it("without calls, pings closer than 2 hours strike unless permitWithoutCalls", () => {
    const c = clock();
    const strict = new PingEnforcer({ minTimeMs: MIN, permitWithoutCalls: false }, c.now);
    const lenient = new PingEnforcer({ minTimeMs: MIN, permitWithoutCalls: true }, c.now);
    let goaway = false;
    for (let i = 0; i < 4; i++) {
      goaway = strict.onPing(0, false);
      assert.equal(lenient.onPing(0, false), false);
      c.advance(10 * MIN);
    }
    assert.equal(goaway, true);
    assert.equal(lenient.strikes, 0);
  });

  it("a ping after the server sent data resets the strikes", () => {
    const c = clock();
    const e = new PingEnforcer({ minTimeMs: MIN, permitWithoutCalls: false }, c.now);
    for (let i = 0; i < 10; i++) {
      assert.equal(e.onPing(1, i % 2 === 0), false);
      c.advance(1);
    }
  });

  it("SentBytesTracker tells ping ACKs from other frames, also when ACKs lag behind", () => {
    const t = new SentBytesTracker(100);
    assert.equal(t.onPingReceived(100), false, "nothing sent yet");
    assert.equal(t.onPingReceived(100 + PING_FRAME_BYTES), false, "only the first ping's ACK");
    // Two pings in one read: the second sees the first's ACK not yet flushed.
    assert.equal(t.onPingReceived(100 + 2 * PING_FRAME_BYTES), false);
    assert.equal(t.onPingReceived(100 + 2 * PING_FRAME_BYTES), false);
    assert.equal(t.onPingReceived(100 + 4 * PING_FRAME_BYTES), false, "the lagging ACKs caught up");
    assert.equal(t.onPingReceived(100 + 5 * PING_FRAME_BYTES + 30), true, "a 30-byte frame was sent");
    t.onPingSent();
    assert.equal(t.onPingReceived(100 + 7 * PING_FRAME_BYTES + 30), false, "our own ping is not data");
  });
});

function connectionEvents(): { events: GrpcConnectionEvent[]; stop(): void } {
  const events: GrpcConnectionEvent[] = [];
  const fn = (m: unknown) => events.push(m as GrpcConnectionEvent);
  subscribe(grpcConnectionChannel.name, fn);
  return { events, stop: () => unsubscribe(grpcConnectionChannel.name, fn) };
}

describe("keepalive on the wire", () => {
  it("a client pinging in a loop gets GOAWAY ENHANCE_YOUR_CALM too_many_pings; a quiet session keeps working", async () => {
    const seen = connectionEvents();
    const server = createGrpcServer({ router: createRouter().service(TestService, createTestServiceImpl()) });
    const { port } = await server.listen();
    const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` });
    const raw = http2.connect(`http://127.0.0.1:${port}`);
    raw.on("error", () => {});
    try {
      const client = createClient(TestService, transport);
      assert.equal((await client.echo({ text: "before" })).text, "before");
      const goaway = new Promise<{ code: number; data: string }>((resolve) =>
        raw.once("goaway", (code: number, _last: number, data?: Buffer) => resolve({ code, data: data?.toString() ?? "" })),
      );
      if (raw.connecting) await new Promise<void>((resolve) => raw.once("connect", () => resolve()));
      let pings = 0;
      let gotGoaway = false;
      void goaway.then(() => (gotGoaway = true));
      // Bounded loop: the default policy allows two strikes, so the fourth ping must be refused.
      for (; pings < 50 && !gotGoaway && !raw.destroyed; pings++) {
        await new Promise<void>((resolve) => {
          if (!raw.ping(() => resolve())) resolve();
        });
      }
      const g = await goaway;
      assert.equal(g.code, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
      assert.equal(g.data, "too_many_pings");
      assert.ok(pings <= 10, `GOAWAY came after ${pings} pings`);
      await eventually(() => raw.destroyed || raw.closed, 10_000, "the pinging session to close");
      assert.equal(seen.events.filter((e) => e.t === "too_many_pings").length, 1);
      assert.equal((await client.echo({ text: "after" })).text, "after");
    } finally {
      seen.stop();
      raw.destroy();
      await transport.close();
      await server.close({ graceMs: 2000 });
    }
  });
});
