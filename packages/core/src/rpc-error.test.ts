import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import { Code, RpcError, codeName, decodeStatusDetails, encodeStatusDetails, parseCode, toWireError } from "./index.js";

describe("RpcError", () => {
  it("carries code, raw message, metadata and a prefixed message", () => {
    const e = new RpcError(Code.NOT_FOUND, "gone", { metadata: { "x-a": "1" } });
    assert.equal(e.code, 5);
    assert.equal(e.rawMessage, "gone");
    assert.equal(e.message, "[not_found] gone");
    assert.equal(e.metadata.get("x-a"), "1");
  });

  it("from() passes RpcErrors through and maps aborts and timeouts", () => {
    const e = new RpcError(Code.ABORTED, "x");
    assert.equal(RpcError.from(e), e);
    const abort = new DOMException("stop", "AbortError");
    assert.equal(RpcError.from(abort).code, Code.CANCELLED);
    assert.equal(RpcError.from(new DOMException("late", "TimeoutError")).code, Code.DEADLINE_EXCEEDED);
    assert.equal(RpcError.from(new Error("boom")).code, Code.UNKNOWN);
    assert.equal(RpcError.from("str", Code.INTERNAL).code, Code.INTERNAL);
  });

  it("instanceof works through the Symbol.for brand (a second copy of the class)", () => {
    const foreign = Object.assign(Object.create(Error.prototype), { [Symbol.for("petrel.RpcError")]: true });
    assert.ok(foreign instanceof RpcError);
    assert.ok(!(new Error("x") instanceof RpcError));
  });

  it("toWireError hides non-RpcErrors behind INTERNAL", () => {
    const w = toWireError(new Error("db password is hunter2"));
    assert.equal(w.code, Code.INTERNAL);
    assert.ok(!w.message.includes("hunter2"));
  });

  it("typed details round trip through google.rpc.Status encoding", () => {
    const e = new RpcError(Code.UNAVAILABLE, "try later").addDetail(DurationSchema, { seconds: 3n });
    const blob = encodeStatusDetails(e.code, e.rawMessage, e.details);
    const back = decodeStatusDetails(blob);
    assert.equal(back.code, Code.UNAVAILABLE);
    assert.equal(back.message, "try later");
    const e2 = new RpcError(back.code as Code, back.message, { details: back.details });
    assert.equal(e2.findDetails(DurationSchema)[0]?.seconds, 3n);
  });

  it("code names parse both ways", () => {
    assert.equal(codeName(Code.DEADLINE_EXCEEDED), "DEADLINE_EXCEEDED");
    assert.equal(parseCode("unavailable"), Code.UNAVAILABLE);
    assert.equal(parseCode("16"), Code.UNAUTHENTICATED);
    assert.equal(parseCode("17"), undefined);
  });
});
