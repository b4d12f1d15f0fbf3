// Test fixture: a throwaway single-node etcd on loopback with free ports and a temp data dir.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Path of the etcd binary: `$ETCD_BIN`, else `etcd` on PATH. */
export const ETCD_BIN = process.env.ETCD_BIN ?? "etcd";

/**
 * Whether etcd can run here. When it cannot, tests fail under CI and skip loudly otherwise:
 * `describe(name, { skip: etcdSkipReason() }, ...)`.
 */
export function etcdSkipReason(): string | false {
  const r = spawnSync(ETCD_BIN, ["--version"], { encoding: "utf8" });
  if (!r.error && r.status === 0) return false;
  const why = `etcd binary "${ETCD_BIN}" not runnable (${r.error?.message ?? `exit ${r.status}`}); install Debian etcd-server`;
  if (process.env.CI) throw new Error(why);
  console.warn(`\n!!! SKIPPING etcd tests: ${why}\n`);
  return why;
}

/** A free TCP port on 127.0.0.1 (bound to port 0, then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A running (or stopped, restartable) etcd. */
export interface EtcdFixture {
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  /** `127.0.0.1:<clientPort>`, what an `etcd://` target or registrar `hosts` takes. */
  readonly host: string;
  readonly running: boolean;
  /** Stops etcd: SIGTERM, then SIGKILL after `graceMs` (default 5 s). Keeps the data dir. */
  stop(graceMs?: number): Promise<void>;
  /** Starts etcd again on the same ports and data dir; resolves once healthy. */
  start(): Promise<void>;
  /** Stops etcd and removes the data dir. Safe to call twice. */
  dispose(): Promise<void>;
}

/** Starts etcd and waits until `/health` answers healthy (deadline `readyTimeoutMs`, default 30 s). */
export async function startEtcd(opts: { readyTimeoutMs?: number } = {}): Promise<EtcdFixture> {
  const clientPort = await freePort();
  const peerPort = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "petrel-etcd-"));
  const readyTimeoutMs = opts.readyTimeoutMs ?? 30_000;
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  let child: ChildProcess | undefined;
  let log = "";

  const launch = async (): Promise<void> => {
    log = "";
    const c = spawn(
      ETCD_BIN,
      [
        "--name",
        "n1",
        "--data-dir",
        dataDir,
        "--listen-client-urls",
        client,
        "--advertise-client-urls",
        client,
        "--listen-peer-urls",
        peer,
        "--initial-advertise-peer-urls",
        peer,
        "--initial-cluster",
        `n1=${peer}`,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    child = c;
    // Keep the tail of etcd's log for failure messages; etcd logs a lot on stderr.
    const keep = (b: Buffer) => {
      log = (log + b.toString()).slice(-4_000);
    };
    c.stdout?.on("data", keep);
    c.stderr?.on("data", keep);
    const deadline = Date.now() + readyTimeoutMs;
    while (!(await healthy(clientPort))) {
      if (c.exitCode !== null || c.signalCode !== null) {
        throw new Error(`etcd exited (${c.exitCode ?? c.signalCode}) before becoming healthy:\n${log}`);
      }
      if (Date.now() > deadline) {
        await stop(1_000);
        throw new Error(`etcd not healthy on ${clientPort} within ${readyTimeoutMs} ms:\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const stop = async (graceMs = 5_000): Promise<void> => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once("exit", () => r()));
    c.kill("SIGTERM");
    const timer = setTimeout(() => c.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
    c.stdout?.destroy();
    c.stderr?.destroy();
  };

  const fixture: EtcdFixture = {
    clientPort,
    peerPort,
    dataDir,
    host: `127.0.0.1:${clientPort}`,
    get running() {
      return child !== undefined;
    },
    stop,
    async start() {
      if (child) throw new Error("etcd fixture already running");
      await launch();
    },
    async dispose() {
      await stop(2_000);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  try {
    await launch();
  } catch (e) {
    await fixture.dispose();
    throw e;
  }
  return fixture;
}

/** GET /health on the client port; true when etcd reports `"health":"true"`. */
function healthy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path: "/health", agent: false, timeout: 2_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () => resolve(res.statusCode === 200 && body.includes('"health":"true"')));
      res.on("error", () => resolve(false));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
    req.end();
  });
}
