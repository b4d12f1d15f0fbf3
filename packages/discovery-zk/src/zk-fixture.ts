// Test fixture: a real standalone ZooKeeper on 127.0.0.1 with a temp data dir. Tests only.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Debian's `zookeeper` package; slf4j-simple comes from `libslf4j-java` (a dependency). */
export const ZK_JARS = ["/usr/share/java/zookeeper.jar", "/usr/share/java/slf4j-simple.jar"];

/** A running (or stopped) ZooKeeper that keeps its port and data dir across restarts. */
export interface ZkFixture {
  readonly port: number;
  /** `127.0.0.1:<port>`, the connect string. */
  readonly connect: string;
  readonly dataDir: string;
  /** Starts the server (again) on the same port and data dir; resolves once it serves. */
  start(): Promise<void>;
  /** Stops the server (SIGTERM, then SIGKILL); the data dir stays. */
  stop(): Promise<void>;
  /** Stops the server and removes the data dir. */
  dispose(): Promise<void>;
}

/** Whether the Java and jar files a ZooKeeper fixture needs are installed. */
export function zkAvailable(): boolean {
  return ZK_JARS.every((j) => existsSync(j)) && ["/usr/bin/java", "/usr/local/bin/java"].some((j) => existsSync(j));
}

/**
 * Starts a standalone ZooKeeper. `tickTimeMs` bounds the session timeouts the server grants
 * (2x..20x tick); a small tick lets tests use short sessions. Startup waits until `srvr` answers
 * with `Mode:` (`ruok` answers before the server serves).
 */
export async function startZk(options: { tickTimeMs?: number; startTimeoutMs?: number } = {}): Promise<ZkFixture> {
  const tick = options.tickTimeMs ?? 500;
  const startTimeout = options.startTimeoutMs ?? 60_000;
  const dataDir = mkdtempSync(join(tmpdir(), "petrel-zk-"));
  const port = await freePort();
  const cfg = join(dataDir, "zoo.cfg");
  writeFileSync(
    cfg,
    [
      `tickTime=${tick}`,
      `dataDir=${join(dataDir, "data")}`,
      `clientPort=${port}`,
      "clientPortAddress=127.0.0.1",
      "admin.enableServer=false",
      "4lw.commands.whitelist=srvr,ruok,stat,mntr",
      "maxClientCnxns=0",
      "",
    ].join("\n"),
  );
  let proc: ChildProcess | undefined;
  let log = "";

  const stop = async (): Promise<void> => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => p.once("exit", () => resolve()));
    p.kill("SIGTERM");
    const killer = setTimeout(() => p.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(killer);
  };

  const start = async (): Promise<void> => {
    if (proc) return;
    log = "";
    const p = spawn("java", ["-Xmx256m", "-cp", ZK_JARS.join(":"), "org.apache.zookeeper.server.ZooKeeperServerMain", cfg], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    proc = p;
    const keep = (b: Buffer) => {
      log = (log + b.toString()).slice(-8000);
    };
    p.stdout?.on("data", keep);
    p.stderr?.on("data", keep);
    const deadline = Date.now() + startTimeout;
    while (!(await srvrServing(port))) {
      if (p.exitCode !== null || p.signalCode !== null) {
        proc = undefined;
        throw new Error(`zookeeper exited during startup (${p.exitCode ?? p.signalCode}):\n${log}`);
      }
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`zookeeper did not serve on ${port} within ${startTimeout} ms:\n${log}`);
      }
      await sleep(200);
    }
  };

  try {
    await start();
  } catch (e) {
    rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
  return {
    port,
    connect: `127.0.0.1:${port}`,
    dataDir,
    start,
    stop,
    async dispose() {
      await stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Sends the `srvr` four-letter word; true once the answer shows `Mode:` (the server serves). */
function srvrServing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    let out = "";
    const s = createConnection({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      s.destroy();
      clearTimeout(t);
      resolve(ok);
    };
    const t = setTimeout(() => done(false), 2_000);
    s.on("connect", () => s.write("srvr"));
    s.on("data", (b) => {
      out += b.toString();
    });
    s.on("end", () => done(out.includes("Mode:")));
    s.on("error", () => done(false));
  });
}

/** A port the OS just handed out on 127.0.0.1 (ZooKeeper cannot take port 0 and report it back). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === "object" ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Waits until `cond()` holds, polling; fails with `what` after `timeoutMs`. No timing assertion. */
export async function eventually(cond: () => boolean | Promise<boolean>, timeoutMs = 30_000, what = "condition"): Promise<void> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}
