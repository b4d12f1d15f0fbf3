/**
 * Property tests for JsonValueSplitter: any sequence of JSON objects/arrays, serialized with any
 * whitespace between them and cut into any chunks, comes out as exactly those values; garbage
 * at top level and oversized values fail with JsonSplitError (never anything else).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { JsonSplitError, JsonValueSplitter } from "./json-splitter.js";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Cuts `bytes` at the given (sorted, deduplicated) offsets. */
function cut(bytes: Uint8Array, points: number[]): Uint8Array[] {
  const offs = [...new Set(points.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const o of offs) {
    out.push(bytes.subarray(prev, o));
    prev = o;
  }
  out.push(bytes.subarray(prev));
  return out;
}

function splitAll(chunks: Uint8Array[], max: number): { values: unknown[]; error?: JsonSplitError } {
  const s = new JsonValueSplitter(max);
  const values: unknown[] = [];
  try {
    for (const c of chunks) for (const v of s.push(c)) values.push(JSON.parse(dec.decode(v)));
  } catch (e) {
    assert.ok(e instanceof JsonSplitError, `unexpected error ${e}`);
    for (const v of e.values) values.push(JSON.parse(dec.decode(v)));
    return { values, error: e };
  }
  return { values };
}

// Strings full of the bytes that matter: quotes, backslashes, brackets, non-ASCII.
const tricky = fc.string({ unit: fc.constantFrom("a", '"', "\\", "{", "}", "[", "]", "é", "😀", "\n", " ", "\u0000") });
const value = fc.letrec((tie) => ({
  leaf: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null), tricky),
  node: fc.oneof({ depthSize: "small" }, tie("leaf"), tie("arr"), tie("obj")),
  arr: fc.array(tie("node"), { maxLength: 4 }),
  obj: fc.dictionary(tricky, tie("node"), { maxKeys: 4 }),
}));
const topValue = fc.oneof(value.arr, value.obj);
const ws = fc.string({ unit: fc.constantFrom(" ", "\n", "\r", "\t"), maxLength: 3 });

describe("JsonValueSplitter", () => {
  it("splits any stream of objects/arrays in any chunking", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(topValue, ws), { maxLength: 6 }), fc.array(fc.nat(), { maxLength: 8 }), (items, points) => {
        const text = items.map(([v, w]) => JSON.stringify(v) + w).join("");
        const { values, error } = splitAll(cut(enc.encode(text), points), 1 << 20);
        assert.equal(error, undefined);
        assert.deepEqual(values, JSON.parse(`[${items.map(([v]) => JSON.stringify(v)).join(",")}]`));
      }),
      { numRuns: 500 },
    );
  });

  it("fails on a top-level scalar or garbage after the good values", () => {
    fc.assert(
      fc.property(fc.array(topValue, { maxLength: 3 }), fc.constantFrom("1", "x", '"s"', "}", "]", "null"), fc.nat(), (good, bad, p) => {
        const text = good.map((v) => JSON.stringify(v)).join("\n") + bad;
        const { values, error } = splitAll(cut(enc.encode(text), [p]), 1 << 20);
        assert.ok(error !== undefined);
        assert.match(error.message, /unexpected byte/);
        assert.deepEqual(values, JSON.parse(JSON.stringify(good)));
      }),
      { numRuns: 200 },
    );
  });

  it("limits value size whether it arrives whole or in pieces", () => {
    fc.assert(
      fc.property(fc.integer({ min: 12, max: 64 }), fc.array(fc.nat(), { maxLength: 5 }), (max, points) => {
        const big = JSON.stringify({ k: "x".repeat(max) });
        const { error } = splitAll(cut(enc.encode(big), points), max);
        assert.ok(error !== undefined);
        assert.match(error.message, /larger than/);
        const fits = JSON.stringify({ k: "x".repeat(max - 10) });
        if (fits.length <= max) assert.equal(splitAll(cut(enc.encode(fits), points), max).error, undefined);
      }),
    );
  });

  it("never throws anything but JsonSplitError on random bytes, and refuses use after failure", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat(), { maxLength: 5 }), (bytes, points) => {
        const s = new JsonValueSplitter(64);
        try {
          for (const c of cut(bytes, points)) s.push(c);
        } catch (e) {
          assert.ok(e instanceof JsonSplitError);
          assert.throws(() => s.push(enc.encode("{}")), JsonSplitError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("tracks a value across chunks (midValue)", () => {
    const s = new JsonValueSplitter(100);
    assert.deepEqual(s.push(enc.encode('{"a":"}')), []);
    assert.equal(s.midValue, true);
    const out = s.push(enc.encode('\\""}{}'));
    assert.deepEqual(
      out.map((v) => JSON.parse(dec.decode(v))),
      [{ a: '}"' }, {}],
    );
    assert.equal(s.midValue, false);
  });
});
