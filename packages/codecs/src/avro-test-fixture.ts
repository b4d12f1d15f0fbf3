// Test fixture for the Avro codec tests: three versions of `petrel.avro.v1.Order`, built at test
// time from FileDescriptorProtos, and an `OrderService` (Put: Order -> Order) per version.
//   v1: the original.
//   v2: `customer` renamed `customer_name`, `payload` removed, `email` added, enum STATUS_SHIPPED added.
//   v3: v1 with promotions: `quantity` int32 -> int64 (int -> long), `total` int64 -> double (long -> double).
import { create, createFileRegistry, type DescMessage, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";

const T = { DOUBLE: 1, INT64: 3, UINT64: 4, INT32: 5, STRING: 9, MESSAGE: 11, BYTES: 12, ENUM: 14 } as const;
const OPT = 1;
const REP = 3;

type Field = {
  name: string;
  number: number;
  type: number;
  label?: number;
  typeName?: string;
  oneofIndex?: number;
  proto3Optional?: boolean;
};

function f(name: string, number: number, type: number, extra: Partial<Field> = {}): Field {
  return { name, number, type, label: OPT, ...extra };
}

/** Descriptors of one version. */
export interface OrderVersion {
  Order: DescMessage;
  Item: DescMessage;
  OrderService: DescService;
}

function build(version: 1 | 2 | 3): OrderVersion {
  const fields: Field[] = [
    f("id", 1, T.INT64),
    version === 2 ? f("customer_name", 2, T.STRING) : f("customer", 2, T.STRING),
    f("items", 3, T.MESSAGE, { label: REP, typeName: ".petrel.avro.v1.Order.Item" }),
    f("tags", 4, T.MESSAGE, { label: REP, typeName: ".petrel.avro.v1.Order.TagsEntry" }),
    f("status", 5, T.ENUM, { typeName: ".petrel.avro.v1.Status" }),
    f("note", 6, T.STRING, { oneofIndex: 1, proto3Optional: true }),
    f("quantity", 7, version === 3 ? T.INT64 : T.INT32),
    f("text", 9, T.STRING, { oneofIndex: 0 }),
    f("number", 10, T.INT32, { oneofIndex: 0 }),
    f("big", 11, T.UINT64),
    f("total", 12, version === 3 ? T.DOUBLE : T.INT64),
  ];
  if (version !== 2) fields.push(f("payload", 8, T.BYTES));
  if (version === 2) fields.push(f("email", 14, T.STRING));
  const statuses = ["STATUS_UNSPECIFIED", "STATUS_OPEN", "STATUS_CLOSED"];
  if (version === 2) statuses.push("STATUS_SHIPPED");
  const reg = createFileRegistry(
    create(FileDescriptorProtoSchema, {
      name: `petrel/avro/v1/order_v${version}.proto`,
      package: "petrel.avro.v1",
      syntax: "proto3",
      enumType: [{ name: "Status", value: statuses.map((name, number) => ({ name, number })) }],
      messageType: [
        {
          name: "Order",
          field: fields,
          oneofDecl: [{ name: "choice" }, { name: "_note" }],
          nestedType: [
            { name: "Item", field: [f("sku", 1, T.STRING), f("price", 2, T.DOUBLE)] },
            { name: "TagsEntry", field: [f("key", 1, T.STRING), f("value", 2, T.INT32)], options: { mapEntry: true } },
          ],
        },
      ],
      service: [
        { name: "OrderService", method: [{ name: "Put", inputType: ".petrel.avro.v1.Order", outputType: ".petrel.avro.v1.Order" }] },
      ],
    }),
    () => undefined,
  );
  return {
    Order: reg.getMessage("petrel.avro.v1.Order") as DescMessage,
    Item: reg.getMessage("petrel.avro.v1.Order.Item") as DescMessage,
    OrderService: reg.getService("petrel.avro.v1.OrderService") as DescService,
  };
}

export const V1 = build(1);
export const V2 = build(2);
export const V3 = build(3);

/** A v1 order init with every kind of field set. */
export function sampleV1(): Record<string, unknown> {
  return {
    id: -42n,
    customer: "Ada ✓",
    items: [
      { sku: "a-1", price: 9.5 },
      { sku: "b-2", price: 0.25 },
    ],
    tags: { red: 1, blue: -2 },
    status: 2,
    note: "leave at door",
    quantity: 7,
    payload: new Uint8Array([0, 1, 2, 255]),
    choice: { case: "text", value: "gift" },
    big: 18446744073709551615n,
    total: 9007199254740993n,
  };
}
