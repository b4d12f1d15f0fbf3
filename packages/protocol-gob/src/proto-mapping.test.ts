import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, createFileRegistry, type DescMessage, equals } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, file_google_protobuf_wrappers, Int64ValueSchema } from "@bufbuild/protobuf/wkt";
import { decodeGob } from "./decoder.js";
import { GobEncoder } from "./encoder.js";
import { GobError } from "./gob-error.js";
import { gobTypeOf, messageFromGob, messageToGob } from "./proto-mapping.js";

// FieldDescriptorProto types and labels.
const T = { DOUBLE: 1, INT64: 3, BOOL: 8, STRING: 9, MESSAGE: 11, BYTES: 12, UINT32: 13, ENUM: 14, SINT64: 18 };
const OPT = 1;
const REP = 3;
const f = (name: string, number: number, type: number, label = OPT, typeName?: string) => ({ name, number, type, label, typeName });

const registry = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "petrel/gob/test/item.proto",
    package: "petrel.gob.test",
    syntax: "proto3",
    dependency: ["google/protobuf/wrappers.proto"],
    enumType: [
      {
        name: "Kind",
        value: [
          { name: "KIND_UNSPECIFIED", number: 0 },
          { name: "KIND_BIG", number: 1 },
        ],
      },
    ],
    messageType: [
      {
        name: "Item",
        field: [
          f("item_name", 1, T.STRING),
          f("counts", 2, T.INT64, REP),
          f("children", 3, T.MESSAGE, REP, ".petrel.gob.test.Item.ChildrenEntry"),
          f("maybe", 4, T.MESSAGE, OPT, ".google.protobuf.Int32Value"),
          f("kind", 5, T.ENUM, OPT, ".petrel.gob.test.Kind"),
          f("data", 6, T.BYTES),
          f("u", 7, T.UINT32),
          f("ratio", 8, T.DOUBLE),
          f("ok", 9, T.BOOL),
          f("next", 10, T.MESSAGE, OPT, ".petrel.gob.test.Item"),
          f("big", 11, T.SINT64),
        ],
        nestedType: [
          {
            name: "ChildrenEntry",
            field: [f("key", 1, T.STRING), f("value", 2, T.MESSAGE, OPT, ".petrel.gob.test.Item")],
            options: { mapEntry: true },
          },
        ],
      },
    ],
  }),
  (name) => (name === "google/protobuf/wrappers.proto" ? file_google_protobuf_wrappers : undefined),
);
const ItemSchema = registry.getMessage("petrel.gob.test.Item") as DescMessage;

const item = create(ItemSchema, {
  itemName: "root",
  counts: [1n, -(2n ** 63n), 2n ** 40n],
  children: { a: { itemName: "child", ok: true } },
  maybe: 7,
  kind: 1,
  data: Uint8Array.of(9, 8),
  u: 2 ** 32 - 1,
  ratio: -0.25,
  next: { itemName: "n", next: { big: -5n } },
  big: 2n ** 62n,
} as never);

describe("protobuf <-> gob mapping", () => {
  it("names fields as protoc-gen-go does and describes every field kind", () => {
    const t = gobTypeOf(ItemSchema);
    assert.equal(t.kind, "struct");
    if (t.kind !== "struct") return;
    assert.deepEqual(
      t.fields.map((x) => `${x.name}:${x.type.kind}`),
      [
        "ItemName:string",
        "Counts:slice",
        "Children:map",
        "Maybe:int",
        "Kind:int",
        "Data:bytes",
        "U:uint",
        "Ratio:float",
        "Ok:bool",
        "Next:struct",
        "Big:int",
      ],
    );
    assert.equal(t.fields[9]!.type, t, "a recursive message is a recursive struct type");
    assert.equal(gobTypeOf(ItemSchema), t, "cached: one type object per message");
    assert.equal(gobTypeOf(Int64ValueSchema).kind, "int", "a wrapper is its bare value");
  });

  it("round-trips a message through gob bytes", () => {
    const enc = new GobEncoder();
    const bytes = enc.encode(gobTypeOf(ItemSchema), messageToGob(ItemSchema, item));
    const [m] = decodeGob(bytes);
    const back = messageFromGob(ItemSchema, m!.value);
    assert.ok(equals(ItemSchema, back, item), "equal after the round trip");
    assert.equal((back as unknown as { maybe?: number }).maybe, 7);
    // A wrapper field set to zero is present in proto, but gob omits zero values (as for a Go
    // *int pointing at 0): it comes back unset.
    const zero = create(ItemSchema, { maybe: 0 } as never);
    const [z] = decodeGob(new GobEncoder().encode(gobTypeOf(ItemSchema), messageToGob(ItemSchema, zero)));
    assert.equal((messageFromGob(ItemSchema, z!.value) as unknown as { maybe?: number }).maybe, undefined);
  });

  it("accepts proto and JSON names, ignores unknown fields, and reports misfits by path", () => {
    const m = messageFromGob(ItemSchema, { itemName: "j", Extra: 1, U: 3 }) as unknown as { itemName: string; u: number };
    assert.equal(m.itemName, "j");
    assert.equal(m.u, 3);
    assert.throws(
      () => messageFromGob(ItemSchema, { ItemName: 5 }),
      (e: unknown) => e instanceof GobError && /Item\.ItemName: expected a string/.test(e.message),
    );
    assert.throws(() => messageFromGob(ItemSchema, { U: 2 ** 32 }), /Item\.U: 4294967296 out of range/);
    assert.throws(() => messageFromGob(ItemSchema, { Next: { Counts: ["x"] } }), /Item\.Next\.Counts\[0\]: expected an integer/);
    assert.throws(() => messageFromGob(ItemSchema, 42), /petrel\.gob\.test\.Item: expected a struct/);
    assert.equal((messageFromGob(Int64ValueSchema, 2n ** 62n) as { value: bigint }).value, 2n ** 62n);
  });
});
