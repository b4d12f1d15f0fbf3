import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { xxhash32, xxhash32Bytes } from "./hash.js";

test("xxhash32 matches the reference test vectors", () => {
  // Vectors from the xxHash reference implementation (seed 0), covering the <16 and >=16 byte paths.
  assert.equal(xxhash32(""), 0x02cc5d05);
  assert.equal(xxhash32("a"), 0x550d7456);
  assert.equal(xxhash32("abc"), 0x32d153ff);
  assert.equal(xxhash32("Nobody inspects the spammish repetition"), 0xe2293b2f);
  assert.notEqual(xxhash32("abc", 1), xxhash32("abc"));
});

test("xxhash32 of a string equals xxhash32 of its UTF-8 bytes (property)", () => {
  const enc = new TextEncoder();
  fc.assert(
    fc.property(fc.string({ unit: "binary" }), fc.integer({ min: 0, max: 0xffffffff }), (s, seed) => {
      const h = xxhash32(s, seed);
      assert.equal(h, xxhash32Bytes(enc.encode(s), undefined, seed));
      assert.ok(Number.isInteger(h) && h >= 0 && h <= 0xffffffff);
    }),
    { numRuns: 500 },
  );
});
