import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, describe, it } from "node:test";
import { createRouter } from "@petrel/core";
import { createNativeServer, createNativeTransport, type NativeServer } from "@petrel/node";
import { eventually } from "@petrel/testing";
import { Recorder } from "./fake-clock-fixture.js";
import {
  Registry,
  createRegistryRegistrar,
  createRegistryResolverFactory,
  createRegistryService,
  parseTarget,
  type RegistryService,
  type RegistryTransportFactory,
} from "./index.js";

const CHILD = fileURLToPath(new URL("./registrant-child-fixture.ts", import.meta.url));

/** Every transport the tests made, closed at the end. Short reconnect backoff so restarts are noticed soon. */
const transports: ReturnType<typeof createNativeTransport>[] = [];
const transport: RegistryTransportFactory = (address) => {
  const t = createNativeTransport({ address, backoff: { initialMs: 50, maxMs: 300 }, connectTimeoutMs: 5_000 });
  transports.push(t);
  return t;
};

async function startRegistry(
  port = 0,
  warmupMs = 0,
): Promise<{ registry: RegistryService; server: NativeServer; port: number; stop(): Promise<void> }> {
  const registry = createRegistryService({ minTtlMs: 100, warmupMs });
  const server = createNativeServer({ router: createRouter().service(Registry, registry.impl) });
  const addr = await server.listen({ port, host: "127.0.0.1" });
  return {
    registry,
    server,
    port: addr.port,
    async stop() {
      registry.close(); // ends the watches, so the server need not wait for them
      await server.close({ graceMs: 1_000 });
    },
  };
}

const children: ChildProcess[] = [];
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await Promise.all(transports.map((t) => t.close()));
});

describe("embedded registry end to end over petrel/1 TCP", () => {
  it("two registrants and a resolver: add, deregister, SIGKILLed registrant expires", async () => {
    const reg = await startRegistry();
    const address = `127.0.0.1:${reg.port}`;
    const r1 = createRegistryRegistrar({ address, transport });
    const r2 = createRegistryRegistrar({ address, transport });
    const rec = new Recorder();
    const resolver = createRegistryResolverFactory({ transport, backoff: { initialMs: 50, maxMs: 300 } }).build(
      parseTarget(`petrel://${address}/inventory`),
      rec,
    );
    try {
      await r1.register(
        "inventory",
        { id: "a", address: "127.0.0.1:7001", weight: 2, zone: "z1", protocols: ["petrel/1"] },
        { ttlMs: 1_000 },
      );
      const b = await r2.register("inventory", { id: "b", address: "127.0.0.1:7002" }, { ttlMs: 1_000 });
      await eventually(() => rec.ids?.join() === "a,b", 20_000, "both instances in the resolver");
      assert.deepEqual(
        rec.updates.at(-1)?.find((e) => e.id === "a"),
        { id: "a", address: "127.0.0.1:7001", weight: 2, zone: "z1", protocols: ["petrel/1"] },
      );

      const child = spawn(process.execPath, ["--import", "tsx", CHILD, address, "inventory", "c", "127.0.0.1:7003", "1000"], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      children.push(child);
      let out = "";
      child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
      await eventually(() => out.includes("registered") || child.exitCode !== null, 60_000, "the child to register");
      assert.ok(out.includes("registered"), `child failed (exit ${child.exitCode})`);
      await eventually(() => rec.ids?.join() === "a,b,c", 20_000, "the child's instance in the resolver");

      child.kill("SIGKILL");
      await eventually(() => rec.ids?.join() === "a,b", 30_000, "the killed instance to expire");

      await b.deregister();
      await eventually(() => rec.ids?.join() === "a", 20_000, "b removed on deregister");
      assert.deepEqual(rec.errors, []);
      assert.deepEqual(
        reg.registry.list("inventory").map((e) => e.id),
        ["a"],
      );
    } finally {
      resolver.close();
      await r1.close();
      await r2.close();
      await reg.stop();
    }
  });

  it("registry stopped: the resolver keeps its list; restarted on the same port: registrants come back", async () => {
    let reg = await startRegistry(0, 0);
    const port = reg.port;
    const address = `127.0.0.1:${port}`;
    const errors: Error[] = [];
    const opts = { address, transport, backoff: { initialMs: 50, maxMs: 300 }, onError: (e: Error) => errors.push(e) };
    const r1 = createRegistryRegistrar(opts);
    const r2 = createRegistryRegistrar(opts);
    const rec = new Recorder();
    const resolver = createRegistryResolverFactory({ transport, backoff: { initialMs: 50, maxMs: 300 } }).build(
      parseTarget(`petrel://${address}/inventory`),
      rec,
    );
    try {
      await r1.register("inventory", { id: "a", address: "127.0.0.1:7001" }, { ttlMs: 600 });
      await r2.register("inventory", { id: "b", address: "127.0.0.1:7002" }, { ttlMs: 600 });
      await eventually(() => rec.ids?.join() === "a,b", 20_000, "both instances");
      const updatesBefore = rec.updates.length;

      await reg.stop();
      await eventually(() => rec.errors.length > 0, 20_000, "the resolver to report the lost registry");
      await eventually(() => errors.length > 0, 20_000, "the registrars to notice");
      // While the registry is down: no update at all, so the owner's list stays a,b.
      assert.equal(rec.updates.length, updatesBefore);
      // r2 goes away for good while the registry is down (its deregistration cannot reach it).
      await r2.close();

      // Restart with a warm-up long enough for r1's re-registration, so "b" is dropped only once complete.
      reg = await startRegistry(port, 1_500);
      await eventually(() => reg.registry.list("inventory").some((e) => e.id === "a"), 30_000, "r1 to register again");
      await eventually(
        () => reg.registry.complete && rec.ids?.join() === "a",
        30_000,
        "the resolver to see the new registry's complete list",
      );
      // Since the registry first went down: never an empty list (the restarted registry was empty for a while).
      assert.ok(
        rec.updates.slice(updatesBefore).every((u) => u.length > 0),
        "the resolver never reported an empty list",
      );
      assert.ok(rec.errors.every((e) => e instanceof Error));
    } finally {
      resolver.close();
      await r1.close();
      await r2.close();
      await reg.stop();
    }
  });
});
