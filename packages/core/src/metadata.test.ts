import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Metadata } from "./index.js";

describe("Metadata", () => {
  it("keeps order and multiple values, lower-cases keys", () => {
    const m = new Metadata({ "X-A": "1" }).append("x-a", "2").append("x-b", "3");
    assert.deepEqual(m.getAll("x-a"), ["1", "2"]);
    assert.equal(m.get("X-B"), "3");
    assert.equal(m.size, 3);
    m.set("x-a", "9");
    assert.deepEqual(m.getAll("x-a"), ["9"]);
    m.delete("x-b");
    assert.equal(m.has("x-b"), false);
  });

  it("binary keys need Uint8Array values, others printable strings", () => {
    assert.throws(() => new Metadata().append("x-bin", "text"), TypeError);
    assert.throws(() => new Metadata().append("x-s", new Uint8Array(1)), TypeError);
    assert.throws(() => new Metadata().append("x-s", "line\nbreak"), TypeError);
    assert.throws(() => new Metadata().append("bad key", "v"), TypeError);
    const m = new Metadata().append("x-bin", new Uint8Array([1, 2]));
    assert.deepEqual(m.toJSON(), { "x-bin": "AQI=" });
  });
});
