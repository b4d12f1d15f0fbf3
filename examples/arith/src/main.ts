// `npm run example:arith -- [--port=P] [--host=H]`: serves Arith on every protocol on one port
// until SIGINT/SIGTERM. The first stdout line names the bound address (with `--port=0`, the port
// the OS chose), so scripts and tests can read it.
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { ARITH_PROTOCOLS, startArithServer } from "./server.js";

/** Port used when `--port` is not given. */
export const DEFAULT_PORT = 8080;

/** The command line, checked. */
export interface ArithArgs {
  port: number;
  host: string;
  // A later `--metrics-port` (issue 7) parses here and starts its endpoint in main(), passing its
  // interceptor to startArithServer({ interceptors }).
}

const USAGE = "usage: npm run example:arith -- [--port=P (default 8080, 0 = any free port)] [--host=H (default 127.0.0.1)]";

/** Parses the command line; throws an Error whose message includes the usage on bad input. */
export function parseArithArgs(argv: readonly string[]): ArithArgs {
  let values: { port?: string; host?: string };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { port: { type: "string" }, host: { type: "string" } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
  }
  const rawPort = values.port ?? String(DEFAULT_PORT);
  const port = /^\d{1,5}$/.test(rawPort) ? Number(rawPort) : Number.NaN;
  if (!(port >= 0 && port <= 65535)) throw new Error(`--port must be an integer in 0..65535, got "${rawPort}"\n${USAGE}`);
  const host = values.host ?? "127.0.0.1";
  if (host === "") throw new Error(`--host must not be empty\n${USAGE}`);
  return { port, host };
}

async function main(): Promise<void> {
  let args: ArithArgs;
  try {
    args = parseArithArgs(process.argv.slice(2));
  } catch (e) {
    console.error((e as Error).message);
    process.exit(2);
  }
  const server = await startArithServer({ port: args.port, host: args.host });
  console.log(`arith listening on ${server.host}:${server.port} (${ARITH_PROTOCOLS})`);
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      console.log(`${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    console.log(`${signal}: closing gracefully (in-flight calls may finish, up to 5 s)`);
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
