import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type AnyFn, Code, Metadata, RpcError, applyInterceptors, createClient, setErrorEndpoint, type Interceptor } from "@petrel/core";
import { type BreakerEvent, createRetryInterceptor } from "@petrel/resilience";
import { TestService } from "@petrel/testing";
import { FakeClock, FakeEndpoint, ManualResolver, seeded, settle } from "./channel-test-fixture.js";
import { createChannel, createEndpointHintInterceptor, createResilientChannel, pickedEndpoint, type ChannelEvent } from "./index.js";
import { notePicked, takeAvoid } from "./pick-hints.js";

function fakes(n: number) {
  const clock = new FakeClock();
  const eps = Array.from({ length: n }, (_, i) => new FakeEndpoint(String.fromCharCode(97 + i), clock, false));
  const byAddress = new Map(eps.map((e) => [e.endpoint.address, e]));
  const resolver = new ManualResolver();
  return { clock, eps, resolver, transportFactory: (ep: { address: string }) => (byAddress.get(ep.address) as FakeEndpoint).transport() };
}

/** Counts which endpoint served each call (successes only). */
function served(): { seen: Record<string, number>; ic: Interceptor } {
  const seen: Record<string, number> = {};
  const ic: Interceptor = (next) => async (req) => {
    const res = await next(req);
    const id = pickedEndpoint(req)?.id ?? "?";
    seen[id] = (seen[id] ?? 0) + 1;
    return res;
  };
  return { seen, ic };
}

describe("channel: endpointGate", () => {
  it("keeps gated endpoints out of the picker, re-checks on refreshPicker, ignores a gate that closes everything", async () => {
    const f = fakes(3);
    const closed = new Set<string>(["b"]);
    const events: ChannelEvent[] = [];
    const channel = createChannel({
      target: "manual:///svc",
      resolver: f.resolver,
      clock: f.clock,
      random: seeded(3),
      transportFactory: f.transportFactory,
      endpointGate: (id) => !closed.has(id),
    });
    channel.onEvent((e) => events.push(e));
    f.resolver.push(f.eps.map((e) => e.endpoint));
    const s = served();
    const client = createClient(TestService, channel, { interceptors: [s.ic] });
    for (let i = 0; i < 20; i++) await client.echo({ text: "x" });
    assert.equal(s.seen.b, undefined);
    assert.equal((s.seen.a ?? 0) + (s.seen.c ?? 0), 20);
    const pickers = () => events.flatMap((e) => (e.t === "picker" ? [e.ready.join(",")] : []));
    assert.ok(!pickers().some((p) => p.includes("b")), pickers().join(" "));
    assert.equal(pickers().at(-1), "a,c");
    closed.delete("b");
    channel.refreshPicker();
    for (let i = 0; i < 30; i++) await client.echo({ text: "x" });
    assert.equal(s.seen.b, 10);
    assert.equal(pickers().at(-1), "a,b,c");
    const before = pickers().length;
    // Panic mode: a gate rejecting every endpoint is ignored rather than queueing every call.
    for (const id of ["a", "b", "c"]) closed.add(id);
    channel.refreshPicker();
    await client.echo({ text: "still served" });
    assert.equal(pickers().length, before, "the ungated set is the same: no new picker");
    await channel.close();
  });

  it("rejects a gate that is not a function", () => {
    const f = fakes(1);
    assert.throws(
      () =>
        createChannel({ target: "manual:///svc", resolver: f.resolver, transportFactory: f.transportFactory, endpointGate: 1 as never }),
      /endpointGate must be a function/,
    );
  });
});

describe("createResilientChannel", () => {
  // Retry backoff runs on resilience's system clock, whose timers are unref'd: keep the loop alive.
  let keepAlive: ReturnType<typeof setInterval>;
  before(() => {
    keepAlive = setInterval(() => {}, 1000);
  });
  after(() => clearInterval(keepAlive));

  it("opens a failing endpoint's breaker, keeps it out of the picker, retries elsewhere, and lets it back in once it recovers", async () => {
    const f = fakes(3);
    const breakerEvents: string[] = [];
    const rc = createResilientChannel({
      channel: { target: "manual:///svc", resolver: f.resolver, clock: f.clock, random: seeded(7), transportFactory: f.transportFactory },
      serviceConfig: {
        methodConfig: [
          {
            name: [{}],
            retryPolicy: {
              maxAttempts: 3,
              initialBackoff: "0.001s",
              maxBackoff: "0.002s",
              backoffMultiplier: 2,
              retryableStatusCodes: ["UNAVAILABLE"],
            },
          },
        ],
      },
      breakers: {
        perMethod: false,
        windowSize: 4,
        minimumNumberOfCalls: 2,
        waitDurationInOpenStateMs: 1000,
        permittedCallsInHalfOpenState: 2,
        clock: f.clock,
        onEvent: (e: BreakerEvent) => {
          if (e.type === "state_change") breakerEvents.push(`${e.name}:${e.from}->${e.to}`);
        },
      },
      clock: f.clock,
    });
    f.resolver.push(f.eps.map((e) => e.endpoint));
    const s = served();
    const client = createClient(TestService, rc.channel, { interceptors: [...rc.interceptors, s.ic] });
    const [a] = f.eps as [FakeEndpoint];
    a.down = true;
    // Every call succeeds: an attempt that hit `a` is retried on another endpoint (avoid hint).
    for (let i = 0; i < 30; i++) await client.echo({ text: `m${i}` });
    assert.equal(s.seen.a, undefined);
    assert.equal((s.seen.b ?? 0) + (s.seen.c ?? 0), 30);
    assert.deepEqual(breakerEvents, ["a:closed->open"]);
    assert.equal(rc.breakers?.isOpen("a"), true);
    // Once open, `a` is not picked any more (its breaker would reject; the picker skips it).
    const callsWhenOpen = a.calls;
    for (let i = 0; i < 20; i++) await client.echo({ text: "x" });
    assert.equal(a.calls, callsWhenOpen);
    // Recovered: when the open wait ends, the channel re-checks the gate, probes close the breaker.
    a.down = false;
    await f.clock.advance(1001);
    for (let i = 0; i < 30; i++) await client.echo({ text: "x" });
    assert.deepEqual(breakerEvents, ["a:closed->open", "a:open->half_open", "a:half_open->closed"]);
    assert.ok((s.seen.a ?? 0) >= 2, `a served ${s.seen.a} calls after recovering`);
    await rc.close();
    await settle();
  });

  it("the hint interceptor passes earlier attempts' endpoints to the channel as avoid hints", async () => {
    const retry = createRetryInterceptor({
      policy: { maxAttempts: 4, initialBackoffMs: 1, maxBackoffMs: 1, backoffMultiplier: 1, retryableStatusCodes: [Code.UNAVAILABLE] },
    });
    const avoids: string[] = [];
    // Stands in for the channel: reads the avoid set, "picks" endpoint e<n>, fails the first three attempts.
    let n = 0;
    const channelFn: AnyFn = async (req) => {
      avoids.push([...(takeAvoid(req) ?? [])].join(","));
      notePicked(req, { id: `e${++n}`, address: `e${n}:1` });
      // Like the channel: a failed call's error names its endpoint (attempt 1 has no hint).
      if (n < 4) throw setErrorEndpoint(new RpcError(Code.UNAVAILABLE, "down"), `e${n}`);
      return { stream: false, header: new Metadata(), trailer: new Metadata(), message: {} } as never;
    };
    const fn = applyInterceptors<AnyFn>(channelFn, [retry, createEndpointHintInterceptor()]);
    await fn({ stream: false, path: "/s/M", header: new Metadata(), message: {} } as never);
    assert.deepEqual(avoids, ["", "e1", "e1,e2", "e1,e2,e3"]);
    // Without a retry (no attempt info) the interceptor does nothing.
    n = 3;
    await applyInterceptors<AnyFn>(channelFn, [createEndpointHintInterceptor()])({
      stream: false,
      path: "/s/M",
      header: new Metadata(),
      message: {},
    } as never);
    assert.equal(avoids.at(-1), "");
  });

  it("rejects an endpointGate of its own", () => {
    const f = fakes(1);
    assert.throws(
      () =>
        createResilientChannel({
          channel: { target: "manual:///svc", resolver: f.resolver, transportFactory: f.transportFactory, endpointGate: () => true },
        }),
      /endpointGate is set by this helper/,
    );
  });
});
