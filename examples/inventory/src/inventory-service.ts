import { Code, RpcError, type HandlerContext, type ServerInterceptor, type ServiceImpl } from "@petrel/core";
import type { InventoryService, Item, OrderRequest, RestockRequest } from "./gen/petrel/examples/inventory/v1/inventory_pb.js";

/** One catalogue entry of the in-process store. */
export interface CatalogueItem {
  sku: string;
  name: string;
  quantity: number;
  /** Unit price in cents. */
  priceCents: bigint;
}

/** The catalogue a service starts with when none is given: a small hardware store. */
export const DEFAULT_CATALOGUE: readonly Readonly<CatalogueItem>[] = [
  { sku: "HW-1001", name: "Claw hammer 16 oz", quantity: 40, priceCents: 1899n },
  { sku: "HW-1002", name: "Cordless drill 18V", quantity: 12, priceCents: 8999n },
  { sku: "HW-1003", name: "Wood screws 4x40 mm, box of 200", quantity: 150, priceCents: 749n },
  { sku: "HW-1004", name: "Tape measure 5 m", quantity: 60, priceCents: 1299n },
  { sku: "HW-1005", name: "Safety glasses", quantity: 80, priceCents: 499n },
  { sku: "HW-1006", name: "Drill bit set, 15 pieces", quantity: 25, priceCents: 2499n },
  { sku: "HW-1007", name: "Work gloves, size L", quantity: 100, priceCents: 899n },
  { sku: "HW-1008", name: "Spirit level 60 cm", quantity: 18, priceCents: 2199n },
];

/** Options of `createInventoryService`. */
export interface InventoryServiceOptions {
  /** Value of the `x-served-by` response header. Default `inventory-service/pid-<pid>`. */
  servedBy?: string;
  /** Upper bound for the `x-demo-delay-ms` request header. Default 10000. */
  maxDemoDelayMs?: number;
}

/** Request header that makes GetItem and ListItems wait that many ms first (to demonstrate deadlines). */
export const DEMO_DELAY_HEADER = "x-demo-delay-ms";
/** Response header naming the server instance. */
export const SERVED_BY_HEADER = "x-served-by";
/** Response trailer: the store's version, bumped by every change of stock. */
export const STOCK_VERSION_TRAILER = "x-stock-version";

/** Largest value of a proto `int32`: no stock level or unit count may exceed it. */
const MAX_INT32 = 2_147_483_647;

/**
 * The inventory service over an in-process store. Every call gets the `x-served-by` header and the
 * `x-stock-version` trailer (also on errors); streaming methods stop when the call is cancelled.
 */
export function createInventoryService(
  initialItems: readonly Readonly<CatalogueItem>[] = DEFAULT_CATALOGUE,
  options: InventoryServiceOptions = {},
): ServiceImpl<typeof InventoryService> {
  const servedBy = options.servedBy ?? `inventory-service/pid-${process.pid}`;
  const maxDelay = options.maxDemoDelayMs ?? 10_000;
  const store = new Map<string, CatalogueItem>();
  for (const item of initialItems) {
    if (store.has(item.sku)) throw new TypeError(`duplicate SKU "${item.sku}" in the initial catalogue`);
    if (!Number.isInteger(item.quantity) || item.quantity < 0 || item.quantity > MAX_INT32) {
      throw new TypeError(`SKU "${item.sku}": quantity must be an integer in 0..${MAX_INT32}`);
    }
    store.set(item.sku, { ...item });
  }
  let stockVersion = 0;

  /** Sets header and trailer; called first thing in every method (so errors carry the trailer too). */
  function stamp(ctx: HandlerContext): void {
    ctx.responseHeader.set(SERVED_BY_HEADER, servedBy);
    stampVersion(ctx);
  }

  /** Updates the trailer after the stock changed. */
  function stampVersion(ctx: HandlerContext): void {
    ctx.responseTrailer.set(STOCK_VERSION_TRAILER, String(stockVersion));
  }

  function snapshot(item: CatalogueItem): CatalogueItem {
    return { ...item };
  }

  /** Waits as long as the `x-demo-delay-ms` request header asks, or rejects once the call is aborted. */
  async function demoDelay(ctx: HandlerContext): Promise<void> {
    const raw = ctx.requestHeader.getString(DEMO_DELAY_HEADER);
    if (raw === undefined) return;
    const ms = Number(raw);
    if (!Number.isInteger(ms) || ms < 0 || ms > maxDelay) {
      throw new RpcError(Code.INVALID_ARGUMENT, `${DEMO_DELAY_HEADER} must be an integer in 0..${maxDelay}, got "${raw}"`);
    }
    await sleep(ms, ctx.signal);
  }

  function restockError(n: number, req: RestockRequest, pending: Map<string, number>): RpcError | undefined {
    const item = store.get(req.sku);
    if (item === undefined) return new RpcError(Code.INVALID_ARGUMENT, `crate ${n}: unknown SKU "${req.sku}"`);
    if (req.quantity <= 0)
      return new RpcError(Code.INVALID_ARGUMENT, `crate ${n} (${req.sku}): quantity must be positive, got ${req.quantity}`);
    if (item.quantity + (pending.get(req.sku) ?? 0) + req.quantity > MAX_INT32) {
      return new RpcError(Code.INVALID_ARGUMENT, `crate ${n} (${req.sku}): stock would exceed ${MAX_INT32}`);
    }
    return undefined;
  }

  function decide(order: OrderRequest) {
    const base = { orderId: order.orderId, accepted: false, remaining: 0, totalCents: 0n };
    const item = store.get(order.sku);
    if (item === undefined) return { ...base, reason: `unknown SKU "${order.sku}"` };
    if (order.quantity <= 0) return { ...base, remaining: item.quantity, reason: `quantity must be positive, got ${order.quantity}` };
    if (order.quantity > item.quantity) {
      return {
        ...base,
        remaining: item.quantity,
        reason: `insufficient stock: ${order.quantity} wanted, ${item.quantity} left of ${item.sku}`,
      };
    }
    item.quantity -= order.quantity;
    stockVersion++;
    return { ...base, accepted: true, reason: "", remaining: item.quantity, totalCents: item.priceCents * BigInt(order.quantity) };
  }

  return {
    async getItem(req, ctx) {
      stamp(ctx);
      await demoDelay(ctx);
      const item = store.get(req.sku);
      if (item === undefined) throw new RpcError(Code.NOT_FOUND, `no item with SKU "${req.sku}"`);
      return snapshot(item);
    },

    async *listItems(req, ctx) {
      stamp(ctx);
      await demoDelay(ctx);
      const query = req.query.toLowerCase();
      const matches = [...store.values()]
        .filter((item) => item.name.toLowerCase().includes(query))
        .map(snapshot)
        .sort((a, b) => (a.priceCents === b.priceCents ? a.sku.localeCompare(b.sku) : a.priceCents < b.priceCents ? -1 : 1));
      for (const item of matches) {
        if (ctx.signal.aborted) return;
        yield item;
      }
    },

    async restock(reqs, ctx) {
      stamp(ctx);
      // Validate every crate as it arrives (fail fast), but change stock only once the whole delivery
      // checked out: a bad crate rejects the delivery instead of leaving it half booked.
      const pending = new Map<string, number>();
      let crates = 0;
      let units = 0;
      for await (const req of reqs) {
        if (ctx.signal.aborted) throw ctx.signal.reason;
        crates++;
        const err = restockError(crates, req, pending);
        if (err !== undefined) throw err;
        if (units + req.quantity > MAX_INT32)
          throw new RpcError(Code.INVALID_ARGUMENT, `crate ${crates}: delivery exceeds ${MAX_INT32} units`);
        units += req.quantity;
        pending.set(req.sku, (pending.get(req.sku) ?? 0) + req.quantity);
      }
      if (ctx.signal.aborted) throw ctx.signal.reason;
      const updated: Item[] = [];
      for (const [sku, quantity] of pending) {
        const item = store.get(sku) as CatalogueItem;
        item.quantity += quantity;
        updated.push(snapshot(item) as Item);
      }
      if (pending.size > 0) stockVersion++;
      stampVersion(ctx);
      return { crates, units, updated };
    },

    async *placeOrders(reqs, ctx) {
      stamp(ctx);
      for await (const order of reqs) {
        if (ctx.signal.aborted) return;
        const result = decide(order);
        stampVersion(ctx);
        yield result;
      }
    },
  };
}

/** Resolves after `ms`, or rejects with the signal's reason once it aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Counts calls per method name, for a server's router. */
export interface CallCounter {
  /** Add to `createRouter({ interceptors })`. */
  readonly interceptor: ServerInterceptor;
  /** Calls seen so far, by method name (e.g. `GetItem`), in first-seen order. */
  counts(): Record<string, number>;
}

/** A server interceptor that counts the calls of every method. */
export function createCallCounter(): CallCounter {
  const counts = new Map<string, number>();
  return {
    interceptor: (next) => (req) => {
      counts.set(req.method.name, (counts.get(req.method.name) ?? 0) + 1);
      return next(req);
    },
    counts: () => Object.fromEntries(counts),
  };
}
