import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { createRouter } from "@petrel/core";
import { createNativeServer } from "@petrel/node";
import { InventoryService } from "./gen/petrel/examples/inventory/v1/inventory_pb.js";
import { createCallCounter, createInventoryService, type CatalogueItem, type InventoryServiceOptions } from "./inventory-service.js";

/** Options of `startInventoryServer`. */
export interface InventoryServerOptions extends InventoryServiceOptions {
  /** TCP port; 0 picks a free one. Default 0. */
  port?: number;
  /** Interface to bind. Default `127.0.0.1`. */
  host?: string;
  /** Initial catalogue. Default: the service's built-in one. */
  items?: readonly Readonly<CatalogueItem>[];
}

/** A running inventory server. */
export interface InventoryServer {
  readonly host: string;
  readonly port: number;
  /** Calls served so far, by method name. */
  callCounts(): Record<string, number>;
  /** Graceful shutdown: in-flight calls get up to `graceMs` (default 5000) to finish. */
  close(options?: { graceMs?: number }): Promise<void>;
}

/** Starts the inventory service over petrel/1 on TCP. */
export async function startInventoryServer(options: InventoryServerOptions = {}): Promise<InventoryServer> {
  const { port = 0, host = "127.0.0.1", items, ...serviceOptions } = options;
  const counter = createCallCounter();
  const router = createRouter({ interceptors: [counter.interceptor] }).service(
    InventoryService,
    createInventoryService(items, serviceOptions),
  );
  const server = createNativeServer({ router });
  const bound = await server.listen({ port, host });
  let closing: Promise<void> | undefined;
  return {
    host: bound.host,
    port: bound.port,
    callCounts: () => counter.counts(),
    close: ({ graceMs = 5000 } = {}) => {
      closing ??= server.close({ graceMs });
      return closing;
    },
  };
}

/** `node --import tsx examples/inventory/src/server.ts [--port=P] [--host=H]`: serves until SIGINT/SIGTERM. */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { port: { type: "string", default: "0" }, host: { type: "string", default: "127.0.0.1" } },
    strict: true,
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be an integer in 0..65535, got "${values.port}"`);
  const server = await startInventoryServer({ port, host: values.host });
  console.log(`inventory server listening on ${server.host}:${server.port} (petrel/1 over TCP); Ctrl-C to stop`);
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
        console.log(`closed; calls served: ${JSON.stringify(server.callCounts())}`);
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
