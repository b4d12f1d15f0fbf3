// Integration tests against a real ZooKeeper started here (Debian `zookeeper`).
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import type { Endpoint, Resolver } from "@petrel/discovery";
import type { Stat } from "node-zookeeper-client";
import { createZkRegistrar } from "./zk-registrar.js";
import { createZkResolverFactory } from "./zk-resolver.js";
import { type ZkFixture, eventually, freePort, sleep, startZk, zkAvailable } from "./zk-fixture.js";
import { ZkSession } from "./zk-session.js";

const available = zkAvailable();
if (!available && process.env.CI) throw new Error("ZooKeeper (Debian `zookeeper` + `libslf4j-java`) is required in CI");
if (!available) console.warn("\n*** SKIPPING ZooKeeper tests: /usr/share/java/zookeeper.jar or java not installed ***\n");

// Short sessions so expiry happens within seconds; the fixture's tickTime (500 ms) allows >= 1 s.
const SESSION_MS = 2_000;
const DEADLINE_MS = 60_000;
const factory = createZkResolverFactory({ sessionTimeoutMs: 4_000, spinDelayMs: 200 });

interface Watch {
  readonly updates: (readonly Endpoint[])[];
  readonly errors: Error[];
  latest(): readonly Endpoint[] | undefined;
  ids(): string[] | undefined;
  close(): void;
}

function watch(zk: ZkFixture, service: string): Watch {
  const updates: (readonly Endpoint[])[] = [];
  const errors: Error[] = [];
  const raw = `zk://${zk.connect}/${service}`;
  const r: Resolver = factory.build(
    { scheme: "zk", authority: zk.connect, path: `/${service}`, raw },
    { onUpdate: (e) => updates.push(e), onError: (e) => errors.push(e) },
  );
  const latest = () => updates[updates.length - 1];
  return { updates, errors, latest, ids: () => latest()?.map((e) => e.id), close: () => r.close() };
}

/** A plain session for inspecting znodes. */
function inspector(zk: ZkFixture): { stat(path: string): Promise<Stat | null>; close(): Promise<void> } {
  const s = new ZkSession(
    { connect: zk.connect, sessionTimeoutMs: 4_000, spinDelayMs: 200 },
    { onConnected() {}, onDisconnected() {}, onExpired() {} },
  );
  return {
    stat: (path) => s.call<Stat | null>((c, done) => c.exists(path, done), 30_000),
    close: () => s.close(),
  };
}

const childScript = fileURLToPath(new URL("./zk-registrant-child.ts", import.meta.url));

/** Spawns a registrant process and waits until it has registered. */
async function spawnRegistrant(zk: ZkFixture, service: string, id: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", childScript, zk.connect, service, id, String(SESSION_MS)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout?.on("data", (b: Buffer) => {
    out += b.toString();
  });
  await eventually(() => out.includes("registered") || child.exitCode !== null, DEADLINE_MS, `${id} to register`);
  assert.ok(out.includes("registered"), `registrant ${id} exited with ${child.exitCode}`);
  return child;
}

async function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGCONT");
  child.kill("SIGKILL");
  await exited;
}

const ep = (id: string, port: number, extra: Partial<Endpoint> = {}): Endpoint => ({
  id,
  address: `127.0.0.1:${port}`,
  protocols: ["petrel/1"],
  weight: 1,
  zone: "z1",
  version: "1.0.0",
  metadata: { role: "test" },
  ...extra,
});

describe("ZooKeeper discovery", { skip: available ? false : "ZooKeeper not installed" }, () => {
  let zk: ZkFixture;
  before(async () => {
    zk = await startZk({ tickTimeMs: 500, startTimeoutMs: 120_000 });
  });
  after(async () => {
    await zk?.dispose();
  });

  it("two instances -> the resolver sees both with data; update and deregister are delivered", async () => {
    const reg = createZkRegistrar({ connect: zk.connect, sessionTimeoutMs: SESSION_MS, spinDelayMs: 200 });
    const w = watch(zk, "inventory");
    try {
      const a = await reg.register("inventory", ep("a", 1001));
      await reg.register("inventory", ep("b", 1002, { weight: 3 }));
      await eventually(() => w.ids()?.join() === "a,b", DEADLINE_MS, "both instances");
      assert.deepEqual(w.latest(), [ep("a", 1001), ep("b", 1002, { weight: 3 })]);

      await a.update(ep("a", 1001, { weight: 7, metadata: { role: "canary" } }));
      await eventually(() => w.latest()?.[0]?.weight === 7, DEADLINE_MS, "update of a");
      assert.deepEqual(w.latest()?.[0], ep("a", 1001, { weight: 7, metadata: { role: "canary" } }));

      await a.deregister();
      await eventually(() => w.ids()?.join() === "b", DEADLINE_MS, "a removed");
      // Before registration the service is legitimately empty; after that, never.
      const firstFull = w.updates.findIndex((u) => u.length > 0);
      assert.ok(
        w.updates.slice(firstFull).every((u) => u.length > 0),
        "never an empty list while instances exist",
      );
    } finally {
      w.close();
      await reg.close();
    }
  });

  it("a missing providers node is an empty service, watched until instances appear", async () => {
    const w = watch(zk, "not-yet");
    const reg = createZkRegistrar({ connect: zk.connect, sessionTimeoutMs: SESSION_MS });
    try {
      await eventually(() => w.updates.length > 0, DEADLINE_MS, "first (empty) update");
      assert.deepEqual(w.latest(), []);
      await reg.register("not-yet", ep("x", 2001));
      await eventually(() => w.ids()?.join() === "x", DEADLINE_MS, "x to appear");
      await reg.close();
      await eventually(() => w.latest()?.length === 0, DEADLINE_MS, "close() to deregister x");
    } finally {
      w.close();
      await reg.close();
    }
  });

  it("rejects bad input with clear errors", async () => {
    assert.throws(() => createZkRegistrar({ connect: "" }), /connect/);
    assert.throws(() => createZkRegistrar({ connect: "127.0.0.1" }), /host:port/);
    assert.throws(() => createZkRegistrar({ connect: zk.connect, root: "petrel" }), /absolute/);
    assert.throws(() => createZkRegistrar({ connect: zk.connect, sessionTimeoutMs: -1 }), /sessionTimeoutMs/);
    const listener = { onUpdate() {}, onError() {} };
    assert.throws(() => factory.build({ scheme: "zk", authority: "", path: "/svc", raw: "zk:///svc" }, listener), /servers/);
    assert.throws(() => factory.build({ scheme: "zk", authority: zk.connect, path: "/", raw: "zk://x/" }, listener), /service/);
    assert.throws(() => factory.build({ scheme: "zk", authority: zk.connect, path: "/a/b", raw: "zk://x/a/b" }, listener), /service/);
    const reg = createZkRegistrar({ connect: zk.connect });
    try {
      await assert.rejects(reg.register("svc", { id: "a/b", address: "h:1" }), /instance id/);
      await assert.rejects(reg.register("svc", { id: "a", address: "" }), /address/);
      await assert.rejects(reg.register("s/v", { id: "a", address: "h:1" }), /service/);
    } finally {
      await reg.close();
    }
  });

  it("with no ZooKeeper reachable: the resolver reports onError, register times out, both close cleanly", async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const errors: Error[] = [];
    const updates: (readonly Endpoint[])[] = [];
    const r = createZkResolverFactory({ connectTimeoutMs: 300, spinDelayMs: 100 }).build(
      { scheme: "zk", authority: dead, path: "/svc", raw: `zk://${dead}/svc` },
      { onUpdate: (e) => updates.push(e), onError: (e) => errors.push(e) },
    );
    const reg = createZkRegistrar({ connect: dead, requestTimeoutMs: 500, spinDelayMs: 100 });
    try {
      await eventually(() => errors.length > 0, DEADLINE_MS, "onError for an unreachable server");
      assert.match(errors[0]?.message ?? "", /cannot reach/);
      await assert.rejects(reg.register("svc", ep("a", 1)), /no answer/);
      assert.equal(updates.length, 0, "no list without a registry");
    } finally {
      r.close();
      await reg.close();
    }
  });

  it("a SIGKILLed registrant disappears after its session timeout", async () => {
    const w = watch(zk, "killed");
    let child: ChildProcess | undefined;
    try {
      child = await spawnRegistrant(zk, "killed", "victim");
      await eventually(() => w.ids()?.includes("victim") === true, DEADLINE_MS, "victim to appear");
      await killChild(child);
      await eventually(() => w.ids()?.includes("victim") === false, DEADLINE_MS, "victim to disappear");
    } finally {
      if (child) await killChild(child);
      w.close();
    }
  });

  it("after its session expired (process paused), a registrant re-registers on a new session", async () => {
    const w = watch(zk, "paused");
    const look = inspector(zk);
    let child: ChildProcess | undefined;
    try {
      child = await spawnRegistrant(zk, "paused", "sleeper");
      await eventually(() => w.ids()?.includes("sleeper") === true, DEADLINE_MS, "sleeper to appear");
      const before = await look.stat("/petrel/paused/providers/sleeper");
      assert.ok(before);
      child.kill("SIGSTOP");
      await eventually(() => w.ids()?.includes("sleeper") === false, DEADLINE_MS, "the server to expire the session");
      child.kill("SIGCONT");
      await eventually(() => w.ids()?.includes("sleeper") === true, DEADLINE_MS, "sleeper to re-register");
      const again = await look.stat("/petrel/paused/providers/sleeper");
      assert.ok(again);
      assert.notDeepEqual(again.ephemeralOwner, before.ephemeralOwner, "a new session owns the znode");
    } finally {
      if (child) await killChild(child);
      w.close();
      await look.close();
    }
  });

  // Last: it stops and restarts the server.
  it("ZooKeeper down -> the resolver keeps its list (onError); back up -> instances delivered again", async () => {
    const regErrors: string[] = [];
    const reg = createZkRegistrar({
      connect: zk.connect,
      sessionTimeoutMs: SESSION_MS,
      spinDelayMs: 200,
      onError: (e) => regErrors.push(e.message),
    });
    const w = watch(zk, "outage");
    try {
      await reg.register("outage", ep("p", 3001));
      await reg.register("outage", ep("q", 3002));
      await eventually(() => w.ids()?.join() === "p,q", DEADLINE_MS, "both instances");
      const updatesBefore = w.updates.length;
      const errorsBefore = w.errors.length;

      await zk.stop();
      await eventually(() => w.errors.length > errorsBefore, DEADLINE_MS, "onError while ZooKeeper is down");
      // Longer than every session timeout: nothing may empty the list meanwhile.
      await sleep(SESSION_MS * 3);
      assert.equal(w.updates.length, updatesBefore, "no update while ZooKeeper is down");
      assert.equal(w.ids()?.join(), "p,q");

      await zk.start();
      // If the registrant's session expired during the restart, ZooKeeper itself may briefly list
      // no instances (a true answer); what matters is that both come back.
      await eventually(() => w.updates.length > updatesBefore && w.ids()?.join() === "p,q", DEADLINE_MS, "instances delivered again").catch(
        (e: Error) => {
          // Say which side is stuck: the registrar (errors, znodes) or the resolver (its updates).
          const last = `resolver: ${w.updates.length - updatesBefore} updates since, latest [${w.ids()?.join() ?? ""}], errors ${w.errors.length - errorsBefore}`;
          throw new Error(`${e.message}; ${last}; registrar errors: ${regErrors.slice(-5).join(" | ") || "none"}`);
        },
      );
      const look = inspector(zk);
      try {
        assert.ok(await look.stat("/petrel/outage/providers/p"));
        assert.ok(await look.stat("/petrel/outage/providers/q"));
      } finally {
        await look.close();
      }
    } finally {
      w.close();
      await reg.close();
    }
  });
});
