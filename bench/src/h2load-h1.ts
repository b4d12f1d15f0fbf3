// h2load in HTTP/1.1 mode as the client of a row ("h2load-h1>X" = h2load --h1 driving X's server).
//
// The JSON servers (Petrel JSON-RPC, Petrel REST gateway, a bare node:http handler, jayson) all
// face the same C client, so only the server differs. HTTP/1.1 has no multiplexing and h2load
// does not pipeline POSTs (-d caps a connection at one request in flight), so `inflight` is the
// number of connections: `-c<inflight> -m1`, one h2load thread. The request is POST with
// content-type application/json and a fixed body (-d); a node:http probe first checks that the
// server really echoes it (h2load only sees HTTP statuses). The run itself (arguments, req/s and
// latencies) is the HTTP/2 rows' (h2load.ts) with this file's shape.
import * as http from "node:http";
import { type H2loadConfig, type H2loadResult, type H2loadShape, h2loadArgs, runH2loadRequest } from "./h2load.ts";
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

/** As {@link H2loadConfig}; `inflight` is the number of connections, each with one request in flight. */
export type H2loadH1Config = H2loadConfig;

/** HTTP/1.1, one connection per request in flight, a JSON POST to `path`. */
function h1Shape(cfg: H2loadH1Config, path: string): H2loadShape {
  return { h1: true, connections: cfg.inflight, streams: 1, headers: ["content-type: application/json"], path };
}

/** h2load's arguments for one row (body and log file paths given). */
export function h2loadH1Args(cfg: H2loadH1Config, path: string, bodyFile: string, logFile: string): string[] {
  return h2loadArgs(cfg, h1Shape(cfg, path), bodyFile, logFile);
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
export function runH2loadH1(system: string, cfg: H2loadH1Config): Promise<H2loadResult> {
  const target = h1TargetOf(system);
  return runH2loadRequest(cfg, { ...h1Shape(cfg, target.path), body: target.body, probe: () => probeH1(cfg.port, target) });
}
