import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backoffDelay } from "./backoff.js";
import { checkEndpoint, decodeEndpoint, encodeEndpoint, normalizePrefix } from "./endpoint-codec.js";

describe("etcd endpoint codec", () => {
  it("round-trips every endpoint field", () => {
    const e = {
      id: "i1",
      address: "[::1]:9000",
      protocols: ["grpc"],
      weight: 0,
      zone: "z",
      version: "2",
      metadata: { k: "v" },
    };
    assert.deepEqual(decodeEndpoint("/p/s/i1", encodeEndpoint(e)), e);
  });

  it("takes the id from the key when the value has none, and drops malformed fields", () => {
    const got = decodeEndpoint(
      "/p/s/from-key",
      JSON.stringify({ address: "h:1", weight: -2, metadata: { a: 1, b: "x" }, protocols: ["a", 2] }),
    );
    assert.deepEqual(got, { id: "from-key", address: "h:1", metadata: { b: "x" }, protocols: ["a"] });
  });

  it("reports values that are not endpoints", () => {
    assert.match(String(decodeEndpoint("/k", "{")), /not JSON/);
    assert.match(String(decodeEndpoint("/k", "[1]")), /not an object/);
    assert.match(String(decodeEndpoint("/k", '{"id":"x"}')), /no address/);
  });

  it("validates endpoints before writing them", () => {
    assert.throws(() => checkEndpoint({ id: "a", address: "h:1", metadata: { n: 1 as unknown as string } }), /metadata "n"/);
    assert.throws(() => checkEndpoint({ id: "a", address: "h:1", protocols: "grpc" as unknown as string[] }), /protocols/);
    assert.equal(normalizePrefix("/x//"), "/x");
    assert.equal(normalizePrefix(undefined), "/petrel/services");
  });

  it("backs off geometrically up to the cap, with +-20% jitter", () => {
    assert.equal(
      backoffDelay(0, 200, 5_000, () => 0.5),
      200,
    );
    assert.equal(
      backoffDelay(1, 200, 5_000, () => 0.5),
      320,
    );
    assert.equal(
      backoffDelay(50, 200, 5_000, () => 0.5),
      5_000,
    );
    assert.equal(
      backoffDelay(50, 200, 5_000, () => 0),
      4_000,
    );
    assert.equal(
      backoffDelay(50, 200, 5_000, () => 1),
      6_000,
    );
  });
});
