// Helpers for the JSON-RPC peer tests: find Python / Go, build Go programs (standard library only,
// GOPATH mode, offline, cached in os.tmpdir by source hash), run clients, start servers.
import { execFile, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** packages/node/test-peers/jsonrpc. @internal */
export const PEER_DIR = join(dirname(fileURLToPath(import.meta.url)), "../test-peers/jsonrpc");
export const PYTHON = "/usr/bin/python3";

/**
 * Whether a peer is usable; when not, the test fails under CI (process.env.CI) and is skipped
 * loudly otherwise. Returns a skip reason or undefined. @internal
 */
export function peerMissing(what: string, ok: boolean): string | undefined {
  if (ok) return undefined;
  const msg = `JSON-RPC peer test needs ${what}, which is missing`;
  if (process.env.CI) throw new Error(msg);
  console.error(`!!! SKIPPED: ${msg}`);
  return msg;
}

/** Whether Python and the given module import. @internal */
export function pythonHas(module: string | undefined): boolean {
  if (!existsSync(PYTHON)) return false;
  if (module === undefined) return true;
  return spawnSyncOk(PYTHON, ["-c", `import ${module}`]);
}

function spawnSyncOk(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: "ignore", timeout: 30_000 }).status === 0;
}

/** Runs a program to completion; resolves its stdout, rejects with stderr on failure. @internal */
export function run(cmd: string, args: string[], timeoutMs = 120_000, env?: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, env: env ?? process.env, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(" ")} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** A server process that prints its port as its first stdout line. @internal */
export interface PeerServer {
  port: number;
  close(): Promise<void>;
}

/** Starts a server process and waits for its port. @internal */
export function startServer(cmd: string, args: string[], timeoutMs = 60_000): Promise<PeerServer> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    const close = () =>
      new Promise<void>((res) => {
        if (child.exitCode !== null || child.signalCode !== null) return res();
        child.once("exit", () => res());
        child.kill("SIGKILL");
      });
    const timer = setTimeout(() => {
      void close();
      reject(new Error(`${cmd}: no port within ${timeoutMs} ms\n${err}`));
    }, timeoutMs);
    child.stderr?.on("data", (d: Buffer) => {
      err += d.toString();
    });
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf("\n");
      if (nl === -1) return;
      clearTimeout(timer);
      child.stdout?.removeAllListeners("data");
      child.stdout?.resume();
      resolve({ port: Number(out.slice(0, nl).trim()), close });
    });
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} exited (${code}) before printing a port\n${err}`));
    });
  });
}

/** Whether a Go toolchain is on PATH. @internal */
export function goAvailable(): boolean {
  return spawnSyncOk("go", ["version"]);
}

/** Builds test-peers/jsonrpc/<name>/main.go; cached in os.tmpdir by source hash. @internal */
export async function buildGo(name: string): Promise<string> {
  const src = join(PEER_DIR, name, "main.go");
  const hash = createHash("sha256").update(readFileSync(src)).digest("hex").slice(0, 16);
  const dir = join(tmpdir(), "petrel-jsonrpc-go", `${name}-${hash}`);
  const bin = join(dir, name);
  if (existsSync(bin)) return bin;
  const work = `${dir}.${process.pid}.${Date.now()}`;
  mkdirSync(work, { recursive: true });
  try {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      GO111MODULE: "off",
      GOPATH: join(work, "gopath"),
      GOPROXY: "off",
      GOFLAGS: "",
      CGO_ENABLED: "0",
      GOCACHE: join(tmpdir(), "petrel-go-build-cache"),
    };
    await run("go", ["build", "-o", join(work, name), src], 300_000, env);
    mkdirSync(dirname(dir), { recursive: true });
    try {
      renameSync(work, dir);
    } catch (e) {
      // Another run built the same source first: use its binary.
      if (!existsSync(bin)) throw e;
      rmSync(work, { recursive: true, force: true });
    }
  } catch (e) {
    rmSync(work, { recursive: true, force: true });
    throw e;
  }
  return bin;
}
