import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, createClient, errorEndpoint, type Interceptor } from "@petrel/core";
import { TestService, drain, expectRpcError } from "@petrel/testing";
import { FakeClock, FakeEndpoint, ManualResolver, seeded, settle } from "./channel-test-fixture.js";
import { AVOID_HEADER, createChannel, pickedEndpoint, type Channel, type ChannelEvent, type ChannelOptions } from "./index.js";

function setup(n: number, opts: Partial<ChannelOptions> & { withConnect?: boolean; withHealth?: boolean } = {}) {
  const clock = new FakeClock();
  const eps = Array.from({ length: n }, (_, i) => new FakeEndpoint(String.fromCharCode(97 + i), clock, opts.withHealth ?? true));
  const byAddress = new Map(eps.map((e) => [e.endpoint.address, e]));
  const resolver = new ManualResolver();
  const events: ChannelEvent[] = [];
  const channel = createChannel({
    target: "manual:///svc",
    resolver,
    clock,
    random: seeded(1),
    transportFactory: (ep) => (byAddress.get(ep.address) as FakeEndpoint).transport(opts.withConnect ?? true),
    ...opts,
  });
  channel.onEvent((e) => events.push(e));
  resolver.push(eps.map((e) => e.endpoint));
  const client = createClient(TestService, channel);
  return { clock, eps, byAddress, resolver, events, channel, client };
}

const states = (events: ChannelEvent[], id: string) =>
  events.flatMap((e) => (e.t === "state" && e.id === id ? [`${e.from}->${e.to}`] : []));

/** Which endpoint served each of `n` echo calls. */
async function spread(channel: Channel, n: number): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  const interceptor: Interceptor = (next) => async (req) => {
    try {
      return await next(req);
    } finally {
      const id = pickedEndpoint(req)?.id ?? "?";
      seen[id] = (seen[id] ?? 0) + 1;
    }
  };
  const client = createClient(TestService, channel, { interceptors: [interceptor] });
  for (let i = 0; i < n; i++) await client.echo({ text: `m${i}` });
  return seen;
}

describe("channel: connectivity", () => {
  it("is lazy: IDLE until the first call, then connects every endpoint and round-robins", async () => {
    const { eps, channel, events } = setup(3);
    await settle();
    assert.equal(channel.state, "IDLE");
    assert.deepEqual(
      eps.map((e) => e.connectTimes.length),
      [0, 0, 0],
    );
    const seen = await spread(channel, 30);
    assert.deepEqual(seen, { a: 10, b: 10, c: 10 });
    assert.equal(channel.state, "READY");
    assert.deepEqual(states(events, "a"), ["IDLE->CONNECTING", "CONNECTING->READY"]);
    await channel.close();
    assert.equal(channel.state, "SHUTDOWN");
    assert.ok(eps.every((e) => e.closed));
  });

  it("queues calls until a subchannel is READY", async () => {
    const { eps, channel, client } = setup(1, { connectBackoff: {} });
    const a = eps[0] as FakeEndpoint;
    a.connectMode = "manual";
    const p = client.echo({ text: "queued" });
    await settle();
    assert.equal(channel.subchannels()[0]?.state, "CONNECTING");
    assert.equal(a.calls, 0, "nothing sent before READY");
    a.finishConnect(true);
    assert.equal((await p).text, "queued");
    await channel.close();
  });

  it("backoff: TRANSIENT_FAILURE retries at 1 s, then x1.6 within ±20 %; fails fast; wait-for-ready queues", async () => {
    const { eps, channel, client, clock, events } = setup(2);
    for (const e of eps) e.connectMode = "fail";
    const err = await expectRpcError(client.echo({ text: "x" }), Code.UNAVAILABLE);
    assert.match(err.message, /all 2 endpoints in TRANSIENT_FAILURE; last error: .*refused/);
    assert.equal(channel.state, "TRANSIENT_FAILURE");
    const wfr = client.echo({ text: "wait" }, { headers: { "x-petrel-wait-for-ready": "1" } });
    let settled = false;
    void wfr.then(
      () => (settled = true),
      () => (settled = true),
    );
    await clock.advance(60_000);
    assert.equal(settled, false, "wait-for-ready call still queued");
    const a = eps[0] as FakeEndpoint;
    const gaps = a.connectTimes.slice(1).map((t, i) => t - (a.connectTimes[i] as number));
    assert.ok(gaps.length >= 5, `attempts: ${gaps.length}`);
    let ideal = 1_000;
    for (const [i, g] of gaps.entries()) {
      if (i === 0) assert.equal(g, 1_000);
      else assert.ok(g >= ideal * 0.8 && g <= ideal * 1.2, `gap ${i}: ${g} within 20 % of ${ideal}`);
      ideal *= 1.6;
    }
    assert.deepEqual(states(events, "a").slice(0, 4), [
      "IDLE->CONNECTING",
      "CONNECTING->TRANSIENT_FAILURE",
      "TRANSIENT_FAILURE->CONNECTING",
      "CONNECTING->TRANSIENT_FAILURE",
    ]);
    (eps[1] as FakeEndpoint).connectMode = "ok";
    await clock.advance(120_000);
    assert.equal((await wfr).text, "wait");
    assert.equal(channel.state, "READY");
    await channel.close();
  });

  it("a connect that never answers times out after max(backoff, 20 s)", async () => {
    const { eps, channel, client, clock } = setup(1);
    (eps[0] as FakeEndpoint).connectMode = "manual";
    const p = expectRpcError(client.echo({ text: "x" }), Code.UNAVAILABLE);
    await clock.advance(19_999);
    assert.equal(channel.subchannels()[0]?.state, "CONNECTING");
    await clock.advance(1);
    assert.match((await p).message, /timed out after 20000 ms/);
    await channel.close();
  });

  it("without connect(): READY at once, an UNAVAILABLE call is the connection failure", async () => {
    const { eps, channel, client, clock, events } = setup(2, { withConnect: false });
    assert.deepEqual(await spread(channel, 4), { a: 2, b: 2 });
    (eps[0] as FakeEndpoint).down = true;
    const failures = [];
    for (let i = 0; i < 4; i++)
      failures.push(
        await client.echo({ text: "x" }).then(
          () => "ok",
          (e) => e.code,
        ),
      );
    assert.deepEqual(
      failures.filter((f) => f !== "ok"),
      [Code.UNAVAILABLE],
      "one call lost with the endpoint, the rest went to b",
    );
    assert.equal(channel.subchannels().find((s) => s.id === "a")?.state, "TRANSIENT_FAILURE");
    (eps[0] as FakeEndpoint).down = false;
    await clock.advance(1_000);
    assert.equal(channel.subchannels().find((s) => s.id === "a")?.state, "READY");
    assert.ok(states(events, "a").includes("READY->TRANSIENT_FAILURE"));
    await channel.close();
  });
});

describe("channel: address updates", () => {
  it("removed endpoints drain: in-flight calls finish, then the transport closes; new calls avoid them", async () => {
    const { eps, channel, client, resolver, clock, byAddress } = setup(2);
    const [a, b] = eps as [FakeEndpoint, FakeEndpoint];
    await spread(channel, 2);
    a.hold = true;
    b.hold = true;
    const inflight = [client.echo({ text: "1" }), client.echo({ text: "2" })];
    await settle();
    assert.equal(a.heldCount + b.heldCount, 2);
    const c = new FakeEndpoint("c", clock);
    byAddress.set(c.endpoint.address, c);
    resolver.push([b.endpoint, c.endpoint]);
    await settle();
    assert.equal(a.closed, false, "a still has a call in flight");
    assert.deepEqual(
      channel
        .subchannels()
        .map((s) => s.id)
        .sort(),
      ["b", "c"],
    );
    a.hold = false;
    b.hold = false;
    a.release();
    b.release();
    assert.deepEqual((await Promise.all(inflight)).map((r) => r.text).sort(), ["1", "2"]);
    await settle();
    assert.equal(a.closed, true, "drained, then closed");
    const seen = await spread(channel, 10);
    assert.deepEqual(Object.keys(seen).sort(), ["b", "c"]);
    await channel.close();
  });

  it("metadata changes rebuild the picker without touching the connection; an address change replaces it", async () => {
    const { eps, channel, resolver, events, byAddress, clock } = setup(1);
    const a = eps[0] as FakeEndpoint;
    await spread(channel, 1);
    const pickers = () => events.filter((e) => e.t === "picker").length;
    const before = pickers();
    resolver.push([{ ...a.endpoint, weight: 3 }]);
    await settle();
    assert.equal(pickers(), before + 1);
    assert.equal(a.connectTimes.length, 1, "no reconnect for a metadata change");
    const moved = new FakeEndpoint("a", clock);
    byAddress.set("a2.test:1", moved);
    resolver.push([{ id: "a", address: "a2.test:1" }]);
    await settle();
    assert.equal(a.closed, true);
    assert.equal(moved.connectTimes.length, 1);
    assert.equal(channel.subchannels()[0]?.address, "a2.test:1");
    await channel.close();
  });

  it("resolver errors keep the last good list; an empty list queues calls until the deadline", async () => {
    const { channel, client, resolver, events, clock } = setup(2);
    await spread(channel, 2);
    resolver.fail("registry down");
    assert.ok(events.some((e) => e.t === "resolver_error" && /registry down/.test(e.error.message)));
    assert.deepEqual(Object.keys(await spread(channel, 4)).sort(), ["a", "b"]);
    resolver.push([]);
    await settle();
    assert.equal(channel.subchannels().length, 0);
    const p = expectRpcError(client.echo({ text: "x" }, { timeoutMs: 5_000 }), Code.UNAVAILABLE);
    // Deadlines are epoch ms from the real clock; the fake one started a little earlier.
    await clock.advance(60_000);
    assert.match((await p).message, /no endpoints/);
    await channel.close();
  });

  it("close fails queued calls and waits for calls in flight", async () => {
    const { eps, channel, client } = setup(1);
    const a = eps[0] as FakeEndpoint;
    await spread(channel, 1);
    a.hold = true;
    const running = client.echo({ text: "r" });
    await settle();
    let closed = false;
    const closing = channel.close().then(() => (closed = true));
    await settle();
    assert.equal(closed, false);
    await expectRpcError(client.echo({ text: "late" }), Code.UNAVAILABLE);
    a.release();
    assert.equal((await running).text, "r");
    await closing;
    assert.equal(a.closed, true);
  });
});

describe("channel: health and outliers", () => {
  it("health Watch: NOT_SERVING leaves the picker, SERVING returns; UNIMPLEMENTED counts as serving", async () => {
    const { eps, channel, events } = setup(2, { healthCheck: {} });
    const [a] = eps as [FakeEndpoint, FakeEndpoint];
    channel.connect();
    await settle(); // both READY and SERVING before counting
    assert.deepEqual(await spread(channel, 4), { a: 2, b: 2 });
    a.health.setStatus("", "NOT_SERVING");
    await settle();
    assert.equal(channel.subchannels().find((s) => s.id === "a")?.health, "NOT_SERVING");
    assert.deepEqual(await spread(channel, 4), { b: 4 });
    a.health.setStatus("", "SERVING");
    await settle();
    assert.deepEqual(await spread(channel, 4), { a: 2, b: 2 });
    assert.ok(events.some((e) => e.t === "health" && e.id === "a" && e.status === "NOT_SERVING"));
    await channel.close();
    assert.equal(a.health.watchers, 0, "watches cancelled on close");

    const u = setup(2, { healthCheck: { service: "petrel.testing.v1.TestService" }, withHealth: false });
    u.channel.connect();
    await settle();
    assert.deepEqual(await spread(u.channel, 4), { a: 2, b: 2 });
    assert.ok(u.events.some((e) => e.t === "health" && /UNIMPLEMENTED/.test(e.reason)));
    await u.channel.close();
  });

  it("health for a named service: SERVICE_UNKNOWN is not serving", async () => {
    const { eps, channel, client, clock } = setup(1, { healthCheck: { service: "inventory" } });
    const p = expectRpcError(client.echo({ text: "x" }, { timeoutMs: 1_000 }), Code.UNAVAILABLE);
    await clock.advance(60_000);
    await p;
    (eps[0] as FakeEndpoint).health.setStatus("inventory", "SERVING");
    await settle();
    assert.equal((await client.echo({ text: "y" })).text, "y");
    await channel.close();
  });

  it("ejects after 5 consecutive failures, un-ejects after the base time, doubles it next time", async () => {
    const { eps, channel, client, clock, events } = setup(3, {
      outlierDetection: { intervalMs: 1_000, baseEjectionTimeMs: 10_000, maxEjectionPercent: 50, successRate: false },
    });
    const a = eps[0] as FakeEndpoint;
    await spread(channel, 3);
    a.failCode = Code.INTERNAL;
    let failures = 0;
    for (let i = 0; i < 30; i++) await client.echo({ text: "x" }).catch(() => failures++);
    assert.equal(failures, 5, "ejected at the fifth failure");
    assert.equal(channel.subchannels().find((s) => s.id === "a")?.ejected, true);
    a.failCode = undefined;
    await clock.advance(10_000);
    assert.ok(events.some((e) => e.t === "uneject" && e.id === "a"));
    assert.ok(Object.keys(await spread(channel, 3)).includes("a"));
    a.failCode = Code.UNKNOWN;
    for (let i = 0; i < 30; i++) await client.echo({ text: "x" }).catch(() => {});
    const ejections = events.flatMap((e) => (e.t === "eject" ? [e.durationMs] : []));
    assert.deepEqual(ejections, [10_000, 20_000]);
    await channel.close();
  });

  it("application errors (NOT_FOUND…) do not count; the ejection cap holds", async () => {
    const { eps, channel, client } = setup(3, { outlierDetection: { successRate: false } });
    const [a, b] = eps as [FakeEndpoint, FakeEndpoint];
    await spread(channel, 3);
    a.failCode = Code.NOT_FOUND;
    for (let i = 0; i < 30; i++) await client.echo({ text: "x" }).catch(() => {});
    assert.equal(channel.subchannels().filter((s) => s.ejected).length, 0);
    a.failCode = Code.UNAVAILABLE;
    b.failCode = Code.UNAVAILABLE;
    for (let i = 0; i < 60; i++) await client.echo({ text: "x" }).catch(() => {});
    assert.equal(channel.subchannels().filter((s) => s.ejected).length, 1, "10 % of 3: one host only");
    await channel.close();
  });
});

describe("channel: calls", () => {
  it("streams count as in flight until their response ends", async () => {
    const { channel, client } = setup(1);
    const it = client.serverStream({ text: "s", count: 3 })[Symbol.asyncIterator]();
    await it.next();
    assert.equal(channel.subchannels()[0]?.inflight, 1);
    assert.equal((await drain({ [Symbol.asyncIterator]: () => it })).length, 2);
    assert.equal(channel.subchannels()[0]?.inflight, 0);
    await channel.close();
  });

  it("x-petrel-avoid steers away from an endpoint and is not sent; pickedEndpoint names the endpoint", async () => {
    const { channel } = setup(2);
    channel.connect();
    await settle(); // both READY: with only `a` ready, avoiding it is impossible (best effort)
    const seen: string[] = [];
    const sent: (string | undefined)[] = [];
    const client = createClient(TestService, channel, {
      interceptors: [
        (next) => async (req) => {
          const res = await next(req);
          seen.push(pickedEndpoint(req)?.id ?? "?");
          return res;
        },
      ],
    });
    for (let i = 0; i < 6; i++) {
      const res = await client.echo(
        { text: "x" },
        { headers: { [AVOID_HEADER]: "a", "x-echo": "e" }, onHeader: (h) => sent.push(h.getString("x-echo")) },
      );
      assert.equal(res.text, "x");
    }
    assert.deepEqual(seen, ["b", "b", "b", "b", "b", "b"]);
    assert.equal(sent.length, 6);
    await channel.close();
  });

  it("a failed call's error names the endpoint it went to (what a retry avoids next)", async () => {
    const { eps, channel, client } = setup(2);
    channel.connect();
    await settle();
    const [a, b] = eps as [FakeEndpoint, FakeEndpoint];
    a.failCode = Code.UNAVAILABLE;
    b.failCode = Code.NOT_FOUND;
    const errors = await Promise.all(
      [0, 1, 2, 3].map(() =>
        client.echo({ text: "x" }).then(
          () => undefined,
          (e: unknown) => e,
        ),
      ),
    );
    const named = errors.map((e) => `${(e as { code: number }).code}@${errorEndpoint(e)}`).sort();
    assert.deepEqual(named, [`${Code.NOT_FOUND}@b`, `${Code.NOT_FOUND}@b`, `${Code.UNAVAILABLE}@a`, `${Code.UNAVAILABLE}@a`].sort());
    await channel.close();
  });

  it("rejects bad options clearly", () => {
    const base = { target: "static:///127.0.0.1:1", transportFactory: () => ({}) as never };
    assert.throws(() => createChannel({ ...base, balancer: { name: "nope" } }), /unknown balancer "nope"/);
    assert.throws(() => createChannel({ ...base, transportFactory: 5 as never }), /transportFactory/);
    assert.throws(() => createChannel({ ...base, target: "nope:///x" }), /no resolver for scheme "nope"/);
    assert.throws(() => createChannel({ ...base, outlierDetection: { maxEjectionPercent: -1 } }), /maxEjectionPercent/);
  });
});
