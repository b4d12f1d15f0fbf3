import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, describe, it } from "node:test";
import { Code, RpcError, createClient } from "@petrel/core";
import { createNativeTransport } from "@petrel/node";
import { InventoryService } from "./gen/petrel/examples/inventory/v1/inventory_pb.js";
import { DEMO_DELAY_HEADER } from "./inventory-service.js";
import { startInventoryServer } from "./server.js";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe("inventory server", () => {
  it("serves all four call kinds over TCP and counts calls", async () => {
    const server = await startInventoryServer({ items: [{ sku: "S-1", name: "Socket wrench", quantity: 4, priceCents: 1500n }] });
    cleanups.push(() => server.close({ graceMs: 1000 }));
    assert.ok(server.port > 0);
    const transport = createNativeTransport({ address: `127.0.0.1:${server.port}` });
    cleanups.push(() => transport.close());
    const client = createClient(InventoryService, transport);
    assert.equal((await client.getItem({ sku: "S-1" })).name, "Socket wrench");
    const err = await client.getItem({ sku: "nope" }).catch((e: unknown) => e);
    assert.ok(err instanceof RpcError && err.code === Code.NOT_FOUND);
    const listed = [];
    for await (const i of client.listItems({ query: "WRENCH" })) listed.push(i.sku);
    assert.deepEqual(listed, ["S-1"]);
    const summary = await client.restock(
      (async function* () {
        yield { sku: "S-1", quantity: 2 };
      })(),
    );
    assert.equal(summary.updated[0]?.quantity, 6);
    const results = [];
    for await (const r of client.placeOrders(
      (async function* () {
        yield { orderId: "a", sku: "S-1", quantity: 5 };
        yield { orderId: "b", sku: "S-1", quantity: 5 };
      })(),
    ))
      results.push([r.orderId, r.accepted, r.remaining]);
    assert.deepEqual(results, [
      ["a", true, 1],
      ["b", false, 1],
    ]);
    assert.deepEqual(server.callCounts(), { GetItem: 2, ListItems: 1, Restock: 1, PlaceOrders: 1 });
  });

  it("graceful close lets an in-flight call finish", async () => {
    const server = await startInventoryServer();
    const transport = createNativeTransport({ address: `127.0.0.1:${server.port}` });
    cleanups.push(() => transport.close());
    const client = createClient(InventoryService, transport);
    await client.getItem({ sku: "HW-1001" });
    const slow = client.getItem({ sku: "HW-1001" }, { headers: { [DEMO_DELAY_HEADER]: "200" } });
    await new Promise((r) => setTimeout(r, 50));
    await server.close({ graceMs: 5000 });
    assert.equal((await slow).sku, "HW-1001");
  });

  it("runs standalone with --port and stops gracefully on SIGTERM", { timeout: 120_000 }, async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "examples/inventory/src/server.ts", "--port=0"], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const killer = setTimeout(() => child.kill("SIGKILL"), 100_000);
    let stdout = "";
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.setEncoding("utf8").on("data", (s: string) => {
        stdout += s;
        const m = /listening on 127\.0\.0\.1:(\d+)/.exec(stdout);
        if (m !== null) resolve(Number(m[1]));
      });
      void exited.then((code) => reject(new Error(`server exited early (${code}): ${stdout}${stderr}`)));
    });
    const transport = createNativeTransport({ address: `127.0.0.1:${port}` });
    const client = createClient(InventoryService, transport);
    assert.equal((await client.getItem({ sku: "HW-1002" })).sku, "HW-1002");
    await transport.close();
    child.kill("SIGTERM");
    const code = await exited;
    clearTimeout(killer);
    assert.equal(code, 0, `${stdout}${stderr}`);
    assert.match(stdout, /SIGTERM: closing gracefully/);
    assert.match(stdout, /calls served: \{"GetItem":1\}/);
  });
});
