// Test fixture for the FlatBuffers codec: a FlatBuffers `OrderService` whose methods carry
// `google.protobuf.BytesValue`, a protobuf `Order` equivalent to fbs/order.fbs (for comparison),
// and builders for both. Descriptors are built at test time from FileDescriptorProtos.
import { create, createFileRegistry, type DescMessage, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, file_google_protobuf_wrappers } from "@bufbuild/protobuf/wkt";
import { Builder } from "flatbuffers";
import { Item, Order, Status } from "../fbs/gen/order_generated.js";

const T = { DOUBLE: 1, UINT64: 4, INT32: 5, STRING: 9, MESSAGE: 11, BYTES: 12, ENUM: 14 } as const;
const OPT = 1;
const REP = 3;
const BYTES_VALUE = ".google.protobuf.BytesValue";

const registry = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "petrel/fb/v1/order_service.proto",
    package: "petrel.fb.v1",
    syntax: "proto3",
    dependency: ["google/protobuf/wrappers.proto"],
    messageType: [
      // A named carrier (one bytes field), to show that any such message works, not only BytesValue.
      { name: "OrderFb", field: [{ name: "fb", number: 1, type: T.BYTES, label: OPT }] },
      // Not a carrier: two fields.
      {
        name: "NotCarrier",
        field: [
          { name: "a", number: 1, type: T.BYTES, label: OPT },
          { name: "b", number: 2, type: T.INT32, label: OPT },
        ],
      },
    ],
    service: [
      {
        name: "OrderService",
        method: [
          // Reads the header of an order, returns a small summary FlatBuffer (an Order without vectors).
          { name: "Summarize", inputType: BYTES_VALUE, outputType: BYTES_VALUE },
          { name: "SummarizeNamed", inputType: ".petrel.fb.v1.OrderFb", outputType: ".petrel.fb.v1.OrderFb" },
          { name: "Wrong", inputType: ".petrel.fb.v1.NotCarrier", outputType: BYTES_VALUE },
        ],
      },
    ],
  }),
  (name) => (name === "google/protobuf/wrappers.proto" ? file_google_protobuf_wrappers : undefined),
);

/** `petrel.fb.v1.OrderService`: Summarize(BytesValue) -> BytesValue and friends. */
export const FbOrderService = registry.getService("petrel.fb.v1.OrderService") as DescService;
export const OrderFbSchema = registry.getMessage("petrel.fb.v1.OrderFb") as DescMessage;
export const NotCarrierSchema = registry.getMessage("petrel.fb.v1.NotCarrier") as DescMessage;

const protoRegistry = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "petrel/fb/v1/order_pb.proto",
    package: "petrel.fb.v1",
    syntax: "proto3",
    enumType: [{ name: "Status", value: ["STATUS_UNSPECIFIED", "STATUS_OPEN", "STATUS_CLOSED"].map((name, number) => ({ name, number })) }],
    messageType: [
      {
        name: "Item",
        field: [
          { name: "sku", number: 1, type: T.STRING, label: OPT },
          { name: "quantity", number: 2, type: T.INT32, label: OPT },
          { name: "price", number: 3, type: T.DOUBLE, label: OPT },
        ],
      },
      {
        name: "Order",
        field: [
          { name: "id", number: 1, type: T.UINT64, label: OPT },
          { name: "customer", number: 2, type: T.STRING, label: OPT },
          { name: "status", number: 3, type: T.ENUM, label: OPT, typeName: ".petrel.fb.v1.Status" },
          { name: "total", number: 4, type: T.DOUBLE, label: OPT },
          { name: "items", number: 5, type: T.MESSAGE, label: REP, typeName: ".petrel.fb.v1.Item" },
          { name: "payload", number: 6, type: T.BYTES, label: OPT },
          { name: "samples", number: 7, type: T.DOUBLE, label: REP },
        ],
      },
    ],
  }),
  () => undefined,
);

/** The protobuf twin of the FlatBuffers `petrel.fb.Order` (same fields, same numbering order). */
export const PbOrderSchema = protoRegistry.getMessage("petrel.fb.v1.Order") as DescMessage;

/** Sizes of one sample order. */
export interface OrderShape {
  /** Length of the `payload` byte vector. */
  payloadBytes: number;
  /** Length of the `samples` double vector. */
  samples: number;
  /** Number of items. Default 3. */
  items?: number;
}

export const SAMPLE_ID = 0x1234_5678_9abcn;
export const SAMPLE_CUSTOMER = "Ada Lovelace";
export const SAMPLE_TOTAL = 1234.5;

/** Deterministic payload and samples of an order of `shape`. */
export function orderData(shape: OrderShape): { payload: Uint8Array; samples: Float64Array } {
  const payload = new Uint8Array(shape.payloadBytes);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + 7) & 0xff;
  const samples = new Float64Array(shape.samples);
  for (let i = 0; i < samples.length; i++) samples[i] = i * 0.5;
  return { payload, samples };
}

/** A finished FlatBuffers `petrel.fb.Order` of `shape` (identifier `PTRO`). */
export function buildFbOrder(shape: OrderShape): Uint8Array {
  const { payload, samples } = orderData(shape);
  const b = new Builder(shape.payloadBytes + shape.samples * 8 + 1024);
  const customer = b.createString(SAMPLE_CUSTOMER);
  const items: number[] = [];
  for (let i = 0; i < (shape.items ?? 3); i++) {
    const sku = b.createString(`sku-${i}`);
    items.push(Item.createItem(b, sku, i + 1, 9.5 * (i + 1)));
  }
  const itemsVec = Order.createItemsVector(b, items);
  const payloadVec = Order.createPayloadVector(b, payload);
  const samplesVec = Order.createSamplesVector(b, samples);
  Order.startOrder(b);
  Order.addId(b, SAMPLE_ID);
  Order.addCustomer(b, customer);
  Order.addStatus(b, Status.Open);
  Order.addTotal(b, SAMPLE_TOTAL);
  Order.addItems(b, itemsVec);
  Order.addPayload(b, payloadVec);
  Order.addSamples(b, samplesVec);
  Order.finishOrderBuffer(b, Order.endOrder(b));
  return b.asUint8Array();
}

/** The protobuf init of the same order (for `PbOrderSchema`). */
export function pbOrderInit(shape: OrderShape): Record<string, unknown> {
  const { payload, samples } = orderData(shape);
  const items = [];
  for (let i = 0; i < (shape.items ?? 3); i++) items.push({ sku: `sku-${i}`, quantity: i + 1, price: 9.5 * (i + 1) });
  return { id: SAMPLE_ID, customer: SAMPLE_CUSTOMER, status: 1, total: SAMPLE_TOTAL, items, payload, samples: Array.from(samples) };
}
