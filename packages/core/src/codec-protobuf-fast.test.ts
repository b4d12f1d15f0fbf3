// Property tests for protoFastCodec with protobuf-es (toBinary / fromBinary) as the oracle:
// encode must be byte-identical to toBinary (and throw when it throws), decode must return a
// message identical in shape and value to fromBinary's (and throw when it throws). Every check
// runs both implementations: the generated encoder / decoder (proto-encode-gen.ts,
// proto-decode-gen.ts, what the codec uses) and the reflective fallbacks (proto-encode.ts,
// proto-decode.ts, used where `new Function` is unavailable or a value is loosely typed).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, createFileRegistry, type DescMessage, equals, fromBinary, toBinary, toJson } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import {
  AnySchema,
  BoolValueSchema,
  BytesValueSchema,
  DescriptorProtoSchema,
  DoubleValueSchema,
  DurationSchema,
  EmptySchema,
  FieldMaskSchema,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  FloatValueSchema,
  Int32ValueSchema,
  Int64ValueSchema,
  ListValueSchema,
  StringValueSchema,
  StructSchema,
  TimestampSchema,
  UInt32ValueSchema,
  UInt64ValueSchema,
  ValueSchema,
  file_google_protobuf_descriptor,
  file_google_protobuf_struct,
} from "@bufbuild/protobuf/wkt";
import fc from "fast-check";
import { BatchSchema, OrderSchema, SmallSchema } from "../../../bench/src/gen/codecs_pb.js";
import { makeBatch, makeOrder, makeSmall } from "../../../bench/src/codecs/messages.js";
import { EchoRequestSchema as BenchEchoRequestSchema } from "../../../bench/src/gen/echo_pb.js";
import {
  EchoRequestSchema,
  EchoResponseSchema,
  StreamRequestSchema,
  file_petrel_testing_v1_test,
} from "../../testing/src/gen/petrel/testing/v1/test_pb.js";
import { protoFastCodec } from "./codec-protobuf-fast.js";
import { decodeFast } from "./proto-decode.js";
import { compileDecoder, setDecoderCodegen } from "./proto-decode-gen.js";
import { encodeFast } from "./proto-encode.js";
import { compileEncoder, encoderSource, setEncoderCodegen } from "./proto-encode-gen.js";
import { EdSchema, KitchenSchema, LeafSchema, P2Schema, arbMessage } from "./codec-protobuf-fast.fixtures.js";

// biome-ignore lint/suspicious/noExplicitAny: messages are handled reflectively
type Any = any;

const { encode, decode } = protoFastCodec;

// Shrinking large messages can take long: bound each property run (a failure stays a failure).
fc.configureGlobal({ interruptAfterTimeLimit: 60_000, markInterruptAsFailure: true });

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };
function attempt<T>(fn: () => T): Outcome<T> {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    return { ok: false, error };
  }
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

/** The generated encoder of `schema`; fails the test if there is none. */
function generatedEncoder(schema: DescMessage): (m: Any) => Uint8Array | undefined {
  const fn = compileEncoder(schema);
  assert.ok(fn, `no generated encoder for ${schema.typeName}`);
  return fn;
}

/**
 * Asserts the codec's encode(), the generated and the reflective encoder and toBinary() agree:
 * same bytes, or all throw. The generated encoder may leave a message to the reflective one
 * (returns undefined) only if it holds loosely typed values (`loose`) or toBinary throws; it
 * never returns bytes where toBinary throws. Returns the bytes.
 */
function checkEncode(schema: DescMessage, message: Any, loose = false): Uint8Array | undefined {
  const want = attempt(() => toBinary(schema, message));
  const got = attempt(() => encode(schema, message));
  const gen = attempt(() => generatedEncoder(schema)(message));
  const refl = attempt(() => encodeFast(schema, message));
  assert.ok(gen.ok, `generated encoder threw ${gen.ok ? "" : gen.error}`);
  if (!want.ok) {
    assert.equal(got.ok, false, `toBinary threw ${want.error} but encode did not`);
    assert.equal(refl.ok, false, `toBinary threw ${want.error} but encodeFast did not`);
    assert.equal(gen.value, undefined, `toBinary threw ${want.error} but the generated encoder did not give up`);
    return undefined;
  }
  if (!got.ok) throw got.error;
  if (!refl.ok) throw refl.error;
  assert.equal(hex(got.value), hex(want.value));
  assert.equal(hex(refl.value), hex(want.value), "reflective encoder");
  if (gen.value === undefined) assert.ok(loose, "the generated encoder gave up on a well-typed message");
  else assert.equal(hex(gen.value), hex(want.value), "generated encoder");
  return want.value;
}

/** Strict structural identity: same own keys in the same order, prototypes, Object.is values. */
function assertSame(a: Any, b: Any, path = "$"): void {
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    assert.ok(a instanceof Uint8Array && b instanceof Uint8Array, `${path}: Uint8Array vs ${typeof b}`);
    assert.equal(a.constructor, b.constructor, `${path}: constructor`);
    assert.equal(hex(a), hex(b), `${path}: bytes`);
    return;
  }
  if (typeof a !== "object" || a === null || typeof b !== "object" || b === null) {
    assert.ok(Object.is(a, b), `${path}: ${String(a)} !== ${String(b)}`);
    return;
  }
  assert.equal(Array.isArray(a), Array.isArray(b), `${path}: array`);
  assert.equal(Object.getPrototypeOf(a), Object.getPrototypeOf(b), `${path}: prototype`);
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  assert.deepEqual(ka, kb, `${path}: keys`);
  for (const k of ka) assertSame(a[k], b[k], `${path}.${k}`);
}

/** Replaces every NaN in a decoded message (fields, lists, maps, nested) with the canonical NaN. */
function canonicalizeNaNs(v: Any): void {
  if (typeof v !== "object" || v === null || v instanceof Uint8Array) return;
  for (const k of Object.keys(v)) {
    const x = v[k];
    if (typeof x === "number" && Number.isNaN(x)) v[k] = Number.NaN;
    else canonicalizeNaNs(x);
  }
}

/** The generated decoder of `schema`; fails the test if there is none. */
function generated(schema: DescMessage): (bytes: Uint8Array) => Any {
  const fn = compileDecoder(schema);
  assert.ok(fn, `no generated decoder for ${schema.typeName}`);
  return fn;
}

/**
 * Asserts both decoders and fromBinary() agree on `bytes`: identical messages, or all throw.
 * Returns false when fromBinary throws.
 */
function checkDecode(schema: DescMessage, bytes: Uint8Array): boolean {
  const gen = generated(schema);
  const a = checkDecodeWith(schema, bytes, (b) => gen(b));
  const b = checkDecodeWith(schema, bytes, (b) => decodeFast(schema, b));
  assert.equal(a, b);
  return a;
}

function checkDecodeWith(schema: DescMessage, bytes: Uint8Array, decode: (b: Uint8Array) => Any): boolean {
  const want = attempt(() => fromBinary(schema, bytes));
  const got = attempt(() => decode(bytes));
  if (!want.ok) {
    assert.equal(got.ok, false, `fromBinary threw ${want.error} but decode did not (${hex(bytes)})`);
    assert.ok(got.ok === false && got.error instanceof Error, "decode throws an Error");
    return false;
  }
  if (!got.ok) {
    throw new Error(`decode threw but fromBinary did not (${hex(bytes)}): ${got.error}`, { cause: got.error });
  }
  assertSame(got.value, want.value);
  // equals() is protobuf-es' notion of equality; NaN breaks it, so only use it when two oracle
  // decodes are equal.
  if (equals(schema, want.value, fromBinary(schema, bytes))) assert.ok(equals(schema, got.value, want.value));
  // protobuf-es accepts the result: re-encoding and JSON agree.
  // NaN payloads are not JS values: V8 may quiet a signalling NaN read from the wire (0x7FF0…1E
  // becomes 0x7FF8…1E) when it stores it in an array, depending on JIT state, in protobuf-es and
  // in Petrel alike (seen as a rare flake). So re-encodings are compared with NaNs canonicalized.
  canonicalizeNaNs(want.value);
  canonicalizeNaNs(got.value);
  const wb = attempt(() => toBinary(schema, want.value));
  const gb = attempt(() => toBinary(schema, got.value));
  assert.equal(gb.ok, wb.ok);
  if (wb.ok && gb.ok) assert.equal(hex(gb.value), hex(wb.value));
  const wj = attempt(() => JSON.stringify(toJson(schema, want.value)));
  const gj = attempt(() => JSON.stringify(toJson(schema, got.value)));
  assert.equal(gj.ok, wj.ok);
  if (wj.ok && gj.ok) assert.equal(gj.value, wj.value);
  return true;
}

// Schemas: the runtime-built kitchen sinks, the well-known types, Petrel's generated schemas.
const schemas: [DescMessage, number, number][] = [
  // [schema, nesting depth, runs]
  [KitchenSchema, 1, 150],
  [KitchenSchema, 2, 25],
  [LeafSchema, 3, 100],
  [P2Schema, 2, 200],
  [EdSchema, 3, 200],
  [StructSchema, 3, 150],
  [ValueSchema, 3, 150],
  [ListValueSchema, 3, 100],
  [DurationSchema, 1, 50],
  [TimestampSchema, 1, 50],
  [AnySchema, 1, 50],
  [FieldMaskSchema, 1, 50],
  [EmptySchema, 1, 10],
  [DoubleValueSchema, 1, 50],
  [FloatValueSchema, 1, 50],
  [Int64ValueSchema, 1, 50],
  [UInt64ValueSchema, 1, 50],
  [Int32ValueSchema, 1, 50],
  [UInt32ValueSchema, 1, 50],
  [BoolValueSchema, 1, 20],
  [StringValueSchema, 1, 50],
  [BytesValueSchema, 1, 50],
  [FileDescriptorProtoSchema, 2, 60],
  [DescriptorProtoSchema, 3, 80],
  [EchoRequestSchema, 1, 100],
  [EchoResponseSchema, 1, 100],
  [StreamRequestSchema, 1, 100],
  [BenchEchoRequestSchema, 1, 100],
  [SmallSchema, 1, 100],
  [OrderSchema, 1, 100],
  [BatchSchema, 1, 30],
];

/** Byte-level mutations of an encoding: truncate, overwrite, insert, delete. */
const arbMutations = fc.array(
  fc.tuple(fc.integer({ min: 0, max: 3 }), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 4 })),
  { minLength: 1, maxLength: 3 },
);

function mutate(bytes: Uint8Array, ops: [number, number, number, number][]): Uint8Array {
  let b = Array.from(bytes);
  for (const [op, at, byte, n] of ops) {
    const i = b.length === 0 ? 0 : at % (b.length + 1);
    switch (op) {
      case 0:
        b = b.slice(0, i);
        break;
      case 1:
        if (i < b.length) b[i] = byte;
        break;
      case 2:
        b.splice(i, 0, ...Array.from({ length: n }, (_, j) => (byte + j * 77) & 0xff));
        break;
      case 3:
        b.splice(i, n);
        break;
    }
  }
  return new Uint8Array(b);
}

describe("protoFastCodec", () => {
  it("has wire name proto", () => {
    assert.equal(protoFastCodec.name, "proto");
  });

  for (const [schema, depth, runs] of schemas) {
    const arb = arbMessage(schema, depth);
    describe(`${schema.typeName} (depth ${depth})`, () => {
      it("encode is byte-identical to toBinary", () => {
        fc.assert(
          fc.property(arb, (m) => {
            checkEncode(schema, m);
          }),
          { numRuns: runs },
        );
      });

      it("decode of valid encodings equals fromBinary", () => {
        fc.assert(
          fc.property(arb, (m) => {
            const bytes = toBinary(schema, m as Any);
            assert.ok(checkDecode(schema, bytes));
          }),
          { numRuns: runs },
        );
      });

      it("decode of two concatenated encodings (merge) equals fromBinary", () => {
        fc.assert(
          fc.property(arb, arb, (a, b) => {
            const x = toBinary(schema, a as Any);
            const y = toBinary(schema, b as Any);
            const both = new Uint8Array(x.length + y.length);
            both.set(x);
            both.set(y, x.length);
            assert.ok(checkDecode(schema, both));
          }),
          { numRuns: Math.ceil(runs / 2) },
        );
      });

      it("decode of mutated / truncated encodings matches fromBinary (value or throw)", () => {
        fc.assert(
          fc.property(arb, arbMutations, (m, ops) => {
            checkDecode(schema, mutate(toBinary(schema, m as Any), ops));
          }),
          { numRuns: runs * 2 },
        );
      });

      it("every prefix of an encoding decodes like fromBinary", () => {
        fc.assert(
          fc.property(arb, (m) => {
            const bytes = toBinary(schema, m as Any);
            const step = Math.max(1, Math.floor(bytes.length / 40));
            for (let n = 0; n < bytes.length; n += step) checkDecode(schema, bytes.subarray(0, n));
          }),
          { numRuns: Math.ceil(runs / 5) },
        );
      });

      it("re-encoding a decoded message equals toBinary(fromBinary(bytes))", () => {
        fc.assert(
          fc.property(arb, (m) => {
            const bytes = toBinary(schema, m as Any);
            const want = attempt(() => toBinary(schema, fromBinary(schema, bytes)));
            const got = attempt(() => encode(schema, decode(schema, bytes)));
            assert.equal(got.ok, want.ok);
            if (got.ok && want.ok) assert.equal(hex(got.value), hex(want.value));
          }),
          { numRuns: Math.ceil(runs / 2) },
        );
      });
    });
  }

  it("random bytes decode like fromBinary", () => {
    for (const schema of [KitchenSchema, P2Schema, EdSchema, StructSchema, FileDescriptorProtoSchema, EchoRequestSchema]) {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
          checkDecode(schema, bytes);
        }),
        { numRuns: 400 },
      );
    }
  });

  // Raw wire records with arbitrary field numbers and wire types (known numbers with the wrong
  // wire type included: protobuf-es does not check them, and neither may we differ).
  const arbRecord = fc.tuple(
    fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 536870911 }), fc.constantFrom(80, 90, 93, 100, 150)),
    fc.constantFrom(0, 1, 2, 3, 5),
    fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    fc.uint8Array({ maxLength: 12 }),
  );
  function writeRecords(records: [number, number, bigint, Uint8Array][]): Uint8Array {
    const w = new BinaryWriter();
    for (const [no, wt, n, data] of records) {
      w.tag(no, wt);
      switch (wt) {
        case WireType.Varint:
          w.uint64(n);
          break;
        case WireType.Bit64:
          w.fixed64(n);
          break;
        case WireType.LengthDelimited:
          w.bytes(data);
          break;
        case WireType.StartGroup:
          w.tag(1, WireType.Varint)
            .uint32(Number(n & 0xffn))
            .tag(no, WireType.EndGroup);
          break;
        case WireType.Bit32:
          w.fixed32(Number(n & 0xffffffffn));
          break;
      }
    }
    return w.finish();
  }

  it("unknown fields and mismatched wire types decode like fromBinary and round-trip", () => {
    for (const schema of [KitchenSchema, P2Schema, EdSchema, LeafSchema, EchoRequestSchema]) {
      fc.assert(
        fc.property(fc.array(arbRecord, { maxLength: 6 }), (records) => {
          const bytes = writeRecords(records);
          if (checkDecode(schema, bytes)) {
            const m = fromBinary(schema, bytes);
            checkEncode(schema, m);
            checkEncode(schema, decode(schema, bytes));
          }
        }),
        { numRuns: 400 },
      );
    }
  });

  it("unknown fields are kept and written back after known fields", () => {
    const bytes = writeRecords([
      [99, 0, 300n, new Uint8Array()],
      [1, 2, 0n, new Uint8Array([104, 105])],
      [98, 2, 0n, new Uint8Array([1, 2, 3])],
      [97, 3, 7n, new Uint8Array()],
      [96, 5, 12345n, new Uint8Array()],
      [95, 1, 2n ** 64n - 1n, new Uint8Array()],
    ]);
    const m: Any = decode(LeafSchema, bytes);
    assert.equal(m.name, "hi");
    assert.deepEqual(
      m.$unknown.map((u: Any) => [u.no, u.wireType]),
      [
        [99, 0],
        [98, 2],
        [97, 3],
        [96, 5],
        [95, 1],
      ],
    );
    checkDecode(LeafSchema, bytes);
    assert.equal(hex(encode(LeafSchema, m)), hex(toBinary(LeafSchema, m)));
  });

  it("edge values: negative int32, NaN / -0, large uint64, surrogates, empty, max field number", () => {
    const cases: Record<string, unknown>[] = [
      { fInt32: -1, fSint32: -2147483648, fSfixed32: -1, rInt32: [-1, -2147483648, 2147483647] },
      { fDouble: Number.NaN, fFloat: -0, oDouble: -0, oFloat: Number.NaN, rDouble: [Number.NaN, -0, Infinity] },
      { fDouble: -0, cDouble: { case: "cDouble", value: 0 } },
      { fUint64: 2n ** 64n - 1n, fFixed64: 2n ** 64n - 1n, fInt64: -(2n ** 63n), fSint64: -(2n ** 63n), fSfixed64: -1n },
      { fString: "a😀\uD800b\uDFFFc", rString: ["😀".repeat(50), "\uDBFF\uDFFF", "é".repeat(70)] },
      { fString: "x".repeat(127) },
      { fString: "x".repeat(128) },
      { fString: "é".repeat(21), oString: "é".repeat(22) },
      { fString: "ü".repeat(8200) },
      {},
      { bigNo: -5, midNo: "m" },
      { oInt32: 0, oString: "", oBytes: new Uint8Array(), oBool: false, oEnum: 0 },
      { jsInt64: "-9223372036854775808", jsUint64: "18446744073709551615", jsSint64List: ["-1", "0", "4294967296"] },
      { wInt32: 0, wString: "", wBool: false, wBytes: new Uint8Array([1]), wDouble: -0, wInt64: 0n },
      { st: { a: null, b: [1, "x", true, { c: {} }], d: -0 }, stList: [{}, { x: 1 }] },
      { mStruct: { k: { n: null } }, mWrapper: { k: create(Int32ValueSchema, { value: 0 }) } },
      { cStruct: { case: "cStruct", value: { q: [] } } },
      { cWrapped: { case: "cWrapped", value: create(Int32ValueSchema, { value: 7 }) } },
      { mBool: { true: 1, false: 0 }, mInt64: { "-1": 1, "9223372036854775807": -1 }, mSint64: { "-5": { name: "l" } } },
      { mString: { constructor: -2, "": 0, "1": 1 }, mUint32: { "4294967295": -1n } },
      // Keys protobuf-es' key converter (Number.parseInt without a radix) reads loosely.
      { mInt32: { "0x10": 1, " 7": 2, "1e3": 3, "-0": 4 } },
      { fBytes: new Uint8Array(300).fill(7), child: { child: { child: { fInt32: 1 } } } },
    ];
    for (const init of cases) {
      const m = create(KitchenSchema, init as never);
      if (Object.hasOwn(init, "mString")) {
        // a literal `__proto__` key would set the prototype: define it as an own property
        Object.defineProperty((m as Any).mString, "__proto__", { value: 5, enumerable: true, writable: true, configurable: true });
      }
      const bytes = checkEncode(KitchenSchema, m);
      assert.ok(bytes);
      assert.ok(checkDecode(KitchenSchema, bytes), `fromBinary failed for ${Object.keys(init)}`);
    }
    // An empty message encodes to zero bytes.
    assert.equal(encode(EmptySchema, create(EmptySchema)).length, 0);
    assert.equal(encode(KitchenSchema, create(KitchenSchema)).length, 0);
    assert.ok(checkDecode(KitchenSchema, new Uint8Array(0)));
  });

  it("deeply nested messages: encode, decode, and the recursion limit of 100", () => {
    const nest = (n: number) => {
      let m: Any = create(LeafSchema, { name: "bottom" });
      for (let i = 0; i < n; i++) m = create(LeafSchema, { n: i, kids: [m] });
      return m;
    };
    for (const n of [10, 98, 99, 100, 150, 1000]) {
      const m = nest(n);
      const bytes = checkEncode(LeafSchema, m);
      assert.ok(bytes);
      checkDecode(LeafSchema, bytes); // 100+ levels: both throw
      assert.equal(attempt(() => decode(LeafSchema, bytes)).ok, n < 100);
    }
    // Deeply nested groups, skipped as unknown fields (recursion budget for skipping).
    for (const n of [50, 99, 100, 101]) {
      const w = new BinaryWriter();
      for (let i = 0; i < n; i++) w.tag(500, WireType.StartGroup);
      for (let i = 0; i < n; i++) w.tag(500, WireType.EndGroup);
      checkDecode(LeafSchema, w.finish());
    }
  });

  it("invalid UTF-8: replaced in proto2 / utf8_validation NONE, rejected in proto3", () => {
    const bad = [0xff, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0xf0, 0x9f, 0x98];
    const rec = (no: number) => new Uint8Array([(no << 3) | 2, bad.length, ...bad]);
    assert.ok(checkDecode(P2Schema, new Uint8Array([8, 1, ...rec(2)]))); // o_str
    assert.ok(checkDecode(EdSchema, rec(7))); // s, NONE
    assert.equal(checkDecode(EdSchema, rec(12)), false); // o_s, VERIFY
    assert.equal(checkDecode(KitchenSchema, rec(9)), false); // proto3
    assert.ok(checkDecode(P2Schema, new Uint8Array([8, 1, 0x12, 3, 0xef, 0xbb, 0xbf]))); // BOM kept
  });

  it("closed enums: unknown values go to $unknown", () => {
    // o_enum = 4 (closed): 7 unknown, 5 known; plus an unknown field 50.
    const bytes = new Uint8Array([8, 1, 0x20, 7, 0x20, 5, 0x20, 0x7f, 0x90, 0x03, 1, 0x30, 9, 0x88, 1, 0xfe, 0xff, 0xff, 0xff, 0x0f]);
    assert.ok(checkDecode(P2Schema, bytes));
    const onlyEnum = new Uint8Array([8, 1, 0x20, 7]);
    assert.ok(checkDecode(P2Schema, onlyEnum));
    assert.equal(decode(P2Schema, onlyEnum).$unknown?.length, 1);
    // Editions closed enum, and a closed enum in a oneof.
    assert.ok(checkDecode(EdSchema, new Uint8Array([0x40, 3, 0x40, 1])));
    assert.ok(checkDecode(P2Schema, new Uint8Array([8, 1, 0x88, 1, 9, 0x88, 1, 5])));
  });

  it("malformed input throws: truncated varints / lengths, bad tags, bad groups", () => {
    const bad = [
      [0x08], // tag, value missing
      [0x08, 0x80], // truncated varint
      [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], // 11-byte varint
      [0x12, 0x05, 0x61], // length beyond end
      [0x12, 0xff, 0xff, 0xff, 0xff, 0x0f], // huge length
      [0x00, 0x01], // field number 0
      [0x0f], // wire type 7
      [0x0e], // wire type 6
      [0x80, 0x80, 0x80, 0x80, 0x80, 0x01], // 6-byte tag
      [0xfb, 0xff, 0xff, 0xff, 0x1f], // 5-byte tag with high bits
      [0x9b, 0x1f], // start group, no end
      [0x9b, 0x1f, 0xa4, 0x1f], // end group with the wrong number
      [0x9c, 0x1f], // stray end group (unknown field)
      [0xa9, 0x1f, 1, 2, 3], // truncated fixed64
      [0xad, 0x1f, 1, 2, 3], // truncated fixed32
      [0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80], // 10 continuation bytes
      // protobuf-es skips an unknown varint of any length (no 10-byte limit): accepted
      [0xa0, 0x1f, ...new Array(14).fill(0xff), 0x01],
      [0xa0, 0x1f, ...new Array(14).fill(0xff)], // … but not a truncated one
      [0x1a, 0x01, 0x08, 0x96, 0x01], // nested message overrunning its length: accepted
    ].map((b) => new Uint8Array(b));
    for (const schema of [LeafSchema, KitchenSchema, P2Schema, EchoRequestSchema]) {
      for (const b of bad) checkDecode(schema, b);
    }
    for (const b of [[0x08], [0x08, 0x80], [0x0a, 0x05, 0x61], [0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f], [0x1a, 0x02, 0x08]]) {
      assert.throws(() => decode(LeafSchema, new Uint8Array(b)), Error);
    }
  });

  it("encode throws like toBinary on invalid values", () => {
    const invalid: [DescMessage, Record<string, unknown>][] = [
      [KitchenSchema, { fInt32: 1.5 }],
      [KitchenSchema, { fInt32: 2147483648 }],
      [KitchenSchema, { fUint32: -1 }],
      [KitchenSchema, { fInt64: 2n ** 63n }],
      [KitchenSchema, { fUint64: -1n }],
      [KitchenSchema, { fFloat: 1e39 }],
      [KitchenSchema, { rInt32: [1, Number.NaN] }],
      [KitchenSchema, { jsInt64: "12x" }],
      [KitchenSchema, { fBytes: [1, 2] }],
      [KitchenSchema, { fDouble: 10n }],
      [KitchenSchema, { child: { $typeName: "other.Type" } }],
    ];
    for (const [schema, init] of invalid) {
      const m: Any = create(schema);
      Object.assign(m, init);
      assert.equal(
        checkEncode(schema, m),
        undefined,
        JSON.stringify(init, (_, v) => (typeof v === "bigint" ? `${v}n` : v)),
      );
    }
    // Loosely typed values protobuf-es accepts are encoded the same way.
    const loose: Record<string, unknown>[] = [
      { fInt32: "5", fUint32: "7", fDouble: "1.5", fFloat: "NaN", fString: 12, fBool: "yes" },
      { fInt64: "-3", fUint64: 5, fSint64: "-9", fFixed64: 3, fSfixed64: "-4" },
      { fSint32: "-2", fFixed32: "9", fSfixed32: "-1", rInt32: ["1", 2] },
      { fInt32: -0, fUint32: -0, fDouble: -0 },
    ];
    for (const init of loose) {
      const m: Any = create(KitchenSchema);
      Object.assign(m, init);
      checkEncode(KitchenSchema, m, true);
    }
    // Missing required field.
    assert.equal(checkEncode(P2Schema, create(P2Schema)), undefined);
    assert.equal(checkEncode(EdSchema, create(EdSchema)), undefined);
  });

  it("a reentrant encode (from a toString in a string field) is correct", () => {
    const inner = create(BenchEchoRequestSchema, { text: "inner", seq: 1n });
    let innerBytes: Uint8Array | undefined;
    const m: Any = create(KitchenSchema, { fInt32: 1, fBytes: new Uint8Array(50).fill(2) });
    m.fString = {
      toString() {
        innerBytes = encode(BenchEchoRequestSchema, inner);
        return "outer";
      },
    };
    const bytes = encode(KitchenSchema, m);
    assert.equal(hex(bytes), hex(toBinary(KitchenSchema, m)));
    assert.ok(innerBytes);
    assert.equal(hex(innerBytes), hex(toBinary(BenchEchoRequestSchema, inner)));
  });

  it("results are never overwritten by later encodes (slab handout, large messages)", () => {
    const kept: [Uint8Array, string][] = [];
    const big = create(KitchenSchema, { fBytes: new Uint8Array(20000).fill(1), fString: "y".repeat(70000) });
    const msgs: [DescMessage, Any][] = [
      [BenchEchoRequestSchema, create(BenchEchoRequestSchema, { text: "t", seq: 5n, payload: new Uint8Array(60).fill(9) })],
      [KitchenSchema, big],
      [FileDescriptorProtoSchema, file_google_protobuf_descriptor.proto],
      [KitchenSchema, create(KitchenSchema, { fBytes: new Uint8Array(9000).fill(3) })],
    ];
    for (let i = 0; i < 3000; i++) {
      const [schema, m] = msgs[i % 4 === 1 ? (i % 40 === 1 ? 1 : 0) : i % 4];
      const out = encode(schema, m);
      kept.push([out, hex(toBinary(schema, m))]);
    }
    for (const [out, want] of kept) assert.equal(hex(out), want);
  });

  it("the generated decoder covers every test schema; the codec falls back when generation is off or unavailable", () => {
    for (const [schema] of schemas) generated(schema);
    const bytes = toBinary(OrderSchema, create(OrderSchema, { id: "o-1", items: [{ sku: "s", tags: ["a"] }], attributes: { k: "v" } }));
    const prev = setDecoderCodegen(false);
    try {
      assert.equal(compileDecoder(OrderSchema), undefined);
      assert.ok(checkDecodeWith(OrderSchema, bytes, (b) => decode(OrderSchema, b)));
    } finally {
      setDecoderCodegen(prev);
    }
    // Under a CSP without 'unsafe-eval', `new Function` throws an EvalError.
    const realFunction = globalThis.Function;
    globalThis.Function = class {
      constructor() {
        throw new EvalError("Code generation from strings disallowed for this context");
      }
    } as unknown as FunctionConstructor;
    try {
      setDecoderCodegen(true);
      assert.equal(compileDecoder(OrderSchema), undefined);
      assert.equal(compileDecoder(KitchenSchema), undefined);
      assert.ok(checkDecodeWith(OrderSchema, bytes, (b) => decode(OrderSchema, b)));
    } finally {
      globalThis.Function = realFunction;
      setDecoderCodegen(true);
    }
    assert.equal(typeof compileDecoder(OrderSchema), "function");
    assert.ok(checkDecodeWith(OrderSchema, bytes, (b) => decode(OrderSchema, b)));
  });

  it("the generated encoder covers every test schema; the codec falls back when generation is off or unavailable", () => {
    for (const [schema] of schemas) generatedEncoder(schema);
    const order = makeOrder(3);
    const want = hex(toBinary(OrderSchema, order));
    const prev = setEncoderCodegen(false);
    try {
      assert.equal(compileEncoder(OrderSchema), undefined);
      assert.equal(hex(encode(OrderSchema, order)), want);
    } finally {
      setEncoderCodegen(prev);
    }
    // Under a CSP without 'unsafe-eval', `new Function` throws an EvalError.
    const realFunction = globalThis.Function;
    globalThis.Function = class {
      constructor() {
        throw new EvalError("Code generation from strings disallowed for this context");
      }
    } as unknown as FunctionConstructor;
    try {
      setEncoderCodegen(true);
      assert.equal(compileEncoder(OrderSchema), undefined);
      assert.equal(compileEncoder(KitchenSchema), undefined);
      assert.equal(hex(encode(OrderSchema, order)), want);
      assert.equal(
        hex(encode(KitchenSchema, create(KitchenSchema, { fString: "x", rInt32: [1, -1] }))),
        hex(toBinary(KitchenSchema, create(KitchenSchema, { fString: "x", rInt32: [1, -1] }))),
      );
    } finally {
      globalThis.Function = realFunction;
      setEncoderCodegen(true);
    }
    assert.equal(typeof compileEncoder(OrderSchema), "function");
    assert.equal(hex(encode(OrderSchema, order)), want);
  });

  it("generated encoder: the bench messages, slab boundaries and large messages in any order", () => {
    const cases: [DescMessage, Any][] = [
      [SmallSchema, makeSmall()],
      [OrderSchema, makeOrder(7)],
      [BatchSchema, makeBatch(20)],
      [BatchSchema, makeBatch(2)],
      [KitchenSchema, create(KitchenSchema, { fString: "é".repeat(3000), rString: ["x".repeat(200), "ü".repeat(100)] })],
    ];
    const kept: [Uint8Array, string][] = [];
    // Lengths that are not multiples of 8 move every later message across slab boundaries.
    for (let i = 0; i < 600; i++) {
      const [schema, m] = cases[(i * 7 + (i >> 3)) % cases.length];
      const out = generatedEncoder(schema)(m);
      assert.ok(out);
      kept.push([out, hex(toBinary(schema, m))]);
    }
    for (const [out, want] of kept) assert.equal(hex(out), want);
    // A large message writes into a buffer sized from the previous one: a larger one outgrows
    // it (finished in the scratch buffer), a small one goes back to the slab.
    const enc = generatedEncoder(BatchSchema);
    const seq = [makeBatch(20), makeBatch(60), makeBatch(60), makeBatch(1), makeBatch(30), makeBatch(200), makeBatch(20)];
    const outs = seq.map((m) => enc(m));
    for (let i = 0; i < seq.length; i++) {
      const out = outs[i];
      assert.ok(out);
      assert.equal(hex(out), hex(toBinary(BatchSchema, seq[i])));
    }
  });

  it("generated encoder: 64-bit boundaries of the fast paths", () => {
    const edges = [2n ** 52n - 1n, 2n ** 52n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n, 127n, 128n];
    for (const e of edges) {
      for (const v of [e, -e]) {
        const m: Any = create(KitchenSchema, { fInt64: v, fSint64: v, fSfixed64: v, rSint64: [v, -v], jsInt64: String(v) } as never);
        if (v >= 0n) Object.assign(m, { fUint64: v, fFixed64: v });
        checkEncode(KitchenSchema, m);
      }
    }
  });

  it("descriptor names enter generated code as string literals only", () => {
    // protobuf-es' registry rejects such names, but a descriptor is a plain object: the
    // generator must not trust them (they are patched in before anything compiles the type).
    const evil = `x"]; globalThis.__petrelPwned = 1; //`;
    const file = createFileRegistry(
      create(FileDescriptorProtoSchema, {
        name: "evil.proto",
        package: "evil",
        syntax: "proto3",
        messageType: [
          {
            name: "Evil",
            field: [
              { name: "a", number: 1, type: 9, label: 1 },
              { name: "constructor", number: 2, type: 5, label: 1, proto3Optional: true, oneofIndex: 0 },
              { name: "b", number: 3, type: 5, label: 1 },
              { name: "c", number: 4, type: 5, label: 1 },
            ],
            oneofDecl: [{ name: "_constructor" }],
          },
        ],
      }),
      () => undefined,
    );
    const schema = file.getMessage("evil.Evil");
    assert.ok(schema);
    (schema.fields[0] as Any).localName = evil;
    (schema as Any).typeName = `evil.Evil"); globalThis.__petrelPwned = 2; ("`;
    const source = encoderSource(schema);
    assert.ok(!source.includes(evil), "a field name appears unquoted");
    const m: Any = create(schema);
    m.$typeName = schema.typeName;
    m[evil] = "v";
    m.b = 5;
    checkEncode(schema, m);
    m[schema.fields[1].localName] = 3;
    checkEncode(schema, m);
    assert.equal((globalThis as Any).__petrelPwned, undefined);
    // Odd descriptors are refused (the reflective encoder takes over).
    (schema.fields[3] as Any).localName = "__proto__";
    setEncoderCodegen(true);
    assert.equal(compileEncoder(schema), undefined);
    assert.equal(hex(encode(schema, m)), hex(encodeFast(schema, m)));
  });

  it("large packed doubles / floats, merged, and in an input that starts at an odd offset", () => {
    const doubles = Array.from({ length: 5000 }, (_, i) => (i % 7 === 0 ? Number.NaN : i % 5 === 0 ? -0 : i * 1.5e-3 - 3));
    const floats = doubles.map((d) => Math.fround(d));
    const m = create(KitchenSchema, { rDouble: doubles, rFloat: floats } as never);
    const bytes = checkEncode(KitchenSchema, m);
    assert.ok(bytes);
    assert.ok(checkDecode(KitchenSchema, bytes));
    const twice = new Uint8Array(2 * bytes.length + 1);
    twice.set(bytes, 1);
    twice.set(bytes, 1 + bytes.length);
    assert.ok(checkDecode(KitchenSchema, twice.subarray(1)));
    const got: Any = decode(KitchenSchema, twice.subarray(1));
    assert.equal(got.rDouble.length, 2 * doubles.length);
    assert.ok(Object.is(got.rDouble[5], -0));
  });

  it("encodes the file descriptors of the test and descriptor protos identically", () => {
    for (const file of [file_petrel_testing_v1_test, file_google_protobuf_descriptor, file_google_protobuf_struct]) {
      const bytes = checkEncode(FileDescriptorProtoSchema, file.proto);
      assert.ok(bytes);
      assert.ok(checkDecode(FileDescriptorProtoSchema, bytes));
      const set = create(FileDescriptorSetSchema, { file: [file.proto, file.proto] });
      const setBytes = checkEncode(FileDescriptorSetSchema, set);
      assert.ok(setBytes);
      assert.ok(checkDecode(FileDescriptorSetSchema, setBytes));
    }
  });
});
