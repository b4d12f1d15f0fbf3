/**
 * The inventory demo: a server and a client on loopback over petrel/1 (TCP), walking through
 * every call kind, concurrency, errors, deadlines and metadata. `npm run demo`.
 */
import { performance } from "node:perf_hooks";
import { setTimeout as delay } from "node:timers/promises";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { RpcError, codeName, createClient, type Interceptor, type Metadata } from "@petrel/core";
import { createNativeTransport } from "@petrel/node";
import {
  InventoryService,
  type Item,
  type OrderRequestSchema,
  type RestockRequestSchema,
} from "./gen/petrel/examples/inventory/v1/inventory_pb.js";
import { DEMO_DELAY_HEADER, SERVED_BY_HEADER, STOCK_VERSION_TRAILER } from "./inventory-service.js";
import { parseDemoArgs } from "./demo-args.js";
import { startInventoryServer } from "./server.js";

const out = (line = "") => process.stdout.write(`${line}\n`);
const heading = (title: string) => out(`\n== ${title} ==`);
const ms = (t0: number) => `${(performance.now() - t0).toFixed(1)} ms`;

function money(cents: bigint): string {
  const sign = cents < 0n ? "-" : "";
  const abs = cents < 0n ? -cents : cents;
  return `${sign}$${abs / 100n}.${String(abs % 100n).padStart(2, "0")}`;
}

function describeItem(item: Item): string {
  return `${item.sku}  ${item.name}  (${item.quantity} in stock, ${money(item.priceCents)})`;
}

async function* stream<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}

function describeError(e: unknown): string {
  const err = RpcError.from(e);
  return `${codeName(err.code)}: ${err.rawMessage}`;
}

/** Client interceptor: one line per call with method, final status and duration. Muted for the 100-call burst. */
const callLog = { enabled: true };
const logCalls: Interceptor = (next) => async (req) => {
  const t0 = performance.now();
  const done = (status: string) => {
    if (callLog.enabled) out(`   [client log] ${req.method.name} -> ${status} in ${ms(t0)}`);
  };
  let res: Awaited<ReturnType<typeof next>>;
  try {
    res = await next(req);
  } catch (e) {
    done(codeName(RpcError.from(e).code));
    throw e;
  }
  if (!res.stream) {
    done("OK");
    return res;
  }
  const messages = res.message;
  res.message = (async function* () {
    let status = "CANCELLED (stopped reading)";
    try {
      yield* messages;
      status = "OK";
    } catch (e) {
      status = codeName(RpcError.from(e).code);
      throw e;
    } finally {
      done(status);
    }
  })();
  return res;
};

async function main(): Promise<void> {
  const args = parseDemoArgs(process.argv.slice(2));
  if (args.chaos) {
    // The chaos scenario alone: three instances, one failing then recovering, one 20x slower;
    // resilience on, then off for comparison. Its last line is the summary.
    out("Petrel chaos demo");
    const { runChaosDemo } = await import("./chaos.js");
    await runChaosDemo({ out });
    return;
  }
  await walkthrough();
  heading("(h) a cluster: instances found through a registry, balanced by the client");
  const { runClusterDemo } = await import("./cluster-demo.js");
  await runClusterDemo({ registry: args.registry, out });
}

async function walkthrough(): Promise<void> {
  const demoStart = performance.now();
  const server = await startInventoryServer({ port: 0, host: "127.0.0.1", servedBy: "inventory-demo-1" });
  out("Petrel inventory demo");
  out(`server: listening on 127.0.0.1:${server.port} (petrel/1 over TCP)`);
  const transport = createNativeTransport({ address: `127.0.0.1:${server.port}`, poolSize: 1 });
  const client = createClient(InventoryService, transport, { interceptors: [logCalls] });
  out("client: one connection, every call below is multiplexed on it");

  try {
    // (a) One call at a time, each awaited: like Go's net/rpc client.Call.
    heading("(a) sync style: one awaited call at a time (like Go's client.Call)");
    for (const sku of ["HW-1001", "HW-1002", "HW-9999"]) {
      try {
        const item = await client.getItem({ sku });
        out(` GetItem ${sku} -> ${describeItem(item)}`);
      } catch (e) {
        out(` GetItem ${sku} -> error ${describeError(e)}`);
      }
    }

    // (b) Many calls in flight at once on one connection: like Go's client.Go.
    heading("(b) async style: 100 GetItem calls in flight at once (like Go's client.Go)");
    callLog.enabled = false;
    const skus = Array.from({ length: 100 }, (_, i) => `HW-100${(i % 8) + 1}`);
    const t0 = performance.now();
    const settled = await Promise.allSettled(skus.map((sku) => client.getItem({ sku })));
    const elapsed = ms(t0);
    callLog.enabled = true;
    const ok = settled.filter((r) => r.status === "fulfilled").length;
    out(` ${settled.length} calls started together, ${ok} succeeded, ${settled.length - ok} failed`);
    out(` total wall time ${elapsed} (one TCP connection, requests multiplexed)`);
    const first = settled[0];
    if (first?.status === "fulfilled") out(` first answer: ${describeItem(first.value)}`);
    callLog.enabled = false;
    const t0s = performance.now();
    for (const sku of skus) await client.getItem({ sku });
    const sequential = ms(t0s);
    callLog.enabled = true;
    out(` for comparison, the same 100 calls one after another took ${sequential}`);
    out(" (the client log is muted for these 200 calls)");

    // (c) Server streaming.
    heading('(c) server streaming: ListItems(query "drill"), cheapest first');
    let n = 0;
    for await (const item of client.listItems({ query: "drill" })) out(` #${++n} ${describeItem(item)}`);
    out(` stream ended after ${n} items`);
    n = 0;
    for await (const _ of client.listItems({ query: "" })) n++;
    out(` the full catalogue (empty query) has ${n} items`);

    // (d) Client streaming.
    heading("(d) client streaming: Restock, a truck unloads crates");
    async function* unload(): AsyncGenerator<MessageInitShape<typeof RestockRequestSchema>> {
      for (const crate of [
        { sku: "HW-1002", quantity: 6 },
        { sku: "HW-1005", quantity: 40 },
        { sku: "HW-1002", quantity: 4 },
        { sku: "HW-1008", quantity: 12 },
      ]) {
        out(` -> crate: ${crate.quantity} x ${crate.sku}`);
        yield crate;
        await delay(10);
      }
    }
    const summary = await client.restock(unload());
    out(` summary: ${summary.crates} crates, ${summary.units} units`);
    for (const item of summary.updated) out(`   now ${describeItem(item)}`);
    try {
      await client.restock(
        stream([
          { sku: "HW-1001", quantity: 5 },
          { sku: "HW-1003", quantity: 0 },
        ]),
      );
      out(" bad delivery was accepted?!");
    } catch (e) {
      out(` a delivery with an empty crate -> error ${describeError(e)}`);
    }

    // (e) Bidi streaming: orders trickle in, results come back as soon as each is decided.
    heading("(e) bidi streaming: PlaceOrders, results as they arrive");
    const t1 = performance.now();
    const orders: Array<MessageInitShape<typeof OrderRequestSchema>> = [
      { orderId: "ORD-1", sku: "HW-1001", quantity: 2 },
      { orderId: "ORD-2", sku: "HW-1005", quantity: 10 },
      { orderId: "ORD-3", sku: "HW-1002", quantity: 50 },
      { orderId: "ORD-4", sku: "HW-1002", quantity: 3 },
      { orderId: "ORD-5", sku: "HW-4242", quantity: 1 },
      { orderId: "ORD-6", sku: "HW-1006", quantity: 1 },
    ];
    async function* orderDesk(): AsyncGenerator<MessageInitShape<typeof OrderRequestSchema>> {
      for (const order of orders) {
        await delay(40);
        out(` +${ms(t1).padStart(9)}  -> ${order.orderId}: ${order.quantity} x ${order.sku}`);
        yield order;
      }
    }
    let accepted = 0;
    let rejected = 0;
    for await (const r of client.placeOrders(orderDesk())) {
      if (r.accepted) {
        accepted++;
        out(` +${ms(t1).padStart(9)}  <- ${r.orderId} accepted: total ${money(r.totalCents)}, ${r.remaining} left`);
      } else {
        rejected++;
        out(` +${ms(t1).padStart(9)}  <- ${r.orderId} REJECTED: ${r.reason}`);
      }
    }
    out(` ${accepted} orders accepted, ${rejected} rejected`);

    // (f) Deadlines: the server is asked to dawdle 2 s, the client gives it 150 ms.
    heading("(f) deadline: GetItem with a 150 ms timeout on a 2 s slow path");
    const t2 = performance.now();
    try {
      await client.getItem({ sku: "HW-1004" }, { timeoutMs: 150, headers: { [DEMO_DELAY_HEADER]: "2000" } });
      out(" the slow call succeeded?!");
    } catch (e) {
      out(` failed after ${ms(t2)} with ${describeError(e)}`);
    }
    const again = await client.getItem({ sku: "HW-1004" }, { timeoutMs: 1000 });
    out(` the connection is still fine: ${describeItem(again)}`);

    // (g) Metadata: response headers and trailers.
    heading("(g) metadata: response headers and trailers");
    const versions: number[] = [];
    const show = (label: string) => ({
      onHeader: (h: Metadata) => out(` ${label} header  ${SERVED_BY_HEADER}: ${h.getString(SERVED_BY_HEADER)}`),
      onTrailer: (t: Metadata) => {
        const v = t.getString(STOCK_VERSION_TRAILER);
        versions.push(Number(v));
        out(` ${label} trailer ${STOCK_VERSION_TRAILER}: ${v}`);
      },
    });
    await client.getItem({ sku: "HW-1007" }, show("GetItem"));
    for await (const r of client.placeOrders(stream([{ orderId: "ORD-7", sku: "HW-1007", quantity: 5 }]), show("PlaceOrders"))) {
      out(` PlaceOrders result: ${r.orderId} ${r.accepted ? "accepted" : "rejected"}`);
    }
    await client.getItem({ sku: "HW-1007" }, show("GetItem"));
    try {
      await client.getItem({ sku: "HW-0000" }, { onTrailer: show("failed GetItem").onTrailer });
    } catch (e) {
      out(` (that call failed with ${describeError(e)}; trailers arrive on errors too)`);
    }
    out(` stock version before the order ${versions[0]}, after it ${versions[1]}: ORD-7 changed the stock once`);

    heading("server side");
    out(` calls per method (server interceptor): ${JSON.stringify(server.callCounts())}`);
  } finally {
    heading("shutdown");
    await transport.close();
    out(" client transport closed");
    await server.close({ graceMs: 2000 });
    out(" server closed gracefully");
  }
  out(`\nwalkthrough done in ${ms(demoStart)}`);
}

// A safety net: the demo must end by itself; if something keeps it alive, say so and fail.
setTimeout(() => {
  process.stderr.write("demo: still running after 90 s, giving up\n");
  process.exit(2);
}, 90_000).unref();

main().then(
  () => {
    process.exitCode = 0;
  },
  (e: unknown) => {
    process.stderr.write(`demo failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
