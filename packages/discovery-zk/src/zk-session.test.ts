// ZkSession against a server that accepts TCP connections and never answers the handshake: a
// fault a real ZooKeeper cannot be made to show on demand (it happens while one starts up).
import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { describe, it } from "node:test";
import { ZkSession } from "./zk-session.js";

describe("ZkSession handshake watchdog", () => {
  it("gives up on a silent server after the connect timeout and connects again, until closed", async () => {
    const sockets = new Set<net.Socket>();
    let connections = 0;
    let secondConnection: () => void = () => {};
    const second = new Promise<void>((resolve) => {
      secondConnection = resolve;
    });
    // Reads the ConnectRequest and says nothing.
    const silent = net.createServer((s) => {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {});
      s.resume();
      if (++connections === 2) secondConnection();
    });
    silent.listen(0, "127.0.0.1");
    await once(silent, "listening");
    const { port } = silent.address() as net.AddressInfo;
    const events: string[] = [];
    const session = new ZkSession(
      // One server: the library's connect timeout is the whole session timeout (2 s).
      { connect: `127.0.0.1:${port}`, sessionTimeoutMs: 2_000, spinDelayMs: 50 },
      {
        onConnected: () => events.push("connected"),
        onDisconnected: () => events.push("disconnected"),
        onExpired: () => events.push("expired"),
      },
    );
    let guard: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        second,
        new Promise((_, reject) => {
          guard = setTimeout(
            () => reject(new Error("the client never dropped the silent connection: it waits for the handshake for ever")),
            30_000,
          );
        }),
      ]);
      assert.ok(connections >= 2);
      assert.equal(session.connected, false);
      assert.ok(!events.includes("connected"), `events: ${events.join(",")}`);
    } finally {
      clearTimeout(guard);
      await session.close();
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });
});
