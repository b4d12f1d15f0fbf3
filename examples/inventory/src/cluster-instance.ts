/**
 * One instance of the cluster demo, run as a child process:
 * `node --import tsx cluster-instance.ts --id=inventory-1 --registry=petrel://127.0.0.1:7000`
 * (or `etcd://host:port`, `zk://host:port`). Serves the inventory service and grpc.health.v1 on
 * one port (petrel/1 and gRPC), registers in the registry once listening, prints `ready <port>`,
 * and on SIGTERM/SIGINT (or when its parent goes away: stdin closes) deregisters, drains and exits 0.
 */
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { createRouter } from "@petrel/core";
import { createRegistryRegistrar, type Registrar } from "@petrel/discovery";
import { Health, createHealthService } from "@petrel/health";
import { createNativeTransport, createPetrelServer } from "@petrel/node";
import { InventoryService } from "./gen/petrel/examples/inventory/v1/inventory_pb.js";
import { createInventoryService } from "./inventory-service.js";

/** The service name instances register under and clients resolve. */
export const CLUSTER_SERVICE = InventoryService.typeName;

/** Registry kinds the demo knows. */
export type RegistryScheme = "petrel" | "etcd" | "zk";

/** A parsed `--registry` value: `petrel://h:p`, `etcd://h:p[,h:p]`, `zk://h:p[,h:p]`. */
export interface RegistryUrl {
  readonly scheme: RegistryScheme;
  /** `host:port[,host:port]`. */
  readonly authority: string;
}

/** Parses a registry URL; throws an Error that says what is expected. */
export function parseRegistryUrl(raw: string): RegistryUrl {
  const m = /^(petrel|etcd|zk):\/\/([^/\s]+)\/?$/i.exec(String(raw).trim());
  if (m === null) {
    throw new Error(`invalid registry "${raw}": expected etcd://host:port, zk://host:port or petrel://host:port`);
  }
  const authority = m[2] as string;
  for (const hp of authority.split(",")) {
    if (!/^(\[[0-9a-f:.]+\]|[^:[\]]+):\d{1,5}$/i.test(hp)) throw new Error(`invalid registry "${raw}": "${hp}" is not host:port`);
  }
  return { scheme: (m[1] as string).toLowerCase() as RegistryScheme, authority };
}

/**
 * A registrar for the registry. etcd and ZooKeeper clients are imported only when used. Short
 * TTLs (3 s; ZooKeeper's minimum session timeout is 2 ticks, 4 s with the default tick) so a
 * killed instance leaves the registry soon; the client notices it sooner through its connection.
 */
export async function createClusterRegistrar(url: RegistryUrl, onError: (e: Error) => void): Promise<Registrar> {
  if (url.scheme === "etcd") {
    const { createEtcdRegistrar } = await import("@petrel/discovery-etcd");
    return createEtcdRegistrar({ hosts: url.authority, ttlMs: 3_000, onError });
  }
  if (url.scheme === "zk") {
    const { createZkRegistrar } = await import("@petrel/discovery-zk");
    return createZkRegistrar({ connect: url.authority, sessionTimeoutMs: 4_000, requestTimeoutMs: 10_000, onError });
  }
  return createRegistryRegistrar({
    address: url.authority,
    transport: (address) => createNativeTransport({ address, backoff: { initialMs: 50, maxMs: 500 }, connectTimeoutMs: 5_000 }),
    backoff: { initialMs: 100, maxMs: 1_000 },
    onError,
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { id: { type: "string" }, registry: { type: "string" }, host: { type: "string", default: "127.0.0.1" } },
    strict: true,
  });
  if (values.id === undefined || !/^[\w.-]{1,64}$/.test(values.id))
    throw new Error("--id=<instance id> is required (letters, digits, _ . -)");
  if (values.registry === undefined) throw new Error("--registry=<petrel|etcd|zk>://host:port is required");
  const url = parseRegistryUrl(values.registry);
  const id = values.id;
  const registrar = await createClusterRegistrar(url, (e) => process.stderr.write(`${id}: registry: ${e.message}\n`));
  const health = createHealthService();
  // x-served-by = the instance id, so the client can count who served each call.
  const router = createRouter()
    .service(InventoryService, createInventoryService(undefined, { servedBy: id }))
    .service(Health, health.impl);
  const server = createPetrelServer({ router, registry: { registrar, service: CLUSTER_SERVICE, id, ttlMs: 3_000 } });
  let bound: { port: number };
  try {
    bound = await server.listen({ port: 0, host: values.host });
  } catch (e) {
    await registrar.close().catch(() => {});
    throw e;
  }

  let stopping = false;
  /** `patienceMs`: when the process exits anyway, drained or not. */
  const stop = (why: string, patienceMs = 5_000) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`${id}: ${why}: deregistering and draining\n`);
    health.shutdown(); // watchers see NOT_SERVING at once
    // A stuck drain (or a registry that is gone) must not keep the process.
    setTimeout(() => process.exit(1), patienceMs).unref();
    server
      .close({ graceMs: 2_000 })
      .then(() => registrar.close())
      .then(
        () => process.exit(0),
        (e: unknown) => {
          process.stderr.write(`${id}: close failed: ${e instanceof Error ? e.message : String(e)}\n`);
          process.exit(1);
        },
      );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  // The parent holds our stdin: when it dies (even by SIGKILL) stdin ends and we leave too.
  // Nobody is left to call it (the embedded registry may have died with the parent): be quick.
  process.stdin.on("end", () => stop("parent gone", 1_000));
  process.stdin.on("error", () => stop("parent gone", 1_000));
  process.stdin.resume();
  process.stdout.write(`ready ${bound.port}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`cluster instance failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
