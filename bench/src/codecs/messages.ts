// The three messages of the codec benchmark (schemas in bench/proto/codecs.proto): a small flat
// message, a nested order (sub-messages, repeated items, a string map, packed numbers, bytes) and
// a large batch of orders. Contents are deterministic so every run measures the same bytes.
import { create, type DescMessage } from "@bufbuild/protobuf";
import { type Batch, BatchSchema, type Order, OrderSchema, type Small, SmallSchema, Status } from "../gen/codecs_pb.js";

/** Message names as they appear in the JSON rows. */
export const MESSAGE_NAMES = ["small", "order", "batch"] as const;
export type MessageName = (typeof MESSAGE_NAMES)[number];

/** One benchmark message: its schema, the protobuf-es message and the protobufjs type name. */
export interface MessageCase {
  name: MessageName;
  schema: DescMessage;
  // biome-ignore lint/suspicious/noExplicitAny: a message of `schema`
  message: any;
  /** Short type name inside package petrel.bench.codecs.v1 (for protobufjs). */
  typeName: string;
}

/** Number of orders in the batch message (~50 KB encoded). */
export const BATCH_ORDERS = 100;

export function makeSmall(): Small {
  return create(SmallSchema, {
    id: 4242,
    name: "petrel-small-message",
    active: true,
    score: 97.25,
    createdAt: 1_717_000_000_000n,
  });
}

/** Order `i` of a deterministic sequence; `items` line items. */
export function makeOrder(i = 0, items = 5): Order {
  return create(OrderSchema, {
    id: `ord-${(100000 + i).toString(36)}-${i}`,
    customerId: BigInt(900_000 + i * 17),
    status: [Status.PENDING, Status.PAID, Status.SHIPPED][i % 3],
    shipping: { street: `${10 + (i % 90)} Harbour Road`, city: "Lisbon", zip: `1100-${100 + (i % 900)}`, country: "PT" },
    items: Array.from({ length: items }, (_, k) => ({
      sku: `SKU-${(i * 31 + k * 7) % 10000}`,
      title: `Item ${k} of order ${i}: ceramic mug, blue`,
      quantity: 1 + ((i + k) % 4),
      unitPrice: { currency: "EUR", units: BigInt(5 + ((i + k) % 40)), nanos: ((i * 7 + k) % 100) * 10_000_000 },
      tags: k % 2 === 0 ? ["kitchen", "gift"] : ["kitchen"],
    })),
    attributes: { channel: "web", locale: "pt-PT", campaign: `spring-${i % 5}` },
    total: { currency: "EUR", units: BigInt(40 + (i % 200)), nanos: 500_000_000 },
    couponCodes: [1001, 2002 + (i % 10), 300_000],
    createdAt: 1_717_000_000_000n + BigInt(i * 1000),
    signature: Uint8Array.from({ length: 32 }, (_, k) => (k * 29 + i) & 0xff),
  });
}

export function makeBatch(n = BATCH_ORDERS): Batch {
  return create(BatchSchema, {
    orders: Array.from({ length: n }, (_, i) => makeOrder(i, 3 + (i % 5))),
    source: "warehouse-eu-1",
    sequence: 77n,
  });
}

/** The three cases, freshly built. */
export function messageCases(): MessageCase[] {
  return [
    { name: "small", schema: SmallSchema, message: makeSmall(), typeName: "Small" },
    { name: "order", schema: OrderSchema, message: makeOrder(), typeName: "Order" },
    { name: "batch", schema: BatchSchema, message: makeBatch(), typeName: "Batch" },
  ];
}
