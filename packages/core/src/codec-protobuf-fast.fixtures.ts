// Test fixtures for codec-protobuf-fast.test.ts: message schemas covering every field kind,
// built at run time from hand-written FileDescriptorProtos (no .proto files, no codegen), and
// fast-check arbitraries that generate random messages for any DescMessage.
import { create, createFileRegistry, ScalarType, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, file_google_protobuf_struct, file_google_protobuf_wrappers } from "@bufbuild/protobuf/wkt";
import fc from "fast-check";

// ---------------------------------------------------------------------------------------------
// Descriptor building helpers

// FieldDescriptorProto.Type
const DOUBLE = 1;
const FLOAT = 2;
const INT64 = 3;
const UINT64 = 4;
const INT32 = 5;
const FIXED64 = 6;
const FIXED32 = 7;
const BOOL = 8;
const STRING = 9;
const GROUP = 10;
const MESSAGE = 11;
const BYTES = 12;
const UINT32 = 13;
const ENUM = 14;
const SFIXED32 = 15;
const SFIXED64 = 16;
const SINT32 = 17;
const SINT64 = 18;
const OPT = 1;
const REQ = 2;
const REP = 3;

const SCALARS: [string, number][] = [
  ["double", DOUBLE],
  ["float", FLOAT],
  ["int64", INT64],
  ["uint64", UINT64],
  ["int32", INT32],
  ["fixed64", FIXED64],
  ["fixed32", FIXED32],
  ["bool", BOOL],
  ["string", STRING],
  ["bytes", BYTES],
  ["uint32", UINT32],
  ["sfixed32", SFIXED32],
  ["sfixed64", SFIXED64],
  ["sint32", SINT32],
  ["sint64", SINT64],
];
const MAP_KEYS = SCALARS.filter(([, t]) => t !== DOUBLE && t !== FLOAT && t !== BYTES);

interface FieldOpts {
  label?: number;
  typeName?: string;
  oneof?: number;
  packed?: boolean;
  jsString?: boolean;
  proto3Optional?: boolean;
  def?: string;
  // biome-ignore lint/suspicious/noExplicitAny: FeatureSet init
  features?: any;
}

// biome-ignore lint/suspicious/noExplicitAny: descriptor init
function fld(name: string, number: number, type: number, o: FieldOpts = {}): any {
  // biome-ignore lint/suspicious/noExplicitAny: descriptor init
  const f: any = { name, number, type, label: o.label ?? OPT };
  if (o.typeName !== undefined) f.typeName = o.typeName;
  if (o.oneof !== undefined) f.oneofIndex = o.oneof;
  if (o.proto3Optional) f.proto3Optional = true;
  if (o.def !== undefined) f.defaultValue = o.def;
  // biome-ignore lint/suspicious/noExplicitAny: options init
  const options: any = {};
  if (o.packed !== undefined) options.packed = o.packed;
  if (o.jsString) options.jstype = 1; // JS_STRING
  if (o.features !== undefined) options.features = o.features;
  if (Object.keys(options).length > 0) f.options = options;
  return f;
}

function pascal(s: string): string {
  return s.replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase());
}

/** A map field plus its synthetic entry message (to be added to `nested`). */
function mapField(
  parentFqn: string,
  name: string,
  number: number,
  keyType: number,
  valueType: number,
  valueTypeName?: string,
  // biome-ignore lint/suspicious/noExplicitAny: descriptor init
): { field: any; entry: any } {
  const entryName = `${pascal(name)}Entry`;
  return {
    field: fld(name, number, MESSAGE, { label: REP, typeName: `${parentFqn}.${entryName}` }),
    entry: {
      name: entryName,
      field: [fld("key", 1, keyType), fld("value", 2, valueType, valueTypeName ? { typeName: valueTypeName } : {})],
      options: { mapEntry: true },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// proto3: every scalar singular / optional / packed / unpacked, enums, nested and recursive
// messages, oneofs, maps with every key type, jstype=JS_STRING, wrappers, Struct/Value/ListValue.

function buildProto3() {
  const pkg = "petrel.fasttest.v3";
  const K = `.${pkg}.Kitchen`;
  // biome-ignore lint/suspicious/noExplicitAny: descriptor init
  const fields: any[] = [];
  // biome-ignore lint/suspicious/noExplicitAny: descriptor init
  const nested: any[] = [];
  // biome-ignore lint/suspicious/noExplicitAny: descriptor init
  const oneofs: any[] = [{ name: "choice" }];
  for (const [i, [n, t]] of SCALARS.entries()) fields.push(fld(`f_${n}`, 1 + i, t));
  fields.push(fld("f_enum", 16, ENUM, { typeName: `.${pkg}.Color` }));
  SCALARS.forEach(([n, t], i) => {
    oneofs.push({ name: `_o_${n}` });
    fields.push(fld(`o_${n}`, 21 + i, t, { proto3Optional: true, oneof: oneofs.length - 1 }));
  });
  oneofs.push({ name: "_o_enum" });
  fields.push(fld("o_enum", 36, ENUM, { typeName: `.${pkg}.Color`, proto3Optional: true, oneof: oneofs.length - 1 }));
  for (const [i, [n, t]] of SCALARS.entries()) fields.push(fld(`r_${n}`, 41 + i, t, { label: REP }));
  fields.push(fld("r_enum", 56, ENUM, { label: REP, typeName: `.${pkg}.Color` }));
  SCALARS.forEach(([n, t], i) => {
    if (t !== STRING && t !== BYTES) fields.push(fld(`u_${n}`, 61 + i, t, { label: REP, packed: false }));
  });
  fields.push(fld("u_enum", 76, ENUM, { label: REP, typeName: `.${pkg}.Color`, packed: false }));
  fields.push(fld("child", 80, MESSAGE, { typeName: K }));
  fields.push(fld("children", 81, MESSAGE, { label: REP, typeName: K }));
  fields.push(fld("leaf", 82, MESSAGE, { typeName: `.${pkg}.Leaf` }));
  fields.push(fld("leaves", 83, MESSAGE, { label: REP, typeName: `.${pkg}.Leaf` }));
  // oneof choice (index 0)
  fields.push(fld("c_int32", 90, INT32, { oneof: 0 }));
  fields.push(fld("c_string", 91, STRING, { oneof: 0 }));
  fields.push(fld("c_bytes", 92, BYTES, { oneof: 0 }));
  fields.push(fld("c_leaf", 93, MESSAGE, { oneof: 0, typeName: `.${pkg}.Leaf` }));
  fields.push(fld("c_enum", 94, ENUM, { oneof: 0, typeName: `.${pkg}.Color` }));
  fields.push(fld("c_sint64", 95, SINT64, { oneof: 0 }));
  fields.push(fld("c_wrapped", 96, MESSAGE, { oneof: 0, typeName: ".google.protobuf.Int32Value" }));
  fields.push(fld("c_struct", 97, MESSAGE, { oneof: 0, typeName: ".google.protobuf.Struct" }));
  fields.push(fld("c_double", 98, DOUBLE, { oneof: 0 }));
  // maps with every key type
  let no = 100;
  for (const [kn, kt] of MAP_KEYS) {
    const valueTypes: [number, string?][] = [
      [STRING],
      [INT64],
      [BYTES],
      [MESSAGE, `.${pkg}.Leaf`],
      [ENUM, `.${pkg}.Color`],
      [DOUBLE],
      [FLOAT],
      [BOOL],
      [FIXED64],
      [UINT32],
      [SINT32],
      [SFIXED64],
    ];
    const [vt, vtn] = valueTypes[no % valueTypes.length];
    const m = mapField(K, `m_${kn}`, no++, kt, vt, vtn);
    fields.push(m.field);
    nested.push(m.entry);
  }
  for (const [name, vt, vtn] of [
    ["m_struct", MESSAGE, ".google.protobuf.Struct"],
    ["m_wrapper", MESSAGE, ".google.protobuf.Int32Value"],
    ["m_kitchen", MESSAGE, K],
    ["m_value", MESSAGE, ".google.protobuf.Value"],
  ] as [string, number, string][]) {
    const m = mapField(K, name, no++, STRING, vt, vtn);
    fields.push(m.field);
    nested.push(m.entry);
  }
  // jstype = JS_STRING
  fields.push(fld("js_int64", 130, INT64, { jsString: true }));
  fields.push(fld("js_uint64", 131, UINT64, { jsString: true }));
  fields.push(fld("js_sint64_list", 132, SINT64, { jsString: true, label: REP }));
  oneofs.push({ name: "_js_fixed64" });
  fields.push(fld("js_fixed64", 133, FIXED64, { jsString: true, proto3Optional: true, oneof: oneofs.length - 1 }));
  fields.push(fld("js_sfixed64_list", 134, SFIXED64, { jsString: true, label: REP, packed: false }));
  // wrappers
  const wrappers = ["Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool", "String", "Bytes"];
  for (const [i, w] of wrappers.entries())
    fields.push(fld(`w_${w.toLowerCase()}`, 140 + i, MESSAGE, { typeName: `.google.protobuf.${w}Value` }));
  fields.push(fld("w_list", 149, MESSAGE, { label: REP, typeName: ".google.protobuf.Int64Value" }));
  fields.push(fld("st", 150, MESSAGE, { typeName: ".google.protobuf.Struct" }));
  fields.push(fld("st_list", 151, MESSAGE, { label: REP, typeName: ".google.protobuf.Struct" }));
  fields.push(fld("val", 152, MESSAGE, { typeName: ".google.protobuf.Value" }));
  fields.push(fld("lv", 153, MESSAGE, { typeName: ".google.protobuf.ListValue" }));
  fields.push(fld("mid_no", 1000, STRING));
  fields.push(fld("big_no", 536870911, INT32));
  return create(FileDescriptorProtoSchema, {
    name: "petrel/fasttest/v3/kitchen.proto",
    package: pkg,
    syntax: "proto3",
    dependency: ["google/protobuf/wrappers.proto", "google/protobuf/struct.proto"],
    enumType: [
      {
        name: "Color",
        value: [
          { name: "COLOR_UNSPECIFIED", number: 0 },
          { name: "COLOR_RED", number: 1 },
          { name: "COLOR_GREEN", number: 2 },
          { name: "COLOR_NEG", number: -1 },
        ],
      },
    ],
    messageType: [
      { name: "Kitchen", field: fields, nestedType: nested, oneofDecl: oneofs },
      {
        name: "Leaf",
        field: [fld("name", 1, STRING), fld("n", 2, INT32), fld("kids", 3, MESSAGE, { label: REP, typeName: `.${pkg}.Leaf` })],
      },
    ],
  });
}

// ---------------------------------------------------------------------------------------------
// proto2: required, defaults, closed enums, groups, packed / unpacked, UTF-8 not validated.

function buildProto2() {
  const pkg = "petrel.fasttest.v2";
  const P = `.${pkg}.P2`;
  const enumClosed = `.${pkg}.Closed`;
  const m = mapField(P, "m_enum", 24, INT32, ENUM, enumClosed);
  const m2 = mapField(P, "m_msg", 28, STRING, MESSAGE, P);
  return create(FileDescriptorProtoSchema, {
    name: "petrel/fasttest/v2/p2.proto",
    package: pkg,
    syntax: "proto2",
    enumType: [
      {
        name: "Closed",
        value: [
          { name: "CLOSED_ZERO", number: 0 },
          { name: "CLOSED_ONE", number: 1 },
          { name: "CLOSED_FIVE", number: 5 },
          { name: "CLOSED_NEG", number: -3 },
        ],
      },
      {
        name: "Closed2",
        value: [
          { name: "CLOSED2_A", number: 2 },
          { name: "CLOSED2_B", number: 3 },
        ],
      },
    ],
    messageType: [
      {
        name: "P2",
        field: [
          fld("req", 1, INT32, { label: REQ }),
          fld("o_str", 2, STRING, { def: "hi" }),
          fld("o_i64", 3, INT64, { def: "-5" }),
          fld("o_enum", 4, ENUM, { typeName: enumClosed }),
          fld("o_enum2", 5, ENUM, { typeName: `.${pkg}.Closed2` }),
          fld("r_enum", 6, ENUM, { label: REP, typeName: enumClosed }),
          fld("r_packed", 7, INT32, { label: REP, packed: true }),
          fld("r_unpacked", 8, SINT64, { label: REP }),
          fld("g", 9, GROUP, { typeName: `${P}.G` }),
          fld("rg", 12, GROUP, { label: REP, typeName: `${P}.RG` }),
          fld("child", 15, MESSAGE, { typeName: P }),
          fld("c_int", 16, INT32, { oneof: 0 }),
          fld("c_enum", 17, ENUM, { oneof: 0, typeName: enumClosed }),
          fld("c_str", 18, STRING, { oneof: 0 }),
          fld("cg", 19, GROUP, { oneof: 0, typeName: `${P}.CG` }),
          fld("o_bytes", 20, BYTES, { def: "\\001\\002" }),
          fld("o_double", 21, DOUBLE, { def: "nan" }),
          fld("o_float", 22, FLOAT, { def: "-inf" }),
          fld("o_bool", 23, BOOL, { def: "true" }),
          m.field,
          fld("o_u64", 25, UINT64, { def: "18446744073709551615" }),
          fld("r_str", 26, STRING, { label: REP }),
          fld("r_bytes", 27, BYTES, { label: REP }),
          m2.field,
          fld("r_msg", 29, MESSAGE, { label: REP, typeName: P }),
          fld("r_float", 30, FLOAT, { label: REP, packed: true }),
        ],
        oneofDecl: [{ name: "ch" }],
        nestedType: [
          { name: "G", field: [fld("a", 10, INT32), fld("b", 11, STRING)] },
          { name: "RG", field: [fld("c", 13, INT32), fld("inner", 14, MESSAGE, { typeName: P })] },
          { name: "CG", field: [fld("d", 31, SFIXED64), fld("e", 32, ENUM, { typeName: enumClosed })] },
          m.entry,
          m2.entry,
        ],
      },
    ],
  });
}

// ---------------------------------------------------------------------------------------------
// Edition 2023: delimited (group-like) message encoding, implicit / explicit presence mixed,
// expanded repeated fields, closed enum, UTF-8 validation off for one field.

function buildEditions() {
  const pkg = "petrel.fasttest.ed";
  const E = `.${pkg}.Ed`;
  const m = mapField(E, "m", 10, STRING, MESSAGE, E);
  return create(FileDescriptorProtoSchema, {
    name: "petrel/fasttest/ed/ed.proto",
    package: pkg,
    syntax: "editions",
    edition: 1000, // EDITION_2023
    enumType: [
      {
        name: "ClosedE",
        value: [
          { name: "CE_ZERO", number: 0 },
          { name: "CE_ONE", number: 1 },
        ],
        options: { features: { enumType: 2 } }, // CLOSED
      },
    ],
    messageType: [
      {
        name: "Ed",
        field: [
          fld("a", 1, INT32),
          fld("b", 2, INT32, { features: { fieldPresence: 2 } }), // IMPLICIT
          fld("child", 3, MESSAGE, { typeName: E, features: { messageEncoding: 2 } }), // DELIMITED
          fld("kids", 4, MESSAGE, { label: REP, typeName: E, features: { messageEncoding: 2 } }),
          fld("expanded", 5, INT32, { label: REP, features: { repeatedFieldEncoding: 2 } }), // EXPANDED
          fld("packed", 6, SINT32, { label: REP }),
          fld("s", 7, STRING, { features: { utf8Validation: 3 } }), // NONE
          fld("ce", 8, ENUM, { typeName: `.${pkg}.ClosedE` }),
          fld("s_implicit", 9, STRING, { features: { fieldPresence: 2 } }),
          m.field,
          fld("o_child", 11, MESSAGE, { oneof: 0, typeName: E, features: { messageEncoding: 2 } }),
          fld("o_s", 12, STRING, { oneof: 0 }),
          fld("req", 13, FIXED32, { features: { fieldPresence: 3 } }), // LEGACY_REQUIRED
          fld("bytes_implicit", 14, BYTES, { features: { fieldPresence: 2 } }),
          fld("d_implicit", 15, DOUBLE, { features: { fieldPresence: 2 } }),
        ],
        oneofDecl: [{ name: "o" }],
        nestedType: [m.entry],
      },
    ],
  });
}

const wktFiles = new Map([
  ["google/protobuf/wrappers.proto", file_google_protobuf_wrappers],
  ["google/protobuf/struct.proto", file_google_protobuf_struct],
]);
const registry = createFileRegistry(
  createFileRegistry(buildProto3(), (n) => wktFiles.get(n)),
  createFileRegistry(buildProto2(), (n) => wktFiles.get(n)),
  createFileRegistry(buildEditions(), (n) => wktFiles.get(n)),
);

function mustGet(name: string): DescMessage {
  const d = registry.getMessage(name);
  if (!d) throw new Error(`missing ${name}`);
  return d;
}

export const KitchenSchema = mustGet("petrel.fasttest.v3.Kitchen");
export const LeafSchema = mustGet("petrel.fasttest.v3.Leaf");
export const P2Schema = mustGet("petrel.fasttest.v2.P2");
export const EdSchema = mustGet("petrel.fasttest.ed.Ed");

// ---------------------------------------------------------------------------------------------
// Arbitraries

const wrapperNames = new Set(
  ["Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool", "String", "Bytes"].map((w) => `google.protobuf.${w}Value`),
);

const INT32_EDGES = [0, 1, -1, 127, 128, 16383, 16384, 2147483647, -2147483648, 268435455, 268435456];
const UINT32_EDGES = [0, 1, 127, 128, 2147483648, 4294967295, 268435456];
const I64_EDGES = [
  0n,
  1n,
  -1n,
  2n ** 31n,
  -(2n ** 31n),
  2n ** 32n,
  2n ** 63n - 1n,
  -(2n ** 63n),
  0x7fffffffn,
  0xffffffffn,
  -(2n ** 30n) - 1n,
  2n ** 30n,
];
const U64_EDGES = [0n, 1n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 64n - 1n, 2n ** 63n, 2n ** 53n + 1n];

const loneSurrogates = fc
  .array(fc.oneof(fc.integer({ min: 0xd800, max: 0xdfff }), fc.integer({ min: 0, max: 0xffff })), { maxLength: 8 })
  .map((codes) => String.fromCharCode(...codes));

export const arbString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 30 }) },
  { weight: 1, arbitrary: loneSurrogates },
  { weight: 1, arbitrary: fc.string({ minLength: 40, maxLength: 300 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", minLength: 20, maxLength: 120 }) },
  { weight: 1, arbitrary: fc.constantFrom("", "😀", "a😀b", "\uFEFFbom", "é", "\u0000", "\uD800", "x".repeat(129)) },
);

export function arbScalar(t: ScalarType, longAsString = false): fc.Arbitrary<unknown> {
  const s = <T>(a: fc.Arbitrary<T>) => (longAsString ? a.map((v) => String(v)) : a);
  switch (t) {
    case ScalarType.DOUBLE:
      return fc.oneof(fc.double(), fc.constantFrom(0, -0, Number.NaN, Infinity, -Infinity, 1e308, 5e-324, 0.1));
    case ScalarType.FLOAT:
      return fc.oneof(fc.float(), fc.constantFrom(0, -0, Number.NaN, Infinity, 0.1, 3.4028234663852886e38));
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return fc.oneof(fc.integer({ min: -2147483648, max: 2147483647 }), fc.constantFrom(...INT32_EDGES));
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return fc.oneof(fc.integer({ min: 0, max: 4294967295 }), fc.constantFrom(...UINT32_EDGES));
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return s(
        fc.oneof(
          fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
          fc.bigInt({ min: -(2n ** 32n), max: 2n ** 32n }),
          fc.constantFrom(...I64_EDGES),
        ),
      );
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return s(
        fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.bigInt({ min: 0n, max: 2n ** 33n }), fc.constantFrom(...U64_EDGES)),
      );
    case ScalarType.BOOL:
      return fc.boolean();
    case ScalarType.STRING:
      return arbString;
    case ScalarType.BYTES:
      return fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ minLength: 100, maxLength: 400 }));
  }
}

function arbMapKey(t: ScalarType): fc.Arbitrary<string> {
  switch (t) {
    case ScalarType.BOOL:
      return fc.constantFrom("true", "false");
    case ScalarType.STRING:
      return fc.oneof(arbString, fc.constantFrom("__proto__", "constructor", "0", "1", "-1"));
    default:
      return arbScalar(t).map((v) => String(v));
  }
}

const arbJson: fc.Arbitrary<unknown> = fc.jsonValue({ maxDepth: 2 });
const arbJsonObject = fc.dictionary(fc.string({ maxLength: 6 }), arbJson, { maxKeys: 4 });

function arbEnum(field: { enum: { values: readonly { number: number }[] } }): fc.Arbitrary<number> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...field.enum.values.map((v) => v.number)) },
    { weight: 1, arbitrary: fc.integer({ min: -2147483648, max: 2147483647 }) },
  );
}

const cache = new Map<string, fc.Arbitrary<unknown>>();

/** Random messages of `desc`, nesting messages at most `depth` levels deep. */
export function arbMessage(desc: DescMessage, depth = 2): fc.Arbitrary<unknown> {
  const key = `${desc.typeName}@${depth}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const rec: Record<string, fc.Arbitrary<unknown>> = {};
  for (const member of desc.members) {
    if (member.kind === "oneof") {
      rec[member.localName] = fc.oneof(
        fc.constant({ case: undefined }),
        ...member.fields
          .filter((f) => f.fieldKind !== "message" || depth > 0)
          .map((f) => singular(f, depth).map((value) => ({ case: f.localName, value }))),
      );
      continue;
    }
    const f = member;
    switch (f.fieldKind) {
      case "scalar":
      case "enum":
        // Presence 2 = IMPLICIT, 3 = LEGACY_REQUIRED (always set here; a missing one is tested apart).
        rec[f.localName] =
          f.presence === 2 || f.presence === 3 ? singular(f, depth) : fc.option(singular(f, depth), { nil: undefined, freq: 2 });
        break;
      case "message":
        rec[f.localName] = depth > 0 ? fc.option(singular(f, depth), { nil: undefined, freq: 2 }) : fc.constant(undefined);
        break;
      case "list": {
        let el: fc.Arbitrary<unknown>;
        if (f.listKind === "message") {
          if (depth === 0) {
            rec[f.localName] = fc.constant([]);
            continue;
          }
          el = messageValue(f, depth, false);
        } else if (f.listKind === "enum") {
          el = arbEnum(f);
        } else {
          el = arbScalar(f.scalar, f.longAsString);
        }
        rec[f.localName] = fc.array(el, { maxLength: 4 });
        break;
      }
      case "map": {
        let val: fc.Arbitrary<unknown>;
        if (f.mapKind === "message") {
          if (depth === 0) {
            rec[f.localName] = fc.constant({});
            continue;
          }
          val = messageValue(f, depth, false);
        } else if (f.mapKind === "enum") {
          val = arbEnum(f);
        } else {
          val = arbScalar(f.scalar);
        }
        rec[f.localName] = fc.array(fc.tuple(arbMapKey(f.mapKey), val), { maxLength: 3 }).map((entries) => {
          const o: Record<string, unknown> = {};
          for (const [k, v] of entries) {
            if (k === "__proto__") Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
            else o[k] = v;
          }
          return o;
        });
        break;
      }
    }
  }
  const arb = fc.record(rec).map((init) => create(desc, init as never) as unknown);
  cache.set(key, arb);
  return arb;
}

function singular(f: DescField, depth: number): fc.Arbitrary<unknown> {
  switch (f.fieldKind) {
    case "scalar":
      return arbScalar(f.scalar, f.longAsString);
    case "enum":
      return arbEnum(f);
    case "message":
      return messageValue(f, depth, !f.oneof);
    default:
      throw new Error("not singular");
  }
}

/** A value in the local representation protobuf-es uses for a message-typed field. */
function messageValue(f: DescField, depth: number, unwrapWrappers: boolean): fc.Arbitrary<unknown> {
  const msg = f.message as DescMessage;
  if (msg.typeName === "google.protobuf.Struct" && f.parent.typeName !== "google.protobuf.Value") return arbJsonObject;
  if (unwrapWrappers && f.fieldKind === "message" && wrapperNames.has(msg.typeName)) {
    return arbScalar(msg.fields[0].scalar as ScalarType);
  }
  return arbMessage(msg, depth - 1);
}
