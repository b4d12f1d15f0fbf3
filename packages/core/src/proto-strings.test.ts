// String paths of the generated protobuf encoder and decoder, which the random-message property
// tests of codec-protobuf-fast.test.ts reach only now and then:
// - the decoder makes ASCII strings as substrings of latin1 "windows" of the input whose size
//   adapts to how densely strings fill it (first string of a decode on its own, windows that
//   grow on dense input and shrink on sparse input, strings longer than a window, non-ASCII
//   strings in between, state reset between decodes), and string map keys from a small cache;
// - the encoder copies ASCII in groups of eight, then four, then one, and hands the rest of a
//   string to its UTF-8 path at the first non-ASCII unit.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { type Batch, BatchSchema, LineItemSchema, type Order, OrderSchema } from "../../../bench/src/gen/codecs_pb.js";
import { makeBatch, makeOrder } from "../../../bench/src/codecs/messages.js";
import { KitchenSchema } from "./codec-protobuf-fast.fixtures.js";
import { compileDecoder } from "./proto-decode-gen.js";
import { compileEncoder } from "./proto-encode-gen.js";

function decoder() {
  const d = compileDecoder(BatchSchema);
  assert.ok(d, "code generation is available here");
  return d;
}

/** Every string of a batch, in wire order (what the decoder reads). */
function stringsOf(b: Batch): string[] {
  const out = [b.source];
  for (const o of b.orders) {
    out.push(o.id);
    if (o.shipping) out.push(o.shipping.street, o.shipping.city, o.shipping.zip, o.shipping.country);
    for (const it of o.items) out.push(it.sku, it.title, it.unitPrice?.currency ?? "", ...it.tags);
    for (const [k, v] of Object.entries(o.attributes)) out.push(k, v);
  }
  return out;
}

function assertDecodes(bytes: Uint8Array): void {
  const want = fromBinary(BatchSchema, bytes);
  const got = decoder()(bytes) as Batch;
  assert.ok(equals(BatchSchema, got, want), "decoded batch differs from fromBinary");
  // equals() compares strings by value already; this names the first string that differs.
  const g = stringsOf(got);
  const w = stringsOf(want);
  for (let i = 0; i < w.length; i++) assert.equal(g[i], w[i], `string ${i}`);
}

/** An order whose strings and signature are given (the signature spreads strings apart). */
function order(i: number, title: string, sigLen: number, tags: string[] = ["kitchen"]): Order {
  return create(OrderSchema, {
    id: `o-${i}`,
    shipping: { street: `${i} Rua Augusta`, city: "Lisboa", zip: "1100", country: "PT" },
    items: [{ sku: `S${i}`, title, quantity: 1, unitPrice: { currency: "EUR", units: 1n }, tags }],
    attributes: { k: `v${i}` },
    signature: new Uint8Array(sigLen).fill(0xc3),
  });
}

const ascii = (n: number, seed: number) => Array.from({ length: n }, (_, k) => String.fromCharCode(0x20 + ((k * 7 + seed) % 95))).join("");

describe("generated decoder: strings from latin1 windows", () => {
  it("dense input (windows grow), sparse input (windows shrink), and back, decode like fromBinary", () => {
    const dense = toBinary(BatchSchema, makeBatch(150));
    // Strings ~20 KB apart: every window serves one string.
    const sparse = toBinary(
      BatchSchema,
      create(BatchSchema, { orders: Array.from({ length: 40 }, (_, i) => order(i, ascii(20, i), 20_000)) }),
    );
    for (const bytes of [dense, dense, sparse, sparse, dense, sparse, dense]) assertDecodes(bytes);
  });

  it("strings of every size class (own, windowed, TextDecoder), at window edges, non-ASCII in between", () => {
    // Titles from empty to several windows long (over 256 bytes: TextDecoder); non-ASCII bytes (0xc3) fill the
    // signatures, so a window edge falls inside binary data as well as inside strings.
    const titles = [0, 1, 12, 13, 255, 256, 257, 1023, 1024, 1025, 4095, 4096, 4097, 9000].map((n, i) => ascii(n, i));
    titles.push("é", `${ascii(300, 3)}é${ascii(300, 4)}`, "😀", `a${"ü".repeat(2000)}`);
    const orders = titles.map((t, i) => order(i, t, (i * 37) % 300, i % 2 === 0 ? ["kitchen", "gift"] : []));
    assertDecodes(toBinary(BatchSchema, create(BatchSchema, { source: "edge", orders })));
    assertDecodes(toBinary(BatchSchema, create(BatchSchema, { orders: orders.reverse() })));
  });

  it("random batches in sequence: the window never carries over from one decode to the next", () => {
    const arbTitle = fc.oneof(
      { weight: 4, arbitrary: fc.string({ maxLength: 40 }) },
      { weight: 1, arbitrary: fc.string({ minLength: 200, maxLength: 6000 }) },
      { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 30 }) },
      { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 30 }) },
    );
    const arbOrder = fc.tuple(arbTitle, fc.integer({ min: 0, max: 6000 }), fc.array(fc.string({ maxLength: 12 }), { maxLength: 4 }));
    const arbBatch = fc
      .array(arbOrder, { maxLength: 60 })
      .map((os) => toBinary(BatchSchema, create(BatchSchema, { orders: os.map(([t, sig, tags], i) => order(i, t, sig, tags)) })));
    fc.assert(
      fc.property(fc.array(arbBatch, { minLength: 2, maxLength: 6 }), (inputs) => {
        for (const bytes of inputs) assertDecodes(bytes);
      }),
      { numRuns: 60, seed: 0x5eed },
    );
  });

  it("string map keys: a pool larger than the key cache, repeated, long, non-ASCII, __proto__", () => {
    const pool = [
      "channel",
      "locale",
      "campaign",
      "a",
      "ab",
      "abc",
      "",
      "x".repeat(32),
      "x".repeat(33),
      "clé",
      "naïve",
      "__proto__",
      "k0",
      "k1",
      "k2",
      "k3",
    ];
    const arbAttrs = fc.dictionary(fc.constantFrom(...pool), fc.string({ maxLength: 8 }), { maxKeys: 10 });
    fc.assert(
      fc.property(fc.array(arbAttrs, { minLength: 1, maxLength: 40 }), (attrs) => {
        const orders = attrs.map((a, i) => {
          const o = order(i, "t", 0);
          o.attributes = a;
          return o;
        });
        const bytes = toBinary(BatchSchema, create(BatchSchema, { orders }));
        assertDecodes(bytes);
        const got = decoder()(bytes) as Batch;
        const want = fromBinary(BatchSchema, bytes);
        for (let i = 0; i < orders.length; i++)
          assert.deepEqual(Object.keys(got.orders[i].attributes), Object.keys(want.orders[i].attributes));
      }),
      { numRuns: 80, seed: 0xca4e },
    );
  });

  it("a decoded string outlives its input buffer being overwritten", () => {
    const bytes = toBinary(BatchSchema, makeBatch(30));
    const got = decoder()(bytes) as Batch;
    const want = stringsOf(fromBinary(BatchSchema, bytes));
    bytes.fill(0x41);
    assert.deepEqual(stringsOf(got), want);
  });
});

describe("generated decoder: containers", () => {
  it("lists, map records and oneofs are fresh plain values in every decoded message", () => {
    const full = toBinary(OrderSchema, makeOrder(3));
    const empty = toBinary(OrderSchema, create(OrderSchema, { id: "x" }));
    const dec = compileDecoder(OrderSchema);
    assert.ok(dec);
    for (const bytes of [full, empty]) {
      const a = dec(bytes) as Order;
      const b = dec(bytes) as Order;
      for (const m of [a, b]) {
        for (const list of [m.items, m.couponCodes]) assert.equal(Object.getPrototypeOf(list), Array.prototype);
        assert.equal(Object.getPrototypeOf(m.attributes), Object.prototype);
      }
      // Nothing is shared between two decodes, nor with the empty lists they start from.
      a.couponCodes.push(1.5, -7);
      a.items.push(create(LineItemSchema, { sku: "new" }));
      a.attributes.extra = "1";
      assert.ok(equals(OrderSchema, b, fromBinary(OrderSchema, bytes)));
      assert.ok(equals(OrderSchema, dec(bytes) as Order, fromBinary(OrderSchema, bytes)));
      assert.deepEqual(a.couponCodes.slice(-2), [1.5, -7]);
    }
    const kitchen = compileDecoder(KitchenSchema);
    assert.ok(kitchen);
    const set = kitchen(toBinary(KitchenSchema, create(KitchenSchema, { choice: { case: "cString", value: "v" } })));
    assert.deepEqual(Object.keys(set.choice), ["case", "value"]);
    assert.equal(Object.getPrototypeOf(set.choice), Object.prototype);
    const unset = kitchen(new Uint8Array(0));
    assert.deepEqual(Object.keys(unset.choice), ["case"]);
    assert.ok(equals(KitchenSchema, unset, create(KitchenSchema)));
  });
});

describe("generated encoder: ASCII groups and the first non-ASCII unit", () => {
  it("every length 0..40 with a non-ASCII unit at every position encodes like toBinary", () => {
    const enc = compileEncoder(OrderSchema);
    assert.ok(enc, "code generation is available here");
    for (let n = 0; n <= 40; n++) {
      const base = ascii(n, n);
      const variants = [base];
      for (let k = 0; k < n; k++) {
        for (const u of ["é", "€", "😀", "\ud800", "\u0080"]) variants.push(base.slice(0, k) + u + base.slice(k + 1));
      }
      for (const s of variants) {
        const m = makeOrder(1, 1);
        m.id = s;
        m.items = [create(LineItemSchema, { title: s, tags: [s, s] })];
        const out = enc(m);
        assert.ok(out);
        assert.deepEqual(Buffer.from(out), Buffer.from(toBinary(OrderSchema, m)), JSON.stringify(s));
      }
    }
  });
});
