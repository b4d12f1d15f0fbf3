// register() across outages, connection loss and session expiry, against a real ZooKeeper behind
// an in-test TCP proxy (so one client can be cut off while the server keeps running and expires it).
import assert from "node:assert/strict";
import { type Server, type Socket, createConnection, createServer } from "node:net";
import { after, before, describe, it } from "node:test";
import type { Endpoint } from "@petrel/discovery";
import zookeeper, { type Stat } from "node-zookeeper-client";
import { decodeEndpoint } from "./zk-endpoint.js";
import { createZkRegistrar } from "./zk-registrar.js";
import { type ZkFixture, eventually, startZk, zkAvailable } from "./zk-fixture.js";
import { ZkSession, zkCode } from "./zk-session.js";

const available = zkAvailable();
if (!available && process.env.CI) throw new Error("ZooKeeper (Debian `zookeeper` + `libslf4j-java`) is required in CI");
if (!available) console.warn("\n*** SKIPPING ZooKeeper register/expiry tests: /usr/share/java/zookeeper.jar or java not installed ***\n");

// Short sessions so the server expires a cut-off client within seconds (tickTime 500 ms allows >= 1 s).
const SESSION_MS = 2_000;
const DEADLINE_MS = 60_000;
// register()'s patience where it must outlast an outage: above every wait of the test, so a slow
// box cannot turn "resolves once back" into a timeout.
const PATIENT_MS = 120_000;

/**
 * A TCP proxy in front of ZooKeeper. `block()` drops every connection and refuses new ones (the
 * server looks down to clients behind it); `hold()` keeps connections open but swallows what
 * clients send (a request is sent and never answered). After `hold()`, only `block()` is valid.
 */
interface Proxy {
  readonly connect: string;
  block(): void;
  hold(): void;
  unblock(): void;
  /** Bytes clients sent while held (latin1). */
  swallowed(): string;
  close(): Promise<void>;
}

async function startProxy(targetPort: number): Promise<Proxy> {
  let mode: "pass" | "hold" | "block" = "pass";
  let swallowed = "";
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    if (mode === "block") {
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: "127.0.0.1", port: targetPort });
    sockets.add(client).add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const s of [client, upstream]) {
      s.on("error", end);
      s.on("close", end);
    }
    client.on("data", (b: Buffer) => {
      if (mode === "pass") upstream.write(b);
      else swallowed += b.toString("latin1");
    });
    upstream.on("data", (b: Buffer) => {
      if (mode === "pass") client.write(b);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const addr = server.address();
  if (!addr || typeof addr !== "object") throw new Error("proxy: no address");
  const dropAll = () => {
    for (const s of sockets) s.destroy();
    sockets.clear();
  };
  return {
    connect: `127.0.0.1:${addr.port}`,
    block() {
      mode = "block";
      dropAll();
    },
    hold() {
      mode = "hold";
    },
    unblock() {
      mode = "pass";
    },
    swallowed: () => swallowed,
    close() {
      mode = "block";
      dropAll();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A plain session straight to ZooKeeper (not through the proxy) for inspecting znodes. */
function inspector(zk: ZkFixture) {
  const s = new ZkSession(
    { connect: zk.connect, sessionTimeoutMs: 4_000, spinDelayMs: 200 },
    { onConnected() {}, onDisconnected() {}, onExpired() {} },
  );
  return {
    stat: (path: string) => s.call<Stat | null>((c, done) => c.exists(path, done), 30_000),
    data: (path: string) =>
      s.call<Buffer | null>(
        (c, done) => c.getData(path, (err, data) => (zkCode(err) === zookeeper.Exception.NO_NODE ? done(null, null) : done(err, data))),
        30_000,
      ),
    /** Creates a persistent node everyone may read but nobody may write under. */
    createReadOnly: (path: string) =>
      s.call<string>(
        (c, done) =>
          c.create(
            path,
            Buffer.alloc(0),
            [new zookeeper.ACL(zookeeper.Permission.READ, new zookeeper.Id("world", "anyone"))],
            zookeeper.CreateMode.PERSISTENT,
            done,
          ),
        30_000,
      ),
    remove: (path: string) => s.call<void>((c, done) => c.remove(path, -1, done), 30_000),
    close: () => s.close(),
  };
}

const ep = (id: string, port: number, extra: Partial<Endpoint> = {}): Endpoint => ({
  id,
  address: `127.0.0.1:${port}`,
  protocols: ["petrel/1"],
  weight: 1,
  metadata: { role: "test" },
  ...extra,
});

/** What a resolver reads from the znode at `path`. */
const decoded = async (look: ReturnType<typeof inspector>, path: string) => {
  const data = await look.data(path);
  return data ? decodeEndpoint(path, data) : null;
};

/** Lets every already-queued microtask run (e.g. the undo write a failed register() issues). */
const macrotask = () => new Promise<void>((r) => setImmediate(r));

describe("ZooKeeper register() across outages and session expiry", { skip: available ? false : "ZooKeeper not installed" }, () => {
  let zk: ZkFixture;
  let look: ReturnType<typeof inspector>;
  before(async () => {
    zk = await startZk({ tickTimeMs: 500, startTimeoutMs: 120_000 });
    look = inspector(zk);
  });
  after(async () => {
    await look?.close();
    await zk?.dispose();
  });

  it("register() cut off by a session expiry resolves on the new session, with the right data", async () => {
    const proxy = await startProxy(zk.port);
    const reg = createZkRegistrar({ connect: proxy.connect, sessionTimeoutMs: SESSION_MS, spinDelayMs: 200, requestTimeoutMs: PATIENT_MS });
    try {
      await reg.register("exp", ep("anchor", 1));
      const anchorBefore = await look.stat("/petrel/exp/providers/anchor");
      assert.ok(anchorBefore);

      proxy.block();
      const pending = reg.register("exp", ep("late", 2, { weight: 5 }));
      // The server expires the cut-off session: its ephemeral znode goes away.
      await eventually(async () => (await look.stat("/petrel/exp/providers/anchor")) === null, DEADLINE_MS, "the session to expire");
      proxy.unblock();

      const r = await pending;
      assert.deepEqual(r.endpoint, ep("late", 2, { weight: 5 }));
      assert.deepEqual(await decoded(look, "/petrel/exp/providers/late"), ep("late", 2, { weight: 5 }));
      const late = await look.stat("/petrel/exp/providers/late");
      assert.ok(late);
      assert.notDeepEqual(late.ephemeralOwner, anchorBefore.ephemeralOwner, "written on the new session");
      // The registrar re-creates the older znode on that same new session.
      await eventually(async () => (await look.stat("/petrel/exp/providers/anchor")) !== null, DEADLINE_MS, "anchor re-created");
      assert.deepEqual((await look.stat("/petrel/exp/providers/anchor"))?.ephemeralOwner, late.ephemeralOwner);
    } finally {
      await reg.close();
      await proxy.close();
    }
  });

  it("register() whose request was sent and lost with the connection resolves after the reconnect", async () => {
    const proxy = await startProxy(zk.port);
    const reg = createZkRegistrar({ connect: proxy.connect, sessionTimeoutMs: SESSION_MS, spinDelayMs: 200, requestTimeoutMs: PATIENT_MS });
    try {
      await reg.register("loss", ep("first", 1));
      proxy.hold();
      const pending = reg.register("loss", ep("second", 2));
      // The create request left the client and will never be answered; then the connection drops.
      await eventually(() => proxy.swallowed().includes("/petrel/loss/providers/second"), DEADLINE_MS, "the create request to be sent");
      proxy.block();
      proxy.unblock();
      await pending;
      assert.deepEqual(await decoded(look, "/petrel/loss/providers/second"), ep("second", 2));
    } finally {
      await reg.close();
      await proxy.close();
    }
  });

  it("ZooKeeper unreachable past requestTimeoutMs -> register() rejects naming the path, and leaves no znode", async () => {
    const proxy = await startProxy(zk.port);
    proxy.block();
    const reg = createZkRegistrar({ connect: proxy.connect, sessionTimeoutMs: SESSION_MS, spinDelayMs: 200, requestTimeoutMs: 1_500 });
    try {
      await assert.rejects(reg.register("down", ep("gone", 1)), (e: Error) => {
        assert.match(e.message, /\/petrel\/down\/providers\/gone/);
        assert.match(e.message, /1500 ms/);
        assert.match(e.message, /no answer/, "names the last cause");
        return true;
      });
      // The abandoned create is still queued in the client; the undo queued behind it must win.
      await macrotask();
      proxy.unblock();
      await reg.register("down", ep("later", 2));
      assert.equal(await look.stat("/petrel/down/providers/gone"), null);
      assert.ok(await look.stat("/petrel/down/providers/later"));
    } finally {
      await reg.close();
      await proxy.close();
    }
  });

  it("a non-transient failure (no permission) rejects at once with ZooKeeper's error", async () => {
    await look.createReadOnly("/locked");
    // Default requestTimeoutMs (30 s): a retry would end in a "could not register ... within" error.
    const reg = createZkRegistrar({ connect: zk.connect, root: "/locked", sessionTimeoutMs: SESSION_MS });
    try {
      await assert.rejects(reg.register("svc", ep("a", 1)), (e: Error) => {
        assert.equal(zkCode(e), zookeeper.Exception.NO_AUTH);
        assert.doesNotMatch(e.message, /within/);
        return true;
      });
    } finally {
      await reg.close();
      await look.remove("/locked");
    }
  });

  it("close() during a pending register() rejects it at once", async () => {
    const proxy = await startProxy(zk.port);
    proxy.block();
    // Default requestTimeoutMs (30 s): without close() the register would wait for ZooKeeper.
    const reg = createZkRegistrar({ connect: proxy.connect, sessionTimeoutMs: SESSION_MS, spinDelayMs: 200 });
    try {
      const pending = reg.register("closing", ep("a", 1));
      await macrotask();
      await reg.close();
      await assert.rejects(pending, /closed/);
    } finally {
      await reg.close();
      await proxy.close();
    }
  });

  it("deregister() racing a pending register() across a session expiry wins: no znode is left", async () => {
    const proxy = await startProxy(zk.port);
    const reg = createZkRegistrar({ connect: proxy.connect, sessionTimeoutMs: SESSION_MS, spinDelayMs: 200, requestTimeoutMs: PATIENT_MS });
    try {
      const first = await reg.register("race", ep("a", 1));
      await reg.register("race", ep("keep", 3));
      proxy.block();
      const pending = reg.register("race", ep("a", 2, { weight: 9 }));
      const settled = pending.then(
        () => "resolved",
        (e: Error) => e.message,
      );
      await macrotask(); // the register's create is now queued on the cut-off session
      const gone = first.deregister();
      await eventually(async () => (await look.stat("/petrel/race/providers/keep")) === null, DEADLINE_MS, "the session to expire");
      proxy.unblock();
      await gone;
      assert.match(await settled, /\/petrel\/race\/providers\/a.*deregistered/);
      // "keep" coming back proves the registrar is on its new session and has caught up.
      await eventually(async () => (await look.stat("/petrel/race/providers/keep")) !== null, DEADLINE_MS, "keep re-created");
      assert.equal(await look.stat("/petrel/race/providers/a"), null);
    } finally {
      await reg.close();
      await proxy.close();
    }
  });
});
