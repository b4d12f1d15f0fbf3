import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Compression, IDENTITY_ENCODING, createCompressionRegistry, parseAcceptEncoding } from "./index.js";

function fake(name: string): Compression {
  return {
    name,
    compress: async (b) => b.slice().reverse(),
    decompress: async (b) => b.slice().reverse(),
  };
}

describe("compression registry", () => {
  it("holds algorithms by name; identity is built in and always supported", () => {
    const gz = fake("gzip");
    const r = createCompressionRegistry(fake("deflate"), gz);
    assert.equal(r.get("gzip"), gz);
    assert.equal(r.get("GZIP"), gz);
    assert.equal(r.get(IDENTITY_ENCODING), undefined);
    assert.equal(r.get("snappy"), undefined);
    assert.ok(r.supports("identity"));
    assert.ok(r.supports("deflate"));
    assert.ok(!r.supports("snappy"));
    assert.deepEqual(r.names(), ["deflate", "gzip"]);
    assert.equal(r.acceptEncoding(), "identity,deflate,gzip");
  });

  it("register adds and replaces; the accept list follows", () => {
    const r = createCompressionRegistry();
    assert.equal(r.acceptEncoding(), "identity");
    const s = fake("snappy");
    r.register(s);
    assert.equal(r.acceptEncoding(), "identity,snappy");
    const s2 = fake("snappy");
    r.register(s2);
    assert.equal(r.get("snappy"), s2);
    assert.equal(r.acceptEncoding(), "identity,snappy");
  });

  it("refuses identity and malformed names", () => {
    assert.throws(() => createCompressionRegistry(fake("identity")), TypeError);
    assert.throws(() => createCompressionRegistry(fake("a b")), TypeError);
    assert.throws(() => createCompressionRegistry(fake("")), TypeError);
  });
});

describe("parseAcceptEncoding", () => {
  it("splits, trims, lower-cases and dedupes; a missing header means identity only", () => {
    assert.deepEqual(parseAcceptEncoding(undefined), ["identity"]);
    assert.deepEqual(parseAcceptEncoding("identity,deflate,gzip"), ["identity", "deflate", "gzip"]);
    assert.deepEqual(parseAcceptEncoding(" GZip , ,gzip"), ["gzip"]);
    assert.deepEqual(parseAcceptEncoding(["identity", "gzip, deflate"]), ["identity", "gzip", "deflate"]);
  });
});
