import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import fc from "fast-check";
import { Code, RpcError, encodeStatusDetails } from "@petrel/core";
import { encodeBase64 } from "./base64.js";
import {
  codeFromHttpStatus,
  decodeGrpcMessage,
  encodeGrpcMessage,
  grpcContentType,
  parseGrpcContentType,
  readGrpcStatus,
  writeGrpcStatus,
} from "./status.js";

/** The message of gRPC's interop test "special_status_message". */
const SPECIAL = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n";

describe("encodeGrpcMessage / decodeGrpcMessage", () => {
  it("leaves printable ASCII alone", () => {
    assert.equal(encodeGrpcMessage("plain message: ~ok!"), "plain message: ~ok!");
    assert.equal(encodeGrpcMessage(""), "");
  });

  it("escapes %, controls and non-ASCII as upper-case %XX of the UTF-8 bytes", () => {
    assert.equal(encodeGrpcMessage("100%"), "100%25");
    assert.equal(encodeGrpcMessage("a\tb\x7f"), "a%09b%7F");
    assert.equal(encodeGrpcMessage("é"), "%C3%A9");
    assert.equal(encodeGrpcMessage(SPECIAL), "%09%0Atest with whitespace%0D%0Aand Unicode BMP %E2%98%BA and non-BMP %F0%9F%98%88%09%0A");
  });

  it("round-trips the interop special status message", () => {
    assert.equal(decodeGrpcMessage(encodeGrpcMessage(SPECIAL)), SPECIAL);
  });

  it("round-trips random Unicode", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 60 }), (s) => {
        const wire = encodeGrpcMessage(s);
        assert.match(wire, /^[\x20-\x7e]*$/);
        assert.equal(decodeGrpcMessage(wire), s);
      }),
      { numRuns: 5_000 },
    );
  });

  it("accepts lower-case hex", () => {
    assert.equal(decodeGrpcMessage("%c3%a9 %e2%98%ba"), "é ☺");
  });

  it("keeps invalid or truncated escapes literally", () => {
    assert.equal(decodeGrpcMessage("100%"), "100%");
    assert.equal(decodeGrpcMessage("%4"), "%4");
    assert.equal(decodeGrpcMessage("%zz ok %41"), "%zz ok A");
    assert.equal(decodeGrpcMessage("%%41"), "%A");
    assert.equal(decodeGrpcMessage("50%25 done %"), "50% done %");
  });

  it("returns the raw value when the decoded bytes are not UTF-8", () => {
    assert.equal(decodeGrpcMessage("bad %FF byte"), "bad %FF byte");
    assert.equal(decodeGrpcMessage("%E2%98"), "%E2%98");
  });

  it("never throws", () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom("%", "A", "f", "9", "z", "é", "😈", " ", "F", "0") }), (s) => {
        assert.equal(typeof decodeGrpcMessage(s), "string");
      }),
      { numRuns: 5_000 },
    );
  });
});

describe("codeFromHttpStatus", () => {
  it("follows http-grpc-status-mapping.md", () => {
    const table: Array<[number, Code]> = [
      [400, Code.INTERNAL],
      [401, Code.UNAUTHENTICATED],
      [403, Code.PERMISSION_DENIED],
      [404, Code.UNIMPLEMENTED],
      [429, Code.UNAVAILABLE],
      [502, Code.UNAVAILABLE],
      [503, Code.UNAVAILABLE],
      [504, Code.UNAVAILABLE],
      [200, Code.UNKNOWN],
      [405, Code.UNKNOWN],
      [500, Code.UNKNOWN],
      [0, Code.UNKNOWN],
    ];
    for (const [status, code] of table) assert.equal(codeFromHttpStatus(status), code, String(status));
  });
});

describe("content types", () => {
  it("parses gRPC content types", () => {
    const cases: Array<[string | undefined, string | undefined]> = [
      ["application/grpc", "proto"],
      ["application/grpc+proto", "proto"],
      ["application/grpc+json", "json"],
      ["application/grpc+thrift", "thrift"],
      ["Application/GRPC+JSON", "json"],
      ["application/grpc; charset=utf-8", "proto"],
      ["application/grpc+json;x=y", "json"],
      [" application/grpc ", "proto"],
      ["application/grpc-web", undefined],
      ["application/grpc-web+proto", undefined],
      ["application/grpc-web-text", undefined],
      ["application/grpcx", undefined],
      ["application/grpc+", undefined],
      ["application/json", undefined],
      ["text/plain", undefined],
      ["", undefined],
      [undefined, undefined],
    ];
    for (const [ct, codec] of cases) {
      assert.deepEqual(parseGrpcContentType(ct), codec === undefined ? undefined : { codec }, String(ct));
    }
  });

  it("formats content types, proto as plain application/grpc", () => {
    assert.equal(grpcContentType("proto"), "application/grpc");
    assert.equal(grpcContentType("json"), "application/grpc+json");
    for (const c of ["proto", "json", "custom"]) assert.deepEqual(parseGrpcContentType(grpcContentType(c)), { codec: c });
  });
});

describe("writeGrpcStatus / readGrpcStatus", () => {
  it("writes OK minimally", () => {
    const out: Record<string, string | string[]> = {};
    writeGrpcStatus(Code.OK, "", [], out);
    assert.deepEqual(out, { "grpc-status": "0" });
    assert.deepEqual(readGrpcStatus(out), { code: Code.OK, message: "", details: [], metadata: readGrpcStatus(out)?.metadata });
    assert.equal(readGrpcStatus(out)?.metadata.size, 0);
  });

  it("round-trips code, message, details and metadata", () => {
    const err = new RpcError(Code.RESOURCE_EXHAUSTED, SPECIAL)
      .addDetail(DurationSchema, { seconds: 3n, nanos: 5 })
      .addDetail(DurationSchema, { seconds: 0n, nanos: 1 });
    const out: Record<string, string | string[]> = { "x-trailer": "t", "trace-bin": "AQID" };
    writeGrpcStatus(err.code, err.rawMessage, err.details, out);
    assert.equal(out["grpc-status"], "8");
    assert.equal(out["grpc-message"], encodeGrpcMessage(SPECIAL));
    assert.ok(!(out["grpc-status-details-bin"] as string).endsWith("="));
    const st = readGrpcStatus(out);
    assert.ok(st !== undefined);
    assert.equal(st.code, Code.RESOURCE_EXHAUSTED);
    assert.equal(st.message, SPECIAL);
    assert.deepEqual(st.details, err.details);
    const back = new RpcError(st.code, st.message, { details: st.details, metadata: st.metadata });
    assert.deepEqual(
      back.findDetails(DurationSchema).map((d) => [d.seconds, d.nanos]),
      [
        [3n, 5],
        [0n, 1],
      ],
    );
    assert.deepEqual(
      [...st.metadata],
      [
        ["x-trailer", "t"],
        ["trace-bin", new Uint8Array([1, 2, 3])],
      ],
    );
  });

  it("returns undefined without grpc-status", () => {
    assert.equal(readGrpcStatus({ "grpc-message": "x", "x-a": "b" }), undefined);
  });

  it("maps an invalid grpc-status to UNKNOWN, saying so", () => {
    for (const raw of ["17", "-1", "abc", "1.5", "", " ", "99999"]) {
      const st = readGrpcStatus({ "grpc-status": raw, "grpc-message": "boom" });
      assert.equal(st?.code, Code.UNKNOWN, raw);
      assert.match(st?.message ?? "", /invalid grpc-status.*: boom$/);
    }
    assert.equal(readGrpcStatus({ "grpc-status": "x" })?.message, 'grpc: invalid grpc-status "x"');
  });

  it("accepts every valid code, and a repeated header's first value", () => {
    for (let c = 0; c <= 16; c++) assert.equal(readGrpcStatus({ "grpc-status": String(c) })?.code, c);
    assert.equal(readGrpcStatus({ "grpc-status": ["5", "6"] })?.code, Code.NOT_FOUND);
  });

  it("ignores undecodable details", () => {
    for (const bad of ["!!!", encodeBase64(new Uint8Array([0x0a, 0x05, 1]))]) {
      const st = readGrpcStatus({ "grpc-status": "3", "grpc-message": "m", "grpc-status-details-bin": bad });
      assert.deepEqual(st?.details, []);
      assert.equal(st?.code, Code.INVALID_ARGUMENT);
      assert.equal(st?.message, "m");
    }
  });

  it("lets grpc-status win over the details blob's code", () => {
    const details = [{ typeName: "google.protobuf.Duration", value: new Uint8Array([8, 1]) }];
    const blob = encodeBase64(encodeStatusDetails(Code.NOT_FOUND, "from blob", details));
    const st = readGrpcStatus({ "grpc-status": String(Code.ABORTED), "grpc-status-details-bin": blob });
    assert.equal(st?.code, Code.ABORTED);
    assert.equal(st?.message, "");
    assert.deepEqual(st?.details, details);
  });

  it("takes the blob's message when grpc-message is absent and the codes agree", () => {
    const blob = encodeBase64(encodeStatusDetails(Code.NOT_FOUND, "from blob", []), true);
    const st = readGrpcStatus({ "grpc-status": "5", "grpc-status-details-bin": blob });
    assert.equal(st?.message, "from blob");
  });

  it("omits grpc-message when empty and details when none", () => {
    const out: Record<string, string | string[]> = {};
    writeGrpcStatus(Code.INTERNAL, "", [], out);
    assert.deepEqual(out, { "grpc-status": "13" });
  });

  it("throws INTERNAL for invalid base64 in a custom -bin trailer", () => {
    assert.throws(
      () => readGrpcStatus({ "grpc-status": "0", "x-bin": "%%" }),
      (e: unknown) => e instanceof RpcError && e.code === Code.INTERNAL,
    );
  });
});
