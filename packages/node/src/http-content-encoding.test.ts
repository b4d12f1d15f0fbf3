import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as zlib from "node:zlib";
import { Code, RpcError } from "@petrel/core";
import { createCompressionRegistry } from "@petrel/protocol-grpc";
import { brotliCompression, deflateCompression, gzipCompression } from "./grpc-compression.js";
import { createHttpContentEncoding, decodeRequestBody, negotiate, requestCodings, responseCoding } from "./http-content-encoding.js";

const all = () =>
  createHttpContentEncoding({ compressions: createCompressionRegistry(deflateCompression, gzipCompression, brotliCompression) });
const chosen = (accept: string, size = 10_000, enc = all()) => responseCoding(enc, accept, size)?.name;

describe("HTTP content codings", () => {
  it("prefers br > gzip > deflate at equal weight, whatever the registration order", () => {
    const enc = all();
    assert.deepEqual(
      enc.order.map((c) => c.name),
      ["br", "gzip", "deflate"],
    );
    assert.equal(enc.accept, "br, gzip, deflate");
    assert.equal(chosen("deflate, gzip, br, zstd"), "br");
    assert.equal(chosen("gzip, deflate"), "gzip");
    assert.equal(chosen("*"), "br");
    const gzipFirst = createHttpContentEncoding({
      compressions: createCompressionRegistry(deflateCompression, gzipCompression, brotliCompression),
      preferredEncodings: ["gzip"],
    });
    assert.equal(chosen("br, gzip", 10_000, gzipFirst), "gzip");
    assert.deepEqual(
      gzipFirst.order.map((c) => c.name),
      ["gzip", "deflate", "br"],
    );
  });

  it("honours q-values, q=0, wildcards and identity", () => {
    assert.equal(chosen("gzip;q=0.5, deflate;q=0.6"), "deflate");
    assert.equal(chosen("br;q=0, gzip;q=0.1"), "gzip");
    assert.equal(chosen("br;q=0, *;q=0.3"), "gzip");
    assert.equal(chosen("x-gzip"), "gzip");
    assert.equal(chosen("GZIP ; Q=0.5"), "gzip");
    assert.equal(chosen("gzip;q=0, deflate;q=0, br;q=0"), undefined);
    assert.equal(chosen(""), undefined);
    assert.equal(chosen("zstd, compress"), undefined);
    // A malformed weight voids its element.
    assert.equal(chosen("br;q=high, gzip;q=0.2"), "gzip");
    // Explicit identity weighed above the codings wins.
    assert.equal(chosen("gzip;q=0.4, identity;q=0.9"), undefined);
    assert.equal(chosen("gzip;q=0.9, identity;q=0.4"), "gzip");
    assert.deepEqual(negotiate(all(), "gzip, identity;q=0").identity, false);
    assert.deepEqual(negotiate(all(), "gzip, *;q=0").identity, false);
    assert.deepEqual(negotiate(all(), "gzip, *;q=0, identity").identity, true);
  });

  it("applies the size threshold unless identity is refused, and never compresses without Accept-Encoding", () => {
    const enc = all();
    assert.equal(responseCoding(enc, "gzip", 1023), undefined);
    assert.equal(responseCoding(enc, "gzip", 1024)?.name, "gzip");
    assert.equal(responseCoding(enc, "gzip, identity;q=0", 3)?.name, "gzip");
    assert.equal(responseCoding(enc, undefined, 1 << 20), undefined);
    assert.equal(responseCoding(enc, ["deflate", "gzip;q=0.1"], 5000)?.name, "deflate");
    const none = createHttpContentEncoding({ compressions: createCompressionRegistry() });
    assert.equal(none.enabled, false);
    assert.equal(responseCoding(none, "gzip", 1 << 20), undefined);
    assert.throws(() => createHttpContentEncoding({ compressMinBytes: -1 }), /compressMinBytes/);
  });

  it("reads Content-Encoding lists and undoes them in reverse order, bounded", async () => {
    const enc = all();
    assert.deepEqual(requestCodings(enc, "identity"), { t: "identity" });
    assert.equal(requestCodings(enc, "zstd").t, "unsupported");
    assert.match((requestCodings(enc, "gzip, br, deflate") as { message: string }).message, /more than 2 content codings/);
    const two = requestCodings(enc, "gzip, br");
    assert.ok(two.t === "coded");
    const plain = Buffer.from("hello ".repeat(100));
    const bytes = zlib.brotliCompressSync(zlib.gzipSync(plain));
    const out = await decodeRequestBody(bytes, two.codings, 1000);
    assert.deepEqual(out, plain);
    await assert.rejects(
      decodeRequestBody(bytes, two.codings, 100),
      (e: unknown) => e instanceof RpcError && e.code === Code.RESOURCE_EXHAUSTED,
    );
    await assert.rejects(
      decodeRequestBody(Buffer.from("nope"), [gzipCompression], 100),
      (e: unknown) => e instanceof RpcError && e.code === Code.INVALID_ARGUMENT && /not valid gzip data/.test(e.rawMessage),
    );
  });
});
