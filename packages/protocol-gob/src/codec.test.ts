import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { decodeGob, GobDecoder } from "./decoder.js";
import { GobEncoder } from "./encoder.js";
import { GobError, isGobError } from "./gob-error.js";
import { type GobType, GobTypes } from "./gob-type.js";
import { GobReader, GobWriter } from "./wire.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const write = (f: (w: GobWriter) => void) => {
  const w = new GobWriter();
  f(w);
  return hex(w.finish());
};

describe("gob primitives", () => {
  it("match the examples of encoding/gob's documentation", () => {
    assert.equal(
      write((w) => w.uint(0)),
      "00",
    );
    assert.equal(
      write((w) => w.uint(7)),
      "07",
    );
    assert.equal(
      write((w) => w.uint(256)),
      "fe0100",
    );
    assert.equal(
      write((w) => w.int(-129)),
      "fe0101",
    );
    assert.equal(
      write((w) => w.float(17)),
      "fe3140",
    );
    assert.equal(
      write((w) => w.uint(2n ** 64n - 1n)),
      "f8ffffffffffffffff",
    );
    assert.equal(
      write((w) => w.int(-(2n ** 63n))),
      "f8ffffffffffffffff",
    );
  });

  it("round-trip integers and floats at the edges", () => {
    const ints: (number | bigint)[] = [
      0,
      1,
      -1,
      63,
      64,
      -64,
      -65,
      127,
      128,
      2 ** 31,
      -(2 ** 31),
      2 ** 52,
      -(2 ** 53) + 1,
      2 ** 53 - 1,
      2n ** 62n,
      -(2n ** 63n),
      2n ** 63n - 1n,
    ];
    for (const v of ints) {
      const w = new GobWriter();
      w.int(v);
      assert.equal(new GobReader(w.finish()).int(), v, `int ${v}`);
    }
    for (const v of [0, -0, 0.1, 1.5, -2.25, 1e300, Number.MIN_VALUE, Infinity, -Infinity, Number.MAX_VALUE]) {
      const w = new GobWriter();
      w.float(v);
      assert.ok(Object.is(new GobReader(w.finish()).float(), v), `float ${v}`);
    }
    const w = new GobWriter();
    w.float(Number.NaN);
    assert.ok(Number.isNaN(new GobReader(w.finish()).float()));
  });

  it("reject out-of-range values with GobError", () => {
    assert.throws(() => write((w) => w.uint(-1)), GobError);
    assert.throws(() => write((w) => w.uint(2n ** 64n)), GobError);
    assert.throws(() => write((w) => w.int(1.5)), GobError);
    assert.throws(() => new GobReader(Uint8Array.of(0xf7, 1, 2, 3, 4, 5, 6, 7, 8, 9)).uint(), /byte count 9/);
    assert.throws(() => new GobReader(Uint8Array.of(0xfe, 1)).uint(), /unexpected end/);
  });
});

const Inner: GobType = { kind: "struct", name: "Inner", fields: [{ name: "Name", type: GobTypes.string }] };
const Node: { kind: "struct"; name: string; fields: { name: string; type: GobType }[] } = { kind: "struct", name: "Node", fields: [] };
Node.fields.push({ name: "V", type: GobTypes.int }, { name: "Next", type: Node });
const All: GobType = {
  kind: "struct",
  name: "All",
  fields: [
    { name: "B", type: GobTypes.bool },
    { name: "I", type: GobTypes.int },
    { name: "U", type: GobTypes.uint },
    { name: "F", type: GobTypes.float },
    { name: "S", type: GobTypes.string },
    { name: "Bs", type: GobTypes.bytes },
    { name: "C", type: GobTypes.complex },
    { name: "Ints", type: { kind: "slice", elem: GobTypes.int } },
    { name: "Arr", type: { kind: "array", len: 2, elem: GobTypes.string } },
    { name: "M", type: { kind: "map", key: GobTypes.int, elem: Inner } },
    { name: "In", type: Inner },
    { name: "Ins", type: { kind: "slice", elem: Inner } },
  ],
};
const allValue = {
  B: true,
  I: -5,
  U: 2n ** 64n - 1n,
  F: 0.5,
  S: "héllo",
  Bs: Uint8Array.of(0, 255),
  C: { real: 1, imag: -2 },
  Ints: [1, -1, 2 ** 40],
  Arr: ["a", ""],
  M: new Map([[-3, { Name: "x" }]]),
  In: { Name: "in" },
  Ins: [{ Name: "a" }, {}],
};

describe("GobEncoder + GobDecoder", () => {
  it("round-trip every kind, sending each type once per stream", () => {
    const enc = new GobEncoder();
    const first = enc.encode(All, allValue);
    const second = enc.encode(All, allValue);
    assert.ok(second.length < first.length / 2, "the second value carries no type definitions");
    const list = { V: 1, Next: { V: 2, Next: { V: 3 } } };
    const stream = Buffer.concat([first, second, enc.encode(Node, list), enc.encode(GobTypes.int, 42), enc.encode(All, {})]);
    const out = decodeGob(stream);
    assert.deepEqual(
      out.map((m) => m.typeName),
      ["All", "All", "Node", "int", "All"],
    );
    assert.deepEqual(out[0]!.value, allValue);
    assert.deepEqual(out[1]!.value, allValue);
    assert.deepEqual(out[2]!.value, list);
    assert.equal(out[3]!.value, 42);
    assert.deepEqual(out[4]!.value, {}, "zero fields are omitted");
  });

  it("decodes a stream fed one byte at a time", () => {
    const enc = new GobEncoder();
    const bytes = Buffer.concat([enc.encode(All, allValue), enc.encode(GobTypes.string, "x".repeat(300))]);
    const dec = new GobDecoder();
    const got = [];
    for (const b of bytes) got.push(...dec.push(Uint8Array.of(b)));
    assert.equal(dec.midMessage, false);
    assert.deepEqual(got[0]!.value, allValue);
    assert.equal(got[1]!.value, "x".repeat(300));
  });

  it("does not record types as sent when a value does not fit", () => {
    const enc = new GobEncoder();
    assert.throws(() => enc.encode(All, { I: "nope" }), GobError);
    const out = decodeGob(enc.encode(All, { I: 3 }));
    assert.deepEqual(out[0]!.value, { I: 3 });
  });

  it("enforces message size, depth and type-count limits", () => {
    const enc = new GobEncoder();
    const big = enc.encode(GobTypes.string, "y".repeat(2000));
    assert.throws(() => decodeGob(big, { maxMessageBytes: 1000 }), /exceeds the limit of 1000/);
    let deep: Record<string, unknown> = { V: 1 };
    for (let i = 0; i < 60; i++) deep = { V: 1, Next: deep };
    const nodes = new GobEncoder().encode(Node, deep);
    assert.throws(() => decodeGob(nodes, { maxDepth: 20 }), /nested deeper than 20/);
    assert.equal(decodeGob(nodes, { maxDepth: 100 }).length, 1);
    const types = new GobEncoder();
    const many = Buffer.concat(
      Array.from({ length: 5 }, (_, i) =>
        types.encode({ kind: "struct", name: `T${i}`, fields: [{ name: "A", type: GobTypes.int }] }, { A: i }),
      ),
    );
    assert.throws(() => decodeGob(many, { maxTypes: 3 }), /more than 3 type definitions/);
  });

  it("rejects malformed streams with clear errors", () => {
    assert.throws(() => decodeGob(Uint8Array.of(3, 0xff, 0x80, 0)), /undefined type id 64/);
    assert.throws(() => decodeGob(Uint8Array.of(3, 4, 1, 2)), /non-zero delta for a singleton/);
    assert.throws(() => decodeGob(Uint8Array.of(2, 4, 0)), /unexpected end/);
    assert.throws(() => decodeGob(Uint8Array.of(4, 4, 0, 2)), /stream ends inside a message/);
    assert.throws(() => decodeGob(Uint8Array.of(4, 4, 0, 2, 9)), /extra bytes/);
    assert.throws(() => decodeGob(Uint8Array.of(0)), /empty message/);
    assert.deepEqual(decodeGob(Uint8Array.of(3, 4, 0, 2))[0]!.value, 1);
    assert.throws(() => decodeGob(Uint8Array.of(3, 0x10, 0, 0)), GobError);
    // A slice claiming more elements than bytes left.
    const t = new GobEncoder().encode({ kind: "slice", elem: GobTypes.int }, [1]);
    const bad = Uint8Array.from(t);
    bad[bad.length - 2] = 0x7f;
    assert.throws(() => decodeGob(bad), /element count 127 exceeds/);
    // An interface value (type id 8).
    assert.throws(() => decodeGob(Uint8Array.of(4, 0x10, 0, 1, 0)), /interface values are not supported/);
  });

  it("fuzz: random bytes never throw anything but GobError, and always finish", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          decodeGob(bytes, { maxDepth: 50, maxMessageBytes: 1 << 16 });
        } catch (e) {
          if (!isGobError(e)) throw e;
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("fuzz: mutated valid streams never throw anything but GobError", () => {
    const enc = new GobEncoder();
    const seed = Buffer.concat([enc.encode(All, allValue), enc.encode(Node, { V: 1, Next: { V: 2 } }), enc.encode(GobTypes.int, 7)]);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(seed.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.nat(seed.length),
        (edits, cut) => {
          const b = Uint8Array.from(seed.subarray(0, Math.max(1, cut)));
          for (const [i, v] of edits) if (i < b.length) b[i] = v;
          try {
            decodeGob(b);
          } catch (e) {
            if (!isGobError(e)) throw e;
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
