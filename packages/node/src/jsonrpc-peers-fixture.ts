// Helpers for the JSON-RPC and net/rpc peer tests: find Python, build the Go net/rpc peers (with
// @petrel/testing's buildGoProgram), run clients, start servers.
import assert from "node:assert/strict";
import { execFile, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Code, RpcError } from "@petrel/core";
import { buildGoProgram } from "@petrel/testing";

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
  return spawnSync(PYTHON, ["-c", `import ${module}`], { stdio: "ignore", timeout: 30_000 }).status === 0;
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

/** packages/node/test-peers/netrpc: a Go net/rpc client and server, each with `-codec=gob|json`. @internal */
export const NETRPC_PEER_DIR = join(dirname(fileURLToPath(import.meta.url)), "../test-peers/netrpc");

/** Builds test-peers/netrpc/<name> (cached by source hash, see buildGoProgram). @internal */
export function buildNetRpcPeer(name: "go-client" | "go-server"): Promise<string> {
  return buildGoProgram(join(NETRPC_PEER_DIR, name), { cacheTag: `netrpc-${name}` });
}

/** The wire codec of the Go net/rpc peers: net/rpc's default gob, or net/rpc/jsonrpc. @internal */
export type NetRpcCodec = "gob" | "json";

/** Starts test-peers/netrpc/go-server (Go's Arith) on the codec. @internal */
export async function startNetRpcGoServer(codec: NetRpcCodec): Promise<PeerServer> {
  return startServer(await buildNetRpcPeer("go-server"), [`-codec=${codec}`]);
}

/**
 * Runs test-peers/netrpc/go-client against 127.0.0.1:port and checks its report: Multiply's
 * answer, Divide's struct, divide by zero and an unknown method as Go errors (the latter's text
 * is the server's own), and 20 pipelined calls. @internal
 */
export async function assertGoClientCallsArith(codec: NetRpcCodec, port: number, unknownMethodError: RegExp): Promise<void> {
  const out = JSON.parse(await run(await buildNetRpcPeer("go-client"), [`-codec=${codec}`, `127.0.0.1:${port}`]));
  assert.equal(out.multiply, 42);
  assert.deepEqual(out.divide, { Quo: 3, Rem: 2 });
  assert.equal(out.divZeroError, "[invalid_argument] divide by zero");
  assert.match(out.unknownError, unknownMethodError);
  assert.deepEqual(
    out.squares,
    Array.from({ length: 20 }, (_, i) => i * i),
  );
}

/** A Petrel client of Go's Arith (jsonrpc-arith-fixture's ArithService). @internal */
export type ArithClient = Record<"multiply" | "divide", (req: { A: number; B: number }) => Promise<Record<string, number>>>;

/** Multiply, Divide, and Go's divide-by-zero error string as UNKNOWN, through a Petrel client of a Go server. @internal */
export async function assertArithAgainstGo(arith: ArithClient): Promise<void> {
  assert.equal((await arith.multiply({ A: 7, B: 6 })).value, 42);
  const q = await arith.divide({ A: 17, B: 5 });
  assert.deepEqual([q.Quo, q.Rem], [3, 2]);
  await assert.rejects(
    arith.divide({ A: 1, B: 0 }),
    (e: unknown) => e instanceof RpcError && e.code === Code.UNKNOWN && e.rawMessage === "divide by zero",
  );
}
