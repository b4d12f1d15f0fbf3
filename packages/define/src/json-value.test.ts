import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { equals, fromBinary, fromJson, toBinary, type JsonValue } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { protoBinaryCodec } from "@petrel/core";
import fc from "fast-check";
import { jsonToValue, maxJsonDepth, NotJsonError, valueToJson } from "./json-value.js";

// JSON values that survive a JSON round trip (finite numbers, no -0: Value has no way to tell).
const json = fc.jsonValue({ noUnicodeString: false }).map((v) => JSON.parse(JSON.stringify(v)) as JsonValue);

describe("jsonToValue / valueToJson", () => {
  it("builds exactly what protobuf-es fromJson builds, and reads it back", () => {
    fc.assert(
      fc.property(json, (v) => {
        const mine = jsonToValue(v);
        assert.ok(equals(ValueSchema, mine, fromJson(ValueSchema, v)));
        assert.deepEqual(valueToJson(mine), v);
        // Both binary encoders (protobuf-es and Petrel's fast one) accept the hand-built message.
        const bytes = protoBinaryCodec.encode(ValueSchema, mine);
        assert.deepEqual(bytes, toBinary(ValueSchema, mine));
        assert.deepEqual(valueToJson(fromBinary(ValueSchema, bytes)), v);
      }),
      { numRuns: 300 },
    );
  });

  it("follows JSON.stringify: toJSON called, undefined properties dropped, top-level undefined is null", () => {
    assert.deepEqual(valueToJson(jsonToValue({ at: new Date(0), gone: undefined })), { at: "1970-01-01T00:00:00.000Z" });
    assert.equal(valueToJson(jsonToValue(undefined)), null);
  });

  it("refuses what has no JSON form, naming the JSON Pointer", () => {
    const cases: [unknown, RegExp][] = [
      [Number.NaN, /^value: NaN is not a JSON number/],
      [{ a: [1, Number.POSITIVE_INFINITY] }, /^\/a\/1: Infinity/],
      [{ "x/y~": 1n }, /^\/x~1y~0: bigint is not JSON/],
      [[undefined], /^\/0: undefined is not JSON/],
      [{ f: () => 1 }, /^\/f: function is not JSON/],
      [Symbol("s"), /symbol is not JSON/],
    ];
    for (const [v, re] of cases)
      assert.throws(
        () => jsonToValue(v),
        (e: unknown) => e instanceof NotJsonError && re.test(e.message),
      );
  });

  it("refuses cycles and excessive depth instead of overflowing the stack", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.throws(() => jsonToValue(cyclic), /nested deeper than/);
    let deep: unknown = 1;
    for (let i = 0; i < maxJsonDepth + 5; i++) deep = [deep];
    assert.throws(() => jsonToValue(deep), NotJsonError);
    let ok: unknown = 1;
    for (let i = 0; i < maxJsonDepth - 1; i++) ok = [ok];
    assert.deepEqual(valueToJson(jsonToValue(ok)), ok);
  });

  it("reads a Value with no kind (an empty binary message) as null", () => {
    assert.equal(valueToJson(fromBinary(ValueSchema, new Uint8Array(0))), null);
  });
});
