// FlatBuffers in the codec benchmark: the three bench messages mirrored in
// packages/codecs/fbs/bench.fbs (flatc output committed in fbs/gen/bench_generated.ts), built from
// and materialised into the same protobuf-es messages every other codec encodes and decodes.
// Three workloads per message:
//   encode  - build the FlatBuffer from the plain message (one Builder, cleared and reused, as a
//             pooled encoder would; Petrel's protobuf encoder pools its buffer too);
//   decode  - full materialisation into a plain message deep-equal to the source (comparable
//             with the other codecs' decode);
//   view    - zero-copy: open the buffer and read what a handler typically reads (see HANDLER_READS),
//             reported as system `codec:flatbuffers-view`, workload "decode".
import type { MessageShape } from "@bufbuild/protobuf";
import { type Builder, ByteBuffer } from "flatbuffers";
import * as fb from "../../../packages/codecs/fbs/gen/bench_generated.ts";
import type { Address, Batch, BatchSchema, LineItem, Money, Order, OrderSchema, Small, SmallSchema } from "../gen/codecs_pb.js";
import type { MessageName } from "./messages.ts";

/** The bench message type of each message name. */
export interface BenchMessages {
  small: MessageShape<typeof SmallSchema>;
  order: MessageShape<typeof OrderSchema>;
  batch: MessageShape<typeof BatchSchema>;
}

/** What the `view` workload reads per message (documented in docs/codecs.md). */
export const HANDLER_READS: Record<MessageName, string> = {
  small: "all five fields",
  order: "id, customer_id, status, total (currency, units, nanos) and the item count",
  batch: "source, sequence, and id + status + total.units of every order",
};

// ---------------------------------------------------------------------------------------------
// Encode: plain message -> FlatBuffer. Empty strings and empty vectors are left out (offset 0 is
// "absent"), like proto3 leaves out default values; materialisation maps absent back to defaults.

const encoder = new TextEncoder();
let utf8 = new Uint8Array(1024);

/**
 * `b.createString(s)` with the same bytes, faster: the runtime's createString(string) calls
 * TextEncoder.encode, which allocates per string (~0.9 µs for 20 bytes on Node 20, 4x slower
 * order encoding overall); encodeInto a reused scratch buffer costs ~0.1 µs. Public API only.
 */
function utf8String(b: Builder, s: string): number {
  if (s.length * 3 > utf8.length) utf8 = new Uint8Array(s.length * 3);
  return b.createString(utf8.subarray(0, encoder.encodeInto(s, utf8).written));
}

/** An optional string field: absent (offset 0) when empty. */
function str(b: Builder, s: string): number {
  return s === "" ? 0 : utf8String(b, s);
}

function buildMoney(b: Builder, m: Money | undefined): number {
  if (m === undefined) return 0;
  return fb.Money.createMoney(b, str(b, m.currency), m.units, m.nanos);
}

function buildAddress(b: Builder, a: Address | undefined): number {
  if (a === undefined) return 0;
  return fb.Address.createAddress(b, str(b, a.street), str(b, a.city), str(b, a.zip), str(b, a.country));
}

function buildLineItem(b: Builder, it: LineItem): number {
  const sku = str(b, it.sku);
  const title = str(b, it.title);
  const price = buildMoney(b, it.unitPrice);
  let tags = 0;
  if (it.tags.length > 0) {
    const offs = new Array<number>(it.tags.length);
    for (let i = 0; i < offs.length; i++) offs[i] = utf8String(b, it.tags[i]);
    tags = fb.LineItem.createTagsVector(b, offs);
  }
  fb.LineItem.startLineItem(b);
  fb.LineItem.addSku(b, sku);
  fb.LineItem.addTitle(b, title);
  fb.LineItem.addQuantity(b, it.quantity);
  fb.LineItem.addUnitPrice(b, price);
  fb.LineItem.addTags(b, tags);
  return fb.LineItem.endLineItem(b);
}

function buildOrder(b: Builder, o: Order): number {
  const id = str(b, o.id);
  const shipping = buildAddress(b, o.shipping);
  let items = 0;
  if (o.items.length > 0) {
    const offs = new Array<number>(o.items.length);
    for (let i = 0; i < offs.length; i++) offs[i] = buildLineItem(b, o.items[i]);
    items = fb.Order.createItemsVector(b, offs);
  }
  let attributes = 0;
  const keys = Object.keys(o.attributes);
  if (keys.length > 0) {
    const offs = new Array<number>(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      offs[i] = fb.Attribute.createAttribute(b, str(b, k), str(b, o.attributes[k]));
    }
    attributes = fb.Order.createAttributesVector(b, offs);
  }
  const total = buildMoney(b, o.total);
  const coupons = o.couponCodes.length > 0 ? fb.Order.createCouponCodesVector(b, o.couponCodes) : 0;
  const signature = o.signature.length > 0 ? fb.Order.createSignatureVector(b, o.signature) : 0;
  fb.Order.startOrder(b);
  fb.Order.addId(b, id);
  fb.Order.addCustomerId(b, o.customerId);
  fb.Order.addStatus(b, o.status as number as fb.Status);
  fb.Order.addShipping(b, shipping);
  fb.Order.addItems(b, items);
  fb.Order.addAttributes(b, attributes);
  fb.Order.addTotal(b, total);
  fb.Order.addCouponCodes(b, coupons);
  fb.Order.addCreatedAt(b, o.createdAt);
  fb.Order.addSignature(b, signature);
  return fb.Order.endOrder(b);
}

function buildBatch(b: Builder, m: Batch): number {
  let orders = 0;
  if (m.orders.length > 0) {
    const offs = new Array<number>(m.orders.length);
    for (let i = 0; i < offs.length; i++) offs[i] = buildOrder(b, m.orders[i]);
    orders = fb.Batch.createOrdersVector(b, offs);
  }
  return fb.Batch.createBatch(b, orders, str(b, m.source), m.sequence);
}

function buildSmall(b: Builder, m: Small): number {
  return fb.Small.createSmall(b, m.id, str(b, m.name), m.active, m.score, m.createdAt);
}

/**
 * Builds `message` (a bench message named `name`) into `builder` (cleared first) and returns the
 * finished bytes: a view into the builder's buffer, valid until the builder is used again.
 */
export function fbEncode<N extends MessageName>(builder: Builder, name: N, message: BenchMessages[N]): Uint8Array {
  builder.clear();
  const root =
    name === "small"
      ? buildSmall(builder, message as Small)
      : name === "order"
        ? buildOrder(builder, message as Order)
        : buildBatch(builder, message as Batch);
  builder.finish(root);
  return builder.asUint8Array();
}

// ---------------------------------------------------------------------------------------------
// Decode: FlatBuffer -> plain message. One scratch accessor per table type (the FlatBuffers idiom
// `items(i, obj)`): each is fully read before it is re-pointed, so nesting never clobbers a live one.
// Bytes fields stay views of the input buffer, as protobuf-es' fromBinary returns them.

const scratch = {
  money: new fb.Money(),
  address: new fb.Address(),
  item: new fb.LineItem(),
  attr: new fb.Attribute(),
  order: new fb.Order(),
};
const NO_BYTES = new Uint8Array(0);

function readMoney(t: fb.Money | null): Money | undefined {
  if (t === null) return undefined;
  return { $typeName: "petrel.bench.codecs.v1.Money", currency: t.currency() ?? "", units: t.units(), nanos: t.nanos() };
}

function readAddress(t: fb.Address | null): Address | undefined {
  if (t === null) return undefined;
  return {
    $typeName: "petrel.bench.codecs.v1.Address",
    street: t.street() ?? "",
    city: t.city() ?? "",
    zip: t.zip() ?? "",
    country: t.country() ?? "",
  };
}

function readLineItem(t: fb.LineItem): LineItem {
  const sku = t.sku() ?? "";
  const title = t.title() ?? "";
  const quantity = t.quantity();
  const unitPrice = readMoney(t.unitPrice(scratch.money));
  const tags = new Array<string>(t.tagsLength());
  for (let i = 0; i < tags.length; i++) tags[i] = t.tags(i) ?? "";
  return { $typeName: "petrel.bench.codecs.v1.LineItem", sku, title, quantity, unitPrice, tags };
}

function readOrder(t: fb.Order): Order {
  const id = t.id() ?? "";
  const customerId = t.customerId();
  const status = t.status() as number;
  const shipping = readAddress(t.shipping(scratch.address));
  const items = new Array<LineItem>(t.itemsLength());
  for (let i = 0; i < items.length; i++) items[i] = readLineItem(t.items(i, scratch.item) as fb.LineItem);
  const attributes: Record<string, string> = {};
  const na = t.attributesLength();
  for (let i = 0; i < na; i++) {
    const a = t.attributes(i, scratch.attr) as fb.Attribute;
    attributes[a.key() ?? ""] = a.value() ?? "";
  }
  const total = readMoney(t.total(scratch.money));
  // Element accessor, not couponCodesArray(): an Int32Array view needs a 4-aligned byteOffset,
  // which a payload inside a received frame may not have.
  const couponCodes = new Array<number>(t.couponCodesLength());
  for (let i = 0; i < couponCodes.length; i++) couponCodes[i] = t.couponCodes(i) as number;
  return {
    $typeName: "petrel.bench.codecs.v1.Order",
    id,
    customerId,
    status,
    shipping,
    items,
    attributes,
    total,
    couponCodes,
    createdAt: t.createdAt(),
    signature: t.signatureArray() ?? NO_BYTES,
  };
}

function root(bytes: Uint8Array): [ByteBuffer, number] {
  if (bytes.length < 8) throw new Error(`flatbuffers: ${bytes.length} bytes are too short for a FlatBuffer`);
  const bb = new ByteBuffer(bytes);
  return [bb, bb.readInt32(0)];
}

/** Materialises a FlatBuffer of bench message `name` into a plain protobuf-es message. */
export function fbDecode<N extends MessageName>(name: N, bytes: Uint8Array): BenchMessages[N] {
  const [bb, at] = root(bytes);
  if (name === "small") {
    const t = new fb.Small().__init(at, bb);
    const m: Small = {
      $typeName: "petrel.bench.codecs.v1.Small",
      id: t.id(),
      name: t.name() ?? "",
      active: t.active(),
      score: t.score(),
      createdAt: t.createdAt(),
    };
    return m as BenchMessages[N];
  }
  if (name === "order") return readOrder(new fb.Order().__init(at, bb)) as BenchMessages[N];
  const t = new fb.Batch().__init(at, bb);
  const orders = new Array<Order>(t.ordersLength());
  // readOrder uses the item/attr/money scratch objects, never scratch.order: safe to re-point.
  for (let i = 0; i < orders.length; i++) orders[i] = readOrder(t.orders(i, scratch.order) as fb.Order);
  const m: Batch = { $typeName: "petrel.bench.codecs.v1.Batch", orders, source: t.source() ?? "", sequence: t.sequence() };
  return m as BenchMessages[N];
}

/**
 * The zero-copy workload: opens the buffer and reads {@link HANDLER_READS} straight out of it,
 * materialising nothing else. Returns a checksum of what it read (so the reads cannot be elided).
 */
export function fbView(name: MessageName, bytes: Uint8Array): number {
  const [bb, at] = root(bytes);
  if (name === "small") {
    const t = new fb.Small().__init(at, bb);
    return t.id() + (t.name()?.length ?? 0) + (t.active() ? 1 : 0) + t.score() + (t.createdAt() === 0n ? 0 : 1);
  }
  if (name === "order") {
    const t = new fb.Order().__init(at, bb);
    const total = t.total(scratch.money);
    return (
      (t.id()?.length ?? 0) +
      (t.customerId() === 0n ? 0 : 1) +
      t.status() +
      (total === null ? 0 : (total.currency()?.length ?? 0) + (total.units() === 0n ? 0 : 1) + total.nanos()) +
      t.itemsLength()
    );
  }
  const t = new fb.Batch().__init(at, bb);
  let sum = (t.source()?.length ?? 0) + (t.sequence() === 0n ? 0 : 1);
  const n = t.ordersLength();
  for (let i = 0; i < n; i++) {
    const o = t.orders(i, scratch.order) as fb.Order;
    sum += (o.id()?.length ?? 0) + o.status() + ((o.total(scratch.money)?.units() ?? 0n) === 0n ? 0 : 1);
  }
  return sum;
}
