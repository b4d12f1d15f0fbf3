// `npm run example:arith -- [--port=P] [--host=H] [--metrics-port=M]`: serves Arith on every
// protocol on one port until SIGINT/SIGTERM. The first stdout line names the bound address (with
// `--port=0`, the port the OS chose), so scripts and tests can read it. With `--metrics-port`,
// Prometheus metrics of every call on every protocol are served at `http://H:M/metrics`, and the
// second line names that address.
import { createServer, type Server } from "node:http";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { createMetrics, type Metrics } from "@petrel/observability";
import { ARITH_PROTOCOLS, startArithServer } from "./server.js";

/** Port used when `--port` is not given. */
export const DEFAULT_PORT = 8080;

/** The command line, checked. */
export interface ArithArgs {
  port: number;
  host: string;
  /** Port of the Prometheus `/metrics` endpoint (on `host`); undefined = no metrics. */
  metricsPort?: number;
}

const USAGE =
  "usage: npm run example:arith -- [--port=P (default 8080, 0 = any free port)] [--host=H (default 127.0.0.1)] [--metrics-port=M (serve /metrics; 0 = any free port)]";

function parsePort(flag: string, raw: string): number {
  const port = /^\d{1,5}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(port >= 0 && port <= 65535)) throw new Error(`${flag} must be an integer in 0..65535, got "${raw}"\n${USAGE}`);
  return port;
}

/** Parses the command line; throws an Error whose message includes the usage on bad input. */
export function parseArithArgs(argv: readonly string[]): ArithArgs {
  let values: { port?: string; host?: string; "metrics-port"?: string };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { port: { type: "string" }, host: { type: "string" }, "metrics-port": { type: "string" } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
  }
  const port = parsePort("--port", values.port ?? String(DEFAULT_PORT));
  const host = values.host ?? "127.0.0.1";
  if (host === "") throw new Error(`--host must not be empty\n${USAGE}`);
  if (values["metrics-port"] === undefined) return { port, host };
  const metricsPort = parsePort("--metrics-port", values["metrics-port"]);
  if (metricsPort !== 0 && metricsPort === port) throw new Error(`--metrics-port must differ from --port (${port})\n${USAGE}`);
  return { port, host, metricsPort };
}

/** A `/metrics` endpoint on its own port; anything else gets 404. */
async function startMetricsServer(metrics: Metrics, host: string, port: number): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (metrics.handler(req, res)) return;
    res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
    res.end("not found: metrics are at /metrics\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const a = server.address();
  return { server, port: a !== null && typeof a === "object" ? a.port : port };
}

async function main(): Promise<void> {
  let args: ArithArgs;
  try {
    args = parseArithArgs(process.argv.slice(2));
  } catch (e) {
    console.error((e as Error).message);
    process.exit(2);
  }
  // One interceptor on the router sees every call on every protocol: gRPC, Connect, gRPC-Web,
  // REST, JSON-RPC (HTTP, WebSocket, TCP), petrel/1 and Go's net/rpc.
  const metrics = args.metricsPort === undefined ? undefined : createMetrics();
  const server = await startArithServer({
    port: args.port,
    host: args.host,
    interceptors: metrics === undefined ? [] : [metrics.serverInterceptor],
  });
  console.log(`arith listening on ${server.host}:${server.port} (${ARITH_PROTOCOLS})`);
  let metricsServer: Server | undefined;
  if (metrics !== undefined && args.metricsPort !== undefined) {
    metrics.observeServer(server, "arith");
    let started: { server: Server; port: number };
    try {
      started = await startMetricsServer(metrics, server.host, args.metricsPort);
    } catch (e) {
      await server.close({ graceMs: 0 });
      throw new Error(`cannot serve metrics on ${server.host}:${args.metricsPort}: ${e instanceof Error ? e.message : String(e)}`);
    }
    metricsServer = started.server;
    const h = server.host.includes(":") ? `[${server.host}]` : server.host;
    console.log(`metrics on http://${h}:${started.port}/metrics`);
  }
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      console.log(`${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    console.log(`${signal}: closing gracefully (in-flight calls may finish, up to 5 s)`);
    metricsServer?.close();
    metricsServer?.closeAllConnections();
    server.close({ graceMs: 5000 }).then(
      () => {
        console.log("closed");
        process.exit(0);
      },
      (e: unknown) => {
        console.error("close failed:", e);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
