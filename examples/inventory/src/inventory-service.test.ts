import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, type Metadata, RpcError, createClient, createInMemoryTransport, createRouter } from "@petrel/core";
import { InventoryService } from "./gen/petrel/examples/inventory/v1/inventory_pb.js";
import {
  DEFAULT_CATALOGUE,
  DEMO_DELAY_HEADER,
  SERVED_BY_HEADER,
  STOCK_VERSION_TRAILER,
  createCallCounter,
  createInventoryService,
  type CatalogueItem,
} from "./inventory-service.js";

const ITEMS: CatalogueItem[] = [
  { sku: "A-1", name: "Red Widget", quantity: 10, priceCents: 500n },
  { sku: "A-2", name: "Blue widget", quantity: 3, priceCents: 250n },
  { sku: "A-3", name: "Gadget", quantity: 0, priceCents: 100n },
  { sku: "A-4", name: "Widget deluxe", quantity: 7, priceCents: 250n },
];

function setup(items: CatalogueItem[] = ITEMS) {
  const counter = createCallCounter();
  const router = createRouter({ interceptors: [counter.interceptor] }).service(
    InventoryService,
    createInventoryService(items, { servedBy: "test-server" }),
  );
  return { client: createClient(InventoryService, createInMemoryTransport(router)), counter };
}

async function* stream<T>(items: T[], gapMs = 0): AsyncGenerator<T> {
  for (const item of items) {
    if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
    yield item;
  }
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function rpcError(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof RpcError, `want RpcError, got ${String(e)}`);
    return e;
  }
  assert.fail("call succeeded, want an error");
}

describe("inventory service", () => {
  it("seeds a default catalogue of about eight distinct items", async () => {
    assert.ok(DEFAULT_CATALOGUE.length >= 6 && DEFAULT_CATALOGUE.length <= 12);
    assert.equal(new Set(DEFAULT_CATALOGUE.map((i) => i.sku)).size, DEFAULT_CATALOGUE.length);
    const router = createRouter().service(InventoryService, createInventoryService());
    const client = createClient(InventoryService, createInMemoryTransport(router));
    const first = DEFAULT_CATALOGUE[0] as CatalogueItem;
    const item = await client.getItem({ sku: first.sku });
    assert.equal(item.name, first.name);
    assert.equal(item.priceCents, first.priceCents);
    assert.equal((await collect(client.listItems({ query: "" }))).length, DEFAULT_CATALOGUE.length);
  });

  it("rejects a catalogue with duplicate SKUs", () => {
    assert.throws(() => createInventoryService([ITEMS[0] as CatalogueItem, ITEMS[0] as CatalogueItem]), /duplicate SKU/);
  });

  describe("GetItem", () => {
    it("returns the item with header and trailer", async () => {
      const { client } = setup();
      let header: Metadata | undefined;
      let trailer: Metadata | undefined;
      const item = await client.getItem({ sku: "A-2" }, { onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t) });
      assert.deepEqual(
        { sku: item.sku, name: item.name, quantity: item.quantity, priceCents: item.priceCents },
        {
          sku: "A-2",
          name: "Blue widget",
          quantity: 3,
          priceCents: 250n,
        },
      );
      assert.equal(header?.getString(SERVED_BY_HEADER), "test-server");
      assert.equal(trailer?.getString(STOCK_VERSION_TRAILER), "0");
    });

    it("fails with NOT_FOUND naming the SKU, trailer included", async () => {
      const { client } = setup();
      let trailer: Metadata | undefined;
      const err = await rpcError(client.getItem({ sku: "NOPE" }, { onTrailer: (t) => (trailer = t) }));
      assert.equal(err.code, Code.NOT_FOUND);
      assert.match(err.rawMessage, /NOPE/);
      assert.equal(trailer?.getString(STOCK_VERSION_TRAILER), "0");
    });

    it("honours x-demo-delay-ms and the deadline cuts it short", async () => {
      const { client } = setup();
      const t0 = Date.now();
      const err = await rpcError(client.getItem({ sku: "A-1" }, { timeoutMs: 50, headers: { [DEMO_DELAY_HEADER]: "5000" } }));
      assert.equal(err.code, Code.DEADLINE_EXCEEDED);
      assert.ok(Date.now() - t0 < 2000, "did not wait for the whole delay");
      const slow = Date.now();
      await client.getItem({ sku: "A-1" }, { headers: { [DEMO_DELAY_HEADER]: "80" } });
      assert.ok(Date.now() - slow >= 70, "the delay was applied");
    });

    it("rejects a malformed delay header with INVALID_ARGUMENT", async () => {
      const { client } = setup();
      const err = await rpcError(client.getItem({ sku: "A-1" }, { headers: { [DEMO_DELAY_HEADER]: "soon" } }));
      assert.equal(err.code, Code.INVALID_ARGUMENT);
    });
  });

  describe("ListItems", () => {
    it("streams matches case-insensitively, cheapest first (ties by SKU)", async () => {
      const { client } = setup();
      const items = await collect(client.listItems({ query: "WIDGET" }));
      assert.deepEqual(
        items.map((i) => i.sku),
        ["A-2", "A-4", "A-1"],
      );
    });

    it("an empty query lists everything; no match gives an empty stream", async () => {
      const { client } = setup();
      assert.equal((await collect(client.listItems({ query: "" }))).length, ITEMS.length);
      assert.deepEqual(await collect(client.listItems({ query: "sprocket" })), []);
    });

    it("sends header and trailer on the stream", async () => {
      const { client } = setup();
      let header: Metadata | undefined;
      let trailer: Metadata | undefined;
      await collect(client.listItems({ query: "gadget" }, { onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t) }));
      assert.equal(header?.getString(SERVED_BY_HEADER), "test-server");
      assert.equal(trailer?.getString(STOCK_VERSION_TRAILER), "0");
    });

    it("a deadline during the delay ends the stream with DEADLINE_EXCEEDED", async () => {
      const { client } = setup();
      const err = await rpcError(collect(client.listItems({ query: "" }, { timeoutMs: 30, headers: { [DEMO_DELAY_HEADER]: "5000" } })));
      assert.equal(err.code, Code.DEADLINE_EXCEEDED);
    });
  });

  describe("Restock", () => {
    it("sums crates and units and returns the updated items once each", async () => {
      const { client } = setup();
      const summary = await client.restock(
        stream([
          { sku: "A-1", quantity: 5 },
          { sku: "A-3", quantity: 20 },
          { sku: "A-1", quantity: 2 },
        ]),
      );
      assert.equal(summary.crates, 3);
      assert.equal(summary.units, 27);
      assert.deepEqual(
        summary.updated.map((i) => [i.sku, i.quantity]),
        [
          ["A-1", 17],
          ["A-3", 20],
        ],
      );
      assert.equal((await client.getItem({ sku: "A-3" })).quantity, 20);
    });

    it("bumps the stock version trailer", async () => {
      const { client } = setup();
      let trailer: Metadata | undefined;
      await client.restock(stream([{ sku: "A-1", quantity: 1 }]), { onTrailer: (t) => (trailer = t) });
      assert.equal(trailer?.getString(STOCK_VERSION_TRAILER), "1");
    });

    it("an empty delivery is zero crates and changes nothing", async () => {
      const { client } = setup();
      const summary = await client.restock(stream([]));
      assert.deepEqual([summary.crates, summary.units, summary.updated.length], [0, 0, 0]);
    });

    for (const [what, crate, pattern] of [
      ["zero quantity", { sku: "A-1", quantity: 0 }, /quantity must be positive/],
      ["negative quantity", { sku: "A-1", quantity: -4 }, /quantity must be positive/],
      ["unknown SKU", { sku: "ZZZ", quantity: 4 }, /unknown SKU "ZZZ"/],
    ] as const) {
      it(`fails with INVALID_ARGUMENT for ${what}, and books none of the delivery`, async () => {
        const { client } = setup();
        const err = await rpcError(client.restock(stream([{ sku: "A-2", quantity: 5 }, crate])));
        assert.equal(err.code, Code.INVALID_ARGUMENT);
        assert.match(err.rawMessage, pattern);
        assert.match(err.rawMessage, /crate 2/);
        assert.equal((await client.getItem({ sku: "A-2" })).quantity, 3, "the good first crate was not booked");
      });
    }

    it("refuses stock beyond int32", async () => {
      const { client } = setup();
      const err = await rpcError(client.restock(stream([{ sku: "A-1", quantity: 2_147_483_640 }])));
      assert.equal(err.code, Code.INVALID_ARGUMENT);
    });
  });

  describe("PlaceOrders", () => {
    it("accepts orders while stock lasts, rejects the rest with a reason", async () => {
      const { client } = setup();
      const results = await collect(
        client.placeOrders(
          stream([
            { orderId: "o1", sku: "A-2", quantity: 2 },
            { orderId: "o2", sku: "A-2", quantity: 2 },
            { orderId: "o3", sku: "A-2", quantity: 1 },
            { orderId: "o4", sku: "NOPE", quantity: 1 },
            { orderId: "o5", sku: "A-1", quantity: 0 },
            { orderId: "o6", sku: "A-3", quantity: 1 },
          ]),
        ),
      );
      const summary = results.map((r) => [r.orderId, r.accepted, r.remaining, r.totalCents]);
      assert.deepEqual(summary, [
        ["o1", true, 1, 500n],
        ["o2", false, 1, 0n],
        ["o3", true, 0, 250n],
        ["o4", false, 0, 0n],
        ["o5", false, 10, 0n],
        ["o6", false, 0, 0n],
      ]);
      assert.match(results[1]?.reason ?? "", /insufficient stock/);
      assert.match(results[3]?.reason ?? "", /unknown SKU "NOPE"/);
      assert.match(results[4]?.reason ?? "", /quantity must be positive/);
      assert.equal(results[0]?.reason, "");
      assert.equal((await client.getItem({ sku: "A-2" })).quantity, 0);
    });

    it("answers each order before the next one is sent", async () => {
      const { client } = setup();
      const events: string[] = [];
      async function* orders() {
        for (const id of ["o1", "o2", "o3"]) {
          events.push(`send ${id}`);
          yield { orderId: id, sku: "A-1", quantity: 1 };
          await new Promise((r) => setTimeout(r, 30));
        }
      }
      for await (const r of client.placeOrders(orders())) events.push(`got ${r.orderId}`);
      assert.deepEqual(events, ["send o1", "got o1", "send o2", "got o2", "send o3", "got o3"]);
    });

    it("the trailer counts every accepted order", async () => {
      const { client } = setup();
      let trailer: Metadata | undefined;
      await collect(
        client.placeOrders(
          stream([
            { orderId: "o1", sku: "A-1", quantity: 1 },
            { orderId: "o2", sku: "A-1", quantity: 100 },
            { orderId: "o3", sku: "A-4", quantity: 1 },
          ]),
          { onTrailer: (t) => (trailer = t) },
        ),
      );
      assert.equal(trailer?.getString(STOCK_VERSION_TRAILER), "2");
    });

    it("stops when the client cancels", async () => {
      const { client } = setup();
      const ac = new AbortController();
      async function* endless() {
        for (let i = 0; ; i++) {
          yield { orderId: `o${i}`, sku: "A-1", quantity: 1 };
          await new Promise((r) => setTimeout(r, 5));
        }
      }
      let got = 0;
      const err = await rpcError(
        (async () => {
          for await (const _ of client.placeOrders(endless(), { signal: ac.signal })) if (++got === 3) ac.abort();
        })(),
      );
      assert.equal(err.code, Code.CANCELLED);
      await new Promise((r) => setTimeout(r, 50));
      const left = (await client.getItem({ sku: "A-1" })).quantity;
      assert.ok(left >= 10 - 4, `at most one order after the cancel was booked, ${10 - left} were`);
    });
  });

  it("the call counter interceptor counts per method", async () => {
    const { client, counter } = setup();
    await client.getItem({ sku: "A-1" });
    await rpcError(client.getItem({ sku: "x" }));
    await collect(client.listItems({ query: "" }));
    await client.restock(stream([]));
    await collect(client.placeOrders(stream([])));
    assert.deepEqual(counter.counts(), { GetItem: 2, ListItems: 1, Restock: 1, PlaceOrders: 1 });
  });
});
