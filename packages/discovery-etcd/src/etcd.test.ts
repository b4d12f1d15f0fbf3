import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import type { Endpoint, Resolver, ResolverTarget } from "@petrel/discovery";
import { Etcd3 } from "etcd3";
import { parseEtcdHosts } from "./etcd-client.js";
import { type EtcdFixture, etcdSkipReason, freePort, startEtcd } from "./etcd-fixture.js";
import { createEtcdRegistrar, createEtcdResolverFactory, etcdResolverFactory } from "./index.js";

/** Polls `cond` until true; fails after `timeoutMs` (generous: CI boxes are busy). */
async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > timeoutMs) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A listener that records everything the resolver says. */
function recorder() {
  const updates: (readonly Endpoint[])[] = [];
  const errors: Error[] = [];
  return {
    updates,
    errors,
    get last(): readonly Endpoint[] | undefined {
      return updates.at(-1);
    },
    ids(): string[] {
      return (updates.at(-1) ?? []).map((e) => e.id);
    },
    onUpdate(eps: readonly Endpoint[]) {
      updates.push(eps);
    },
    onError(err: Error) {
      errors.push(err);
    },
  };
}

function target(host: string, service: string): ResolverTarget {
  return { scheme: "etcd", authority: host, path: service, raw: `etcd://${host}/${service}` };
}

const skip = etcdSkipReason();

describe("etcd discovery (real etcd)", { skip }, () => {
  let etcd: EtcdFixture;
  let admin: Etcd3;
  const resolvers: Resolver[] = [];
  const children: ChildProcess[] = [];

  before(async () => {
    etcd = await startEtcd();
    admin = new Etcd3({ hosts: `http://${etcd.host}` });
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    for (const r of resolvers) r.close();
    admin?.close();
    await etcd?.dispose();
  });

  const resolve = (service: string, rec: ReturnType<typeof recorder>) => {
    const r = etcdResolverFactory.build(target(etcd.host, service), rec);
    resolvers.push(r);
    return r;
  };

  it("delivers registrations with their metadata, then updates and removals", async () => {
    const registrar = createEtcdRegistrar({ hosts: etcd.host });
    try {
      const rec = recorder();
      resolve("inventory", rec);
      await waitFor(() => rec.updates.length > 0, "initial (empty) list");
      assert.deepEqual(rec.last, []);

      const a = await registrar.register("inventory", {
        id: "a",
        address: "127.0.0.1:7001",
        protocols: ["petrel/1", "grpc"],
        weight: 3,
        zone: "z1",
        version: "1.2.0",
        metadata: { color: "red" },
      });
      const b = await registrar.register("inventory", { id: "b", address: "127.0.0.1:7002", metadata: { color: "blue" } });
      await waitFor(() => rec.ids().join() === "a,b", "both instances");
      assert.deepEqual(rec.last, [
        {
          id: "a",
          address: "127.0.0.1:7001",
          protocols: ["petrel/1", "grpc"],
          weight: 3,
          zone: "z1",
          version: "1.2.0",
          metadata: { color: "red" },
        },
        { id: "b", address: "127.0.0.1:7002", metadata: { color: "blue" } },
      ]);
      assert.equal(a.key, "/petrel/services/inventory/a");
      const stored = await admin.get("/petrel/services/inventory/b").string();
      assert.equal(JSON.parse(stored ?? "null").address, "127.0.0.1:7002");

      await b.update({ id: "b", address: "127.0.0.1:7002", metadata: { color: "green" } });
      await waitFor(() => rec.last?.[1]?.metadata?.color === "green", "metadata update");
      assert.equal(rec.last?.length, 2);
      await assert.rejects(b.update({ id: "other", address: "x:1" }), /keep the instance id/);

      await a.deregister();
      await waitFor(() => rec.ids().join() === "b", "a removed");
      assert.equal(await admin.get(a.key).string(), null, "key deleted with the lease");
      // A second resolver for another service sees none of these.
      const other = recorder();
      resolve("inventory-2", other);
      await waitFor(() => other.updates.length > 0, "other service list");
      assert.deepEqual(other.last, []);
      assert.equal(rec.errors.length, 0, rec.errors.map(String).join("; "));
    } finally {
      await registrar.close();
    }
    assert.equal(await admin.get("/petrel/services/inventory/b").string(), null, "close() deregisters");
  });

  it("re-registers after its lease is revoked behind its back", async () => {
    const lost: Error[] = [];
    const registrar = createEtcdRegistrar({ hosts: etcd.host, prefix: "/custom/", onError: (e) => lost.push(e) });
    try {
      const rec = recorder();
      const r = createEtcdResolverFactory({ prefix: "/custom" }).build(target(etcd.host, "orders"), rec);
      resolvers.push(r);
      const reg = await registrar.register("orders", { id: "o1", address: "127.0.0.1:7100" }, { ttlMs: 5_000 });
      assert.equal(reg.key, "/custom/orders/o1");
      await waitFor(() => rec.ids().join() === "o1", "o1 listed");
      const before = await admin.get(reg.key).exec();
      const leaseId = before.kvs[0]?.lease;
      assert.ok(leaseId && leaseId !== "0", "key is under a lease");

      await admin.leaseClient.leaseRevoke({ ID: leaseId });
      await waitFor(() => rec.updates.some((u) => u.length === 0), "removal seen by the resolver");
      await waitFor(async () => {
        const now = await admin.get(reg.key).exec();
        return now.kvs.length === 1 && now.kvs[0]?.lease !== leaseId;
      }, "key re-put under a new lease");
      await waitFor(() => rec.ids().join() === "o1", "o1 listed again");
      assert.ok(lost.length > 0, "the lost lease was reported");
    } finally {
      await registrar.close();
    }
  });

  it("a SIGKILLed registrant disappears after its lease TTL", async () => {
    const rec = recorder();
    resolve("payments", rec);
    const script = fileURLToPath(new URL("./etcd-registrant-child.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", script, etcd.host, "payments", "p1", "127.0.0.1:7200", "2000"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.push(child);
    let out = "";
    child.stdout?.on("data", (b: Buffer) => {
      out += b.toString();
    });
    await waitFor(() => out.includes("registered") || child.exitCode !== null, "child registered", 60_000);
    assert.ok(out.includes("registered"), `child exited early (${child.exitCode})`);
    await waitFor(() => rec.ids().join() === "p1", "p1 listed");
    assert.equal(rec.last?.[0]?.metadata?.pid, String(child.pid));

    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
    // Lease TTL is 2 s; the deadline is generous for a busy box, the key must go by itself.
    await waitFor(() => rec.last?.length === 0, "p1 expired", 30_000);
    assert.equal((await admin.get("/petrel/services/payments/p1").exec()).kvs.length, 0);
  });

  it("keeps the last list while etcd is down and recovers when it is back", async () => {
    const registrarErrors: Error[] = [];
    const registrar = createEtcdRegistrar({ hosts: etcd.host, ttlMs: 10_000, onError: (e) => registrarErrors.push(e) });
    try {
      const rec = recorder();
      resolve("search", rec);
      await registrar.register("search", { id: "s1", address: "127.0.0.1:7301", metadata: { n: "1" } });
      await registrar.register("search", { id: "s2", address: "127.0.0.1:7302", metadata: { n: "2" } });
      // s3's 2 s lease is given up by the client while etcd is down, so it must re-register.
      const s3 = await registrar.register("search", { id: "s3", address: "127.0.0.1:7303", metadata: { n: "3" } }, { ttlMs: 2_000 });
      await waitFor(() => rec.ids().join() === "s1,s2,s3", "all listed");
      const good = rec.last;
      const s3Lease = (await admin.get(s3.key).exec()).kvs[0]?.lease;

      await etcd.stop();
      const updatesAtStop = rec.updates.length;
      const errorsAtStop = rec.errors.length;
      await waitFor(() => rec.errors.length > errorsAtStop, "onError after etcd stopped");
      // Give retries a few rounds against the dead etcd: none of them may empty the list.
      await waitFor(() => rec.errors.length > errorsAtStop + 2, "repeated errors while down", 60_000);
      await waitFor(() => registrarErrors.some((e) => /s3 lost/.test(e.message)), "s3 lease given up", 60_000);
      assert.equal(rec.updates.length, updatesAtStop, "no update while etcd is down");
      assert.deepEqual(rec.last, good);

      await etcd.start();
      await waitFor(() => rec.updates.length > updatesAtStop, "delivery after etcd restart", 60_000);
      await waitFor(
        async () => {
          const now = await admin.get(s3.key).exec();
          return now.kvs.length === 1 && now.kvs[0]?.lease !== s3Lease;
        },
        "s3 re-registered under a new lease",
        60_000,
      );
      await waitFor(() => rec.ids().join() === "s1,s2,s3", "all listed after restart", 60_000);
      assert.ok(
        rec.updates.slice(updatesAtStop).every((u) => u.length > 0),
        "never an empty list after the outage",
      );
      assert.deepEqual(
        rec.last?.map((e) => e.metadata),
        [{ n: "1" }, { n: "2" }, { n: "3" }],
      );
      const stored = await admin.getAll().prefix("/petrel/services/search/").keys();
      assert.deepEqual(
        stored.sort(),
        ["s1", "s2", "s3"].map((id) => `/petrel/services/search/${id}`),
      );
    } finally {
      await registrar.close();
    }
  });
});

describe("etcd discovery: bad input", () => {
  it("rejects malformed hosts, targets, services and endpoints with clear errors", async () => {
    assert.throws(() => parseEtcdHosts(""), /no hosts/);
    assert.throws(() => parseEtcdHosts("127.0.0.1"), /needs a port/);
    assert.throws(() => parseEtcdHosts("ftp://h:1"), /unsupported scheme/);
    assert.deepEqual(parseEtcdHosts("a:1, b:2"), ["http://a:1", "http://b:2"]);
    const rec = recorder();
    assert.throws(() => etcdResolverFactory.build({ scheme: "etcd", authority: "", path: "x", raw: "etcd:///x" }, rec), /needs etcd hosts/);
    assert.throws(() => etcdResolverFactory.build(target("127.0.0.1:1", ""), rec), /service must be a non-empty/);
    assert.throws(() => createEtcdRegistrar({ hosts: "h:1", ttlMs: -1 }), /ttlMs/);
    const registrar = createEtcdRegistrar({ hosts: "127.0.0.1:1" });
    try {
      await assert.rejects(registrar.register("a/b", { id: "x", address: "h:1" }), /must not contain/);
      await assert.rejects(registrar.register("svc", { id: "", address: "h:1" }), /instance id/);
      await assert.rejects(registrar.register("svc", { id: "x", address: "" }), /needs an address/);
      await assert.rejects(registrar.register("svc", { id: "x", address: "h:1", weight: Number.NaN }), /weight/);
    } finally {
      await registrar.close();
    }
  });

  it("with etcd unreachable from the start: register rejects, the resolver reports errors and no list", async () => {
    const host = `127.0.0.1:${await freePort()}`;
    const registrar = createEtcdRegistrar({ hosts: host });
    await assert.rejects(registrar.register("svc", { id: "x", address: "h:1" }), /registering \/petrel\/services\/svc\/x failed/);
    await registrar.close();
    const rec = recorder();
    const r = etcdResolverFactory.build(target(host, "svc"), rec);
    try {
      await waitFor(() => rec.errors.length >= 2, "errors from a dead etcd");
      assert.equal(rec.updates.length, 0);
    } finally {
      r.close();
    }
  });
});
