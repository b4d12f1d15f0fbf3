import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Code, Metadata, RpcError } from "@petrel/core";
import { headersToMetadata, isReservedHeader, metadataToHeaders } from "./metadata-headers.js";

describe("isReservedHeader", () => {
  it("reserves transport headers", () => {
    const reserved = [
      ":path",
      ":authority",
      ":status",
      "content-type",
      "te",
      "grpc-status",
      "grpc-message",
      "grpc-status-details-bin",
      "grpc-timeout",
      "grpc-encoding",
      "grpc-accept-encoding",
      "grpc-message-type",
      "grpc-future-thing",
      "host",
      "connection",
      "keep-alive",
      "proxy-connection",
      "transfer-encoding",
      "upgrade",
      "http2-settings",
      "content-length",
    ];
    for (const k of reserved) assert.equal(isReservedHeader(k), true, k);
  });

  it("lets user metadata through, user-agent included", () => {
    for (const k of [
      "user-agent",
      "authorization",
      "x-trace-id",
      "trace-proto-bin",
      "grpc",
      "grpcx-a",
      "te-x",
      "content-encoding",
      "g",
      // gRFC A6's retry headers travel as metadata.
      "grpc-retry-pushback-ms",
      "grpc-previous-rpc-attempts",
    ]) {
      assert.equal(isReservedHeader(k), false, k);
    }
  });
});

describe("metadataToHeaders", () => {
  it("writes strings as is, binary as unpadded base64, repeats as arrays", () => {
    const md = new Metadata()
      .append("x-a", "1")
      .append("x-b", "two")
      .append("x-a", "3")
      .append("x-a", "4")
      .append("trace-bin", new Uint8Array([0xff]))
      .append("empty-bin", new Uint8Array(0));
    const out: Record<string, string | string[]> = {};
    metadataToHeaders(md, out);
    assert.deepEqual(out, { "x-a": ["1", "3", "4"], "x-b": "two", "trace-bin": "/w", "empty-bin": "" });
  });

  it("skips reserved keys and appends to keys already present", () => {
    const md = Metadata.fromFlat([
      "content-type",
      "text/html",
      "grpc-status",
      "0",
      ":path",
      "/x",
      "te",
      "gzip",
      "user-agent",
      "mine",
      "x-k",
      "v",
    ]);
    const out: Record<string, string | string[]> = { "content-type": "application/grpc", te: "trailers", "x-k": "first" };
    metadataToHeaders(md, out);
    assert.deepEqual(out, { "content-type": "application/grpc", te: "trailers", "user-agent": "mine", "x-k": ["first", "v"] });
  });
});

describe("headersToMetadata", () => {
  it("excludes reserved headers and keeps user-agent", () => {
    const md = headersToMetadata({
      ":status": "200",
      "content-type": "application/grpc",
      "grpc-status": "0",
      "grpc-message": "hi",
      "grpc-encoding": "identity",
      "user-agent": "grpc-go/1.60",
      "x-id": "7",
      absent: undefined,
    });
    assert.deepEqual(
      [...md],
      [
        ["user-agent", "grpc-go/1.60"],
        ["x-id", "7"],
      ],
    );
  });

  it("turns string[] into repeated pairs and decodes -bin values", () => {
    const md = headersToMetadata({
      "x-multi": ["a", "b"],
      "one-bin": "AQI",
      "padded-bin": "AQI=",
      "many-bin": ["AQ", "Ag=="],
    });
    assert.deepEqual(md.getAll("x-multi"), ["a", "b"]);
    assert.deepEqual(md.getAll("one-bin"), [new Uint8Array([1, 2])]);
    assert.deepEqual(md.getAll("padded-bin"), [new Uint8Array([1, 2])]);
    assert.deepEqual(md.getAll("many-bin"), [new Uint8Array([1]), new Uint8Array([2])]);
  });

  it("splits comma-joined -bin values, with or without spaces", () => {
    const md = headersToMetadata({ "x-bin": "AQ,Ag==, Aw ,\tBA", "e-bin": "" });
    assert.deepEqual(md.getAll("x-bin"), [new Uint8Array([1]), new Uint8Array([2]), new Uint8Array([3]), new Uint8Array([4])]);
    assert.deepEqual(md.getAll("e-bin"), [new Uint8Array(0)]);
  });

  it("keeps commas in non-binary values", () => {
    assert.deepEqual(headersToMetadata({ "x-list": "a, b,c" }).getAll("x-list"), ["a, b,c"]);
  });

  it("throws INTERNAL on invalid base64 in a -bin header", () => {
    for (const v of ["!!", "AQ,%%", "A", ["AQ", "A=="]]) {
      assert.throws(
        () => headersToMetadata({ "bad-bin": v }),
        (e: unknown) => e instanceof RpcError && e.code === Code.INTERNAL && e.rawMessage === 'grpc: invalid base64 in header "bad-bin"',
      );
    }
  });

  it("drops pairs that are not valid gRPC metadata, so echoing them back cannot fail", () => {
    const md = headersToMetadata({ "x~odd": "v", "x-tab": "a\tb", "x-latin": "caf\u00e9", "x-ok": "fine" });
    assert.deepEqual([...md], [["x-ok", "fine"]]);
    new Metadata().merge([...md]);
  });

  it("round-trips metadata through headers", () => {
    const keyArb = fc.stringMatching(/^[a-z0-9_.][a-z0-9_.-]{0,10}$/).filter((k) => !isReservedHeader(k) && !k.endsWith("-bin"));
    const pairArb = fc.oneof(
      fc.tuple(keyArb, fc.stringMatching(/^[\x20-\x7e]{0,20}$/)),
      fc.tuple(
        keyArb.map((k) => `${k}-bin`),
        fc.uint8Array({ maxLength: 20 }),
      ),
    );
    fc.assert(
      fc.property(fc.array(pairArb, { maxLength: 10 }), (pairs) => {
        const md = new Metadata(pairs);
        const headers: Record<string, string | string[]> = {};
        metadataToHeaders(md, headers);
        const back = headersToMetadata(headers);
        // Header objects group values by key; order within a key is kept.
        const keys = [...new Set(pairs.map(([k]) => k))];
        for (const k of keys) assert.deepEqual(back.getAll(k), md.getAll(k), k);
        assert.equal(back.size, md.size);
      }),
      { numRuns: 2_000 },
    );
  });
});
