import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, RpcError, createClient, createInMemoryTransport, createRouter } from "@petrel/core";
import { FakeClock, Recorder, settle } from "./fake-clock-fixture.js";
import {
  Registry,
  createRegistryRegistrar,
  createRegistryResolverFactory,
  createRegistryService,
  parseTarget,
  type RegistryService,
} from "./index.js";

/** A registry behind an in-memory transport; `swap` replaces it (an in-process "restart"). */
function setup(options: { warmupMs?: number } = {}) {
  const clock = new FakeClock();
  const make = (warmupMs: number) => createRegistryService({ clock, minTtlMs: 100, warmupMs });
  const box = { registry: make(options.warmupMs ?? 0) };
  const router = createRouter().service(Registry, {
    register: (r, c) => box.registry.impl.register(r, c),
    heartbeat: (r, c) => box.registry.impl.heartbeat(r, c),
    deregister: (r, c) => box.registry.impl.deregister(r, c),
    list: (r, c) => box.registry.impl.list(r, c),
    watch: (r, c) => box.registry.impl.watch(r, c),
  });
  const transport = createInMemoryTransport(router);
  const swap = (warmupMs: number): RegistryService => {
    box.registry.close();
    box.registry = make(warmupMs);
    return box.registry;
  };
  return { clock, registry: box.registry, transport, client: createClient(Registry, transport), swap };
}

const ids = (r: RegistryService, s: string) => r.list(s).map((e) => e.id);

describe("registry service (fake clock, in-memory transport)", () => {
  it("a lease expires after its TTL unless heartbeats extend it", async () => {
    const { clock, registry, client } = setup();
    const a = await client.register({ service: "inv", instance: { address: "127.0.0.1:7001" }, ttlMs: 1_000 });
    await client.register({ service: "inv", instance: { id: "b", address: "127.0.0.1:7002" }, ttlMs: 1_000 });
    assert.equal(a.ttlMs, 1_000);
    assert.deepEqual(ids(registry, "inv"), ["127.0.0.1:7001", "b"]);
    for (let i = 0; i < 5; i++) {
      await clock.advance(900);
      await client.heartbeat({ leaseId: a.leaseId });
    }
    assert.deepEqual(ids(registry, "inv"), ["127.0.0.1:7001"], "b expired, a kept alive");
    await clock.advance(1_000);
    assert.deepEqual(ids(registry, "inv"), []);
    assert.equal(registry.leases, 0);
    await assert.rejects(client.heartbeat({ leaseId: a.leaseId }), (e: unknown) => e instanceof RpcError && e.code === Code.NOT_FOUND);
    await client.deregister({ leaseId: a.leaseId }); // idempotent
    registry.close();
  });

  it("validates input and clamps the TTL", async () => {
    const { client, registry } = setup();
    for (const req of [{ service: "", instance: { address: "h:1" } }, { service: "s" }, { service: "s", instance: { address: "nope" } }]) {
      await assert.rejects(client.register(req), (e: unknown) => e instanceof RpcError && e.code === Code.INVALID_ARGUMENT);
    }
    assert.equal((await client.register({ service: "s", instance: { address: "h:1" }, ttlMs: 1 })).ttlMs, 100);
    assert.equal((await client.register({ service: "s", instance: { address: "h:2" } })).ttlMs, 10_000);
    registry.close();
  });

  it("Watch delivers add, update and remove as full snapshots, with a growing revision", async () => {
    const { registry, client } = setup();
    const ac = new AbortController();
    const it = client.watch({ service: "inv" }, { signal: ac.signal })[Symbol.asyncIterator]();
    const next = async () => {
      const r = await it.next();
      assert.equal(r.done, false);
      return r.value;
    };
    const first = await next();
    assert.deepEqual(first.instances, []);
    const a = await client.register({ service: "inv", instance: { id: "a", address: "127.0.0.1:1", weight: 2 }, ttlMs: 1_000 });
    const s1 = await next();
    assert.deepEqual(
      s1.instances.map((i) => [i.id, i.weight]),
      [["a", 2]],
    );
    assert.ok(s1.revision > first.revision);
    await client.register({ service: "other", instance: { address: "127.0.0.1:9" }, ttlMs: 1_000 }); // not our service
    await client.register({ service: "inv", instance: { id: "a", address: "127.0.0.1:1", weight: 5 }, ttlMs: 1_000 });
    const s2 = await next();
    assert.deepEqual(
      s2.instances.map((i) => [i.id, i.weight]),
      [["a", 5]],
      "update",
    );
    await client.deregister({ leaseId: a.leaseId });
    assert.deepEqual(registry.list("inv").length, 1, "the old lease no longer owns a (replaced)");
    registry.close(); // ends watches
    await settle();
    assert.equal(registry.watchers, 0);
    ac.abort();
  });
});

describe("registry registrar and resolver (fake clock)", () => {
  it("keeps a registration alive at ttl/3, re-registers after lease loss, deregisters on close", async () => {
    const { clock, registry, transport, swap } = setup();
    const errors: Error[] = [];
    const registrar = createRegistryRegistrar({ address: "registry:1", transport: () => transport, clock, onError: (e) => errors.push(e) });
    const reg = await registrar.register("inv", { id: "i1", address: "127.0.0.1:7001", weight: 3 }, { ttlMs: 900 });
    assert.equal(reg.service, "inv");
    assert.deepEqual(registry.list("inv"), [{ id: "i1", address: "127.0.0.1:7001", weight: 3 }]);
    await clock.advance(10_000); // > 10 TTLs: heartbeats at 300 ms keep it
    assert.deepEqual(ids(registry, "inv"), ["i1"]);
    assert.equal(errors.length, 0);
    // The registry restarts and forgets the lease: the next heartbeat gets NOT_FOUND -> register again.
    const restarted = swap(0);
    await clock.advance(300);
    assert.ok(errors.some((e) => e instanceof RpcError && e.code === Code.NOT_FOUND));
    assert.deepEqual(ids(restarted, "inv"), ["i1"], "registered again");
    assert.equal(restarted.leases, 1);
    await registrar.close();
    assert.deepEqual(ids(restarted, "inv"), [], "deregistered at once");
    restarted.close();
    assert.equal(clock.pending, 0, "no timers left behind");
  });

  it("a registrant that stops heartbeating disappears after its TTL; the resolver sees add and remove", async () => {
    const { clock, registry, transport } = setup();
    const rec = new Recorder();
    const factory = createRegistryResolverFactory({ transport: () => transport });
    const resolver = factory.build(parseTarget("petrel://registry:1/inv"), rec, { clock });
    await settle();
    assert.deepEqual(rec.updates, [[]], "the registry says: none");
    const client = createClient(Registry, transport);
    await client.register({ service: "inv", instance: { address: "127.0.0.1:1" }, ttlMs: 1_000 });
    await settle();
    assert.deepEqual(rec.addresses, ["127.0.0.1:1"]);
    await clock.advance(999);
    assert.equal(rec.updates.length, 2);
    await clock.advance(1);
    assert.deepEqual(rec.updates.at(-1), []);
    resolver.close();
    registry.close();
  });

  it("during a warm-up, snapshots only add: endpoints the resolver knew are kept until complete", async () => {
    const { clock, transport: t, client, swap } = setup();
    await client.register({ service: "inv", instance: { address: "127.0.0.1:1" } });
    await client.register({ service: "inv", instance: { address: "127.0.0.1:2" } });
    const rec = new Recorder();
    const resolver = createRegistryResolverFactory({ transport: () => t, backoff: { initialMs: 100, maxMs: 100 } }).build(
      parseTarget("petrel://registry:1/inv"),
      rec,
      { clock },
    );
    await settle();
    assert.deepEqual(rec.addresses, ["127.0.0.1:1", "127.0.0.1:2"]);
    // "Restart": a new, empty registry in warm-up; the watch ends, the resolver reports an error and reconnects.
    const registry = swap(5_000);
    await settle();
    assert.equal(rec.errors.length, 1);
    await clock.advance(200);
    assert.deepEqual(rec.addresses, ["127.0.0.1:1", "127.0.0.1:2"], "incomplete empty snapshot: nothing dropped");
    await client.register({ service: "inv", instance: { address: "127.0.0.1:3" } });
    await settle();
    assert.deepEqual(rec.addresses, ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"], "additions are prompt");
    await client.register({ service: "inv", instance: { address: "127.0.0.1:1" } });
    await clock.advance(5_000);
    assert.deepEqual(rec.addresses, ["127.0.0.1:1", "127.0.0.1:3"], "complete: the one that never came back is removed");
    assert.ok(
      rec.updates.every((u) => u.length > 0),
      "never an empty list",
    );
    resolver.close();
    registry.close();
  });

  it("bad targets and addresses fail clearly", () => {
    const f = createRegistryResolverFactory({ transport: () => ({}) as never });
    assert.throws(() => f.build(parseTarget("petrel:///inv"), new Recorder()), /petrel:\/\/host:port\/service/);
    assert.throws(() => f.build(parseTarget("petrel://bad host/inv"), new Recorder()), /invalid registry address/);
    assert.throws(() => createRegistryRegistrar({ address: "nope", transport: () => ({}) as never }), /invalid registry address/);
  });
});
