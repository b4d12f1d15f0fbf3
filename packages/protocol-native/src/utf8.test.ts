import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeUtf8 } from "./utf8.js";

const enc = new TextEncoder();

describe("decodeUtf8 with the ASCII intern cache", () => {
  it("returns the right string for many distinct and repeated inputs (slot collisions included)", () => {
    const strings: string[] = [];
    for (let i = 0; i < 5000; i++) strings.push(`/pkg.Svc${i % 97}/M${i}`.slice(0, 1 + (i % 64)));
    for (let round = 0; round < 3; round++) {
      for (const s of strings) {
        const bytes = enc.encode(`##${s}##`);
        assert.equal(decodeUtf8(bytes, 2, bytes.length - 2, "test"), s);
      }
    }
  });

  it("is not fooled by same-length inputs that differ in one byte, nor by later changes to the input buffer", () => {
    const a = enc.encode("x-request-id-0001");
    const b = enc.encode("x-request-id-0002");
    assert.equal(decodeUtf8(a, 0, a.length, "t"), "x-request-id-0001");
    assert.equal(decodeUtf8(b, 0, b.length, "t"), "x-request-id-0002");
    a[a.length - 1] = 0x39;
    assert.equal(decodeUtf8(a, 0, a.length, "t"), "x-request-id-0009");
  });

  it("decodes non-ASCII and long strings through the native decoder", () => {
    for (const s of ["héllo", "✓ done", "a".repeat(65), `${"b".repeat(70)}é`]) {
      const bytes = enc.encode(s);
      assert.equal(decodeUtf8(bytes, 0, bytes.length, "t"), s);
    }
  });
});
