// h2load as the client of a row ("h2load>X" = h2load driving system X's server).
//
// h2load (Debian nghttp2-client) is a C load generator, so these rows measure the server role
// with a client that costs almost nothing: unary Echo, the ~100-byte request gRPC-framed in a
// body file (-d), content-type application/grpc and te: trailers, ONE connection (-c1) with
// `inflight` concurrent streams (-m), timing-based (--warm-up-time, -D). Latencies come from
// h2load's per-request log (--log-file), which holds only main-phase requests.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as http2 from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Histogram } from "./histogram.ts";
import { framedEchoRequest } from "./systems/raw-http2.ts";

/** Prefix of the systems whose client is h2load; the rest of the name is the server's system. */
export const H2LOAD_PREFIX = "h2load>";
const ECHO_PATH = "/petrel.bench.v1.EchoService/Echo";

export const isH2loadSystem = (name: string): boolean => name.startsWith(H2LOAD_PREFIX);

/** Absolute path of h2load, or undefined when it is not installed. */
export function findH2load(): string | undefined {
  try {
    return execFileSync("sh", ["-c", "command -v h2load"], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

export interface H2loadConfig {
  bin: string;
  port: number;
  inflight: number;
  warmupS: number;
  durationS: number;
  /** CPU to pin h2load to (via taskset), or undefined for no pinning. */
  core: number | undefined;
  /** Called with the h2load process, so the caller can kill it if the bench is interrupted. */
  track?: (proc: ChildProcess) => void;
}

export interface H2loadResult {
  rps: number;
  p50_us: number;
  p99_us: number;
}

/** The parts of h2load's summary a row needs. */
export interface H2loadSummary {
  rps: number;
  done: number;
  succeeded: number;
  failed: number;
  errored: number;
  timeout: number;
  non2xx: number;
}

/** Parses h2load's text summary; throws with the output's tail when a line is missing. */
export function parseH2loadOutput(out: string): H2loadSummary {
  const fin = /finished in [\d.]+\w*, ([\d.]+) req\/s/.exec(out);
  const req = /requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  if (!fin || !req || !codes) throw new Error(`unexpected h2load output: ${out.trim().split("\n").slice(-3).join(" | ")}`);
  return {
    rps: Number(fin[1]),
    done: Number(req[1]),
    succeeded: Number(req[2]),
    failed: Number(req[3]),
    errored: Number(req[4]),
    timeout: Number(req[5]),
    non2xx: Number(codes[2]) + Number(codes[3]) + Number(codes[4]),
  };
}

/** p50/p99 from h2load's --log-file (tab-separated: start µs, status, µs to end of response). */
export function latencyFromLog(text: string): { p50_us: number; p99_us: number } {
  const hist = new Histogram();
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    const t2 = text.lastIndexOf("\t", end);
    if (t2 > start) {
      const us = Number(text.slice(t2 + 1, end));
      if (Number.isFinite(us)) hist.record(us * 1000);
    }
    start = end + 1;
  }
  return { p50_us: hist.quantileUs(0.5), p99_us: hist.quantileUs(0.99) };
}

/**
 * One Echo call over node:http2 that checks what h2load cannot: the response body is the
 * request echoed and the trailers say grpc-status 0 (h2load only sees HTTP 200).
 */
export async function probeGrpcEcho(port: number, body: Buffer, timeoutMs = 10_000): Promise<void> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`probe: no answer within ${timeoutMs} ms`)), timeoutMs);
      session.once("error", reject);
      const stream = session.request({ ":method": "POST", ":path": ECHO_PATH, "content-type": "application/grpc", te: "trailers" });
      const chunks: Buffer[] = [];
      let status: string | undefined;
      stream.on("response", (h) => {
        if (h["grpc-status"] !== undefined) status = String(h["grpc-status"]);
      });
      stream.on("trailers", (t) => {
        status = String(t["grpc-status"]);
      });
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("error", reject);
      stream.on("close", () => {
        clearTimeout(timer);
        const got = Buffer.concat(chunks);
        if (status !== "0") reject(new Error(`probe: grpc-status ${status ?? "(none)"}`));
        else if (!got.equals(body)) reject(new Error(`probe: the response (${got.length} B) is not the request echoed (${body.length} B)`));
        else resolve();
      });
      stream.end(body);
    });
  } finally {
    session.destroy();
  }
}

/** How an h2load run talks: protocol, connections, streams per connection, headers, URL path. */
export interface H2loadShape {
  /** HTTP/1.1 (`--h1`) instead of HTTP/2. */
  h1: boolean;
  connections: number;
  /** Requests in flight per connection (-m). */
  streams: number;
  /** Request headers, `name: value`. */
  headers: string[];
  path: string;
}

/** h2load's arguments for one run (body and log file paths given); one h2load thread, timing-based. */
export function h2loadArgs(cfg: H2loadConfig, shape: H2loadShape, bodyFile: string, logFile: string): string[] {
  const ms = (s: number): string => `${Math.max(1, Math.round(s * 1000))}ms`;
  return [
    ...(shape.h1 ? ["--h1"] : []),
    `-c${shape.connections}`,
    "-t1",
    `-m${shape.streams}`,
    `--warm-up-time=${ms(cfg.warmupS)}`,
    `-D${ms(cfg.durationS)}`,
    "-d",
    bodyFile,
    ...shape.headers.flatMap((h) => ["-H", h]),
    `--log-file=${logFile}`,
    `http://127.0.0.1:${cfg.port}${shape.path}`,
  ];
}

/** What one h2load run repeats: its shape, the request body, and a probe of one call (h2load sees only statuses). */
export interface H2loadRequest extends H2loadShape {
  body: Buffer;
  /** Rejects unless the server answers the request correctly; runs before h2load. */
  probe(): Promise<void>;
}

/** Runs h2load once with `req` against 127.0.0.1:port; rejects on a failed probe, any failed request or a timeout. */
export async function runH2loadRequest(cfg: H2loadConfig, req: H2loadRequest): Promise<H2loadResult> {
  const dir = mkdtempSync(join(tmpdir(), "petrel-h2load-"));
  try {
    const bodyFile = join(dir, "body");
    const logFile = join(dir, "requests.tsv");
    writeFileSync(bodyFile, req.body);
    await req.probe();
    const argv = h2loadArgs(cfg, req, bodyFile, logFile);
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

/** Runs h2load once for a gRPC Echo row: one connection, `inflight` streams. */
export function runH2load(cfg: H2loadConfig): Promise<H2loadResult> {
  const body = framedEchoRequest();
  return runH2loadRequest(cfg, {
    h1: false,
    connections: 1,
    streams: cfg.inflight,
    headers: ["content-type: application/grpc", "te: trailers"],
    path: ECHO_PATH,
    body,
    probe: () => probeGrpcEcho(cfg.port, body),
  });
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
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`h2load timed out after ${(timeoutMs / 1000).toFixed(1)} s`));
    }, timeoutMs);
    proc.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    proc.once("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`h2load exited (code ${code}, signal ${signal}): ${(err || out).trim().split("\n").slice(-2).join(" | ")}`));
    });
  });
}
