// h2load in HTTP/1.1 mode as the client of a row ("h2load-h1>X" = h2load --h1 driving X's server).
//
// The JSON servers (Petrel JSON-RPC, Petrel REST gateway, a bare node:http handler, jayson) all
// face the same C client, so only the server differs. HTTP/1.1 has no multiplexing and h2load
// does not pipeline POSTs (-d caps a connection at one request in flight), so `inflight` is the
// number of connections: `-c<inflight> -m1`, one h2load thread. The request is POST with
// content-type application/json and a fixed body (-d); a node:http probe first checks that the
// server really echoes it (h2load only sees HTTP statuses). req/s and latencies are parsed like
// the HTTP/2 rows (see h2load.ts).
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { latencyFromLog, parseH2loadOutput } from "./h2load.ts";
import { JSONRPC_PATH, REST_PATH, checkJsonRpcEcho, checkRestEcho, jsonRpcEchoBody, restEchoBody } from "./systems/http1-common.ts";

/** Prefix of the systems whose client is h2load in HTTP/1.1 mode; the rest of the name is the server. */
export const H2LOAD_H1_PREFIX = "h2load-h1>";

export const isH2loadH1System = (name: string): boolean => name.startsWith(H2LOAD_H1_PREFIX);

/** The one request an h2load-h1 row repeats, and how to tell a correct answer. */
export interface H1Target {
  path: string;
  body: Buffer;
  /** Throws unless `body` is the right answer to `body`. */
  check(body: Buffer): void;
}

const JSONRPC: H1Target = { path: JSONRPC_PATH, body: jsonRpcEchoBody(), check: (b) => checkJsonRpcEcho(b) };
const REST: H1Target = { path: REST_PATH, body: restEchoBody(), check: checkRestEcho };

/** Which request each h2load-h1 row sends, by row name. */
const TARGETS: Record<string, H1Target> = {
  "h2load-h1>petrel-jsonrpc": JSONRPC,
  "h2load-h1>oneport>petrel-jsonrpc": JSONRPC,
  "h2load-h1>node-http-json": JSONRPC,
  "h2load-h1>jayson": JSONRPC,
  "h2load-h1>petrel-rest": REST,
  "h2load-h1>node-http-rest": REST,
};

/** The request of an h2load-h1 row; throws for a row name without one. */
export function h1TargetOf(system: string): H1Target {
  const t = TARGETS[system];
  if (t === undefined) throw new Error(`no HTTP/1.1 request defined for "${system}" (bench/src/h2load-h1.ts TARGETS)`);
  return t;
}

export interface H2loadH1Config {
  bin: string;
  port: number;
  /** Connections, each with one request in flight. */
  inflight: number;
  warmupS: number;
  durationS: number;
  core: number | undefined;
  track?: (proc: ChildProcess) => void;
}

/** h2load's arguments for one row (body and log file paths given). */
export function h2loadH1Args(cfg: H2loadH1Config, path: string, bodyFile: string, logFile: string): string[] {
  const ms = (s: number): string => `${Math.max(1, Math.round(s * 1000))}ms`;
  return [
    "--h1",
    `-c${cfg.inflight}`,
    "-t1",
    "-m1",
    `--warm-up-time=${ms(cfg.warmupS)}`,
    `-D${ms(cfg.durationS)}`,
    "-d",
    bodyFile,
    "-H",
    "content-type: application/json",
    `--log-file=${logFile}`,
    `http://127.0.0.1:${cfg.port}${path}`,
  ];
}

/** One POST of the target's request over node:http; rejects unless the answer is 200 and passes the check. */
export function probeH1(port: number, target: H1Target, timeoutMs = 10_000): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        method: "POST",
        path: target.path,
        agent: false,
        headers: { "content-type": "application/json", "content-length": target.body.length },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const body = Buffer.concat(chunks);
          if (res.statusCode !== 200) return reject(new Error(`probe: HTTP ${res.statusCode}: ${body.toString("utf8").slice(0, 200)}`));
          try {
            target.check(body);
            resolve();
          } catch (e) {
            reject(new Error(`probe: ${(e as Error).message}`));
          }
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`probe: no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(target.body);
  });
}

/** Runs h2load --h1 once for the row `system`; rejects on any failed request or a timeout. */
export async function runH2loadH1(system: string, cfg: H2loadH1Config): Promise<{ rps: number; p50_us: number; p99_us: number }> {
  const target = h1TargetOf(system);
  const dir = mkdtempSync(join(tmpdir(), "petrel-h2load-h1-"));
  try {
    const bodyFile = join(dir, "body.json");
    const logFile = join(dir, "requests.tsv");
    writeFileSync(bodyFile, target.body);
    await probeH1(cfg.port, target);
    const argv = h2loadH1Args(cfg, target.path, bodyFile, logFile);
    const out = await run(
      cfg.core === undefined ? [cfg.bin, argv] : ["taskset", ["-c", String(cfg.core), cfg.bin, ...argv]],
      (cfg.warmupS + cfg.durationS + 30) * 1000,
      cfg.track,
    );
    const s = parseH2loadOutput(out);
    const bad = s.failed + s.errored + s.timeout + s.non2xx;
    if (s.done === 0 || bad > 0)
      throw new Error(`h2load: ${s.done} done, ${s.failed} failed, ${s.errored} errored, ${s.timeout} timeout, ${s.non2xx} non-2xx`);
    return { rps: s.rps, ...latencyFromLog(readFileSync(logFile, "utf8")) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs a command to completion; resolves with stdout, rejects on a non-zero exit or timeout. */
function run([cmd, argv]: [string, string[]], timeoutMs: number, track?: (proc: ChildProcess) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, argv, { stdio: ["ignore", "pipe", "pipe"] });
    track?.(proc);
    let out = "";
    let err = "";
    proc.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
    });
    proc.stderr.setEncoding("utf8").on("data", (d: string) => {
      err = (err + d).slice(-2000);
    });
    const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
    proc.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    proc.once("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`h2load exited with ${signal ?? code}: ${(err || out).trim().split("\n").slice(-3).join(" | ")}`));
    });
  });
}
