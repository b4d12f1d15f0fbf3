import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeEndpoint, encodeEndpoint, validateEndpoint } from "./endpoint-json.js";
import type { Endpoint } from "./types.js";

describe("endpoint JSON", () => {
  it("round-trips every field and writes no unknown property", () => {
    const e = { id: "i1", address: "[::1]:9000", protocols: ["grpc"], weight: 0, zone: "z", version: "2", metadata: { k: "v" } };
    const text = encodeEndpoint({ ...e, extra: 1 } as Endpoint);
    assert.equal(text.includes("extra"), false);
    assert.deepEqual(decodeEndpoint(text, "t"), e);
  });

  it("leaves the id out when none (or an empty one) is stored, and drops malformed fields", () => {
    assert.deepEqual(decodeEndpoint(JSON.stringify({ id: "", address: "h:1", weight: "x", zone: 3 }), "t"), { address: "h:1" });
    assert.deepEqual(decodeEndpoint(JSON.stringify({ address: "h:1", metadata: [1], protocols: [1, "a"] }), "t"), {
      address: "h:1",
      protocols: ["a"],
    });
  });

  it("reports malformed values with the caller's source", () => {
    assert.match(String(decodeEndpoint("", "zk: data of /a")), /^Error: zk: data of \/a is not JSON$/);
    assert.match(String(decodeEndpoint("null", "s")), /s is not an object/);
    assert.match(String(decodeEndpoint('{"address":""}', "s")), /s has no address/);
  });

  it("validates with the caller's prefix and id rule", () => {
    assert.throws(() => validateEndpoint(null as unknown as Endpoint, "x"), /^TypeError: x: endpoint must be an object$/);
    assert.throws(() => validateEndpoint({ id: "", address: "h:1" }, "x"), /x: instance id must be a non-empty string/);
    assert.throws(() => validateEndpoint({ id: "a", address: "" }, "x"), /x: endpoint "a" needs an address/);
    assert.throws(() => validateEndpoint({ id: "a", address: "h:1", weight: Number.NaN }, "x"), /weight must be a finite number/);
    assert.throws(
      () =>
        validateEndpoint({ id: "a/b", address: "h:1" }, "x", (id) => {
          if (String(id).includes("/")) throw new TypeError("no slash");
        }),
      /no slash/,
    );
    const ok = { id: "a", address: "h:1", metadata: { k: "v" } };
    assert.equal(validateEndpoint(ok, "x"), ok);
  });
});
