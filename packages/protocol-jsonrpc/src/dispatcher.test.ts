import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { describe, it } from "node:test";
import { Code, createRouter, RpcError } from "@petrel/core";
import { createTestServiceImpl, EchoRequestSchema, type EchoResponseSchema, TestService } from "@petrel/testing";
import { createJsonRpcDispatcher, type JsonRpcDispatcherOptions } from "./dispatcher.js";
import { clientWire, decodeResponse, encodeRequest } from "./client-codec.js";
import { rpcErrorOf, rpcErrorOfString } from "./error-codes.js";

const peer = { address: "test", protocol: "jsonrpc/test" };
function setup(opts: JsonRpcDispatcherOptions = {}) {
  const errors: unknown[] = [];
  const router = createRouter().service(TestService, createTestServiceImpl());
  const d = createJsonRpcDispatcher(router, { onHandlerError: (e) => errors.push(e), ...opts });
  const call = async (body: unknown) => {
    const out = await d.handle(typeof body === "string" ? body : JSON.stringify(body), { peer });
    return out === undefined ? undefined : JSON.parse(out);
  };
  return { d, call, errors };
}
const echo = (params: unknown, id: unknown = 1, method = "petrel.testing.v1.TestService/Echo") => ({ jsonrpc: "2.0", method, params, id });

describe("JSON-RPC 2.0 dispatcher", () => {
  it("accepts every method spelling", async () => {
    const { call } = setup();
    for (const m of [
      "petrel.testing.v1.TestService/Echo",
      "/petrel.testing.v1.TestService/Echo",
      "petrel.testing.v1.TestService.Echo",
      "TestService.Echo",
      "TestService.echo",
    ]) {
      const r = await call(echo({ text: m }, 7, m));
      assert.equal(r.jsonrpc, "2.0");
      assert.equal(r.id, 7);
      assert.equal(r.result.text, m, m);
    }
  });

  it("takes params by name, as a one-element array, or absent; emits default values", async () => {
    const { call } = setup();
    assert.equal((await call(echo({ text: "a", seq: "5" }))).result.seq, "5");
    assert.equal((await call(echo([{ text: "b" }]))).result.text, "b");
    const none = await call({ jsonrpc: "2.0", method: "TestService.Echo", id: 1 });
    assert.deepEqual(none.result, { text: "", count: 0, payload: "", seq: "0", deadlineMs: "-1" });
  });

  it("rejects bad params with -32602 and a reason", async () => {
    const { call } = setup();
    for (const p of [{ nope: 1 }, { text: 5 }, [], [{}, {}], ["x"], { seq: "abc" }, { payload: "!!" }]) {
      const r = await call(echo(p));
      assert.equal(r.error?.code, -32602, JSON.stringify(p));
      assert.match(r.error.message, /invalid params/);
      assert.equal(r.id, 1);
    }
    // params that are neither array nor object: invalid request.
    for (const p of [5, "s", true, null]) assert.equal((await call(echo(p))).error.code, -32600);
  });

  it("answers ids of every type and rejects bad ids", async () => {
    const { call } = setup();
    for (const id of ["abc", "", 0, -3, 1.5, 2 ** 53 - 1, null]) {
      const r = await call(echo({ text: "x" }, id));
      assert.deepEqual(r.id, id);
      assert.equal(r.result.text, "x");
    }
    for (const id of [{}, [], true]) {
      const r = await call(echo({}, id));
      assert.equal(r.id, null);
      assert.equal(r.error.code, -32600);
    }
  });

  it("sends nothing for notifications, also failed ones", async () => {
    const { d } = setup();
    assert.equal(await d.handle(JSON.stringify({ jsonrpc: "2.0", method: "TestService.Echo", params: {} }), { peer }), undefined);
    assert.equal(await d.handle(JSON.stringify({ jsonrpc: "2.0", method: "Nope.Nope" }), { peer }), undefined);
    assert.equal(await d.handle(JSON.stringify([{ jsonrpc: "2.0", method: "TestService.Echo" }]), { peer }), undefined);
  });

  it("follows the spec for batches", async () => {
    const { call } = setup();
    const empty = await call([]);
    assert.deepEqual(empty, { jsonrpc: "2.0", error: { code: -32600, message: "invalid request: empty batch" }, id: null });
    assert.deepEqual(
      (await call([1, 2, 3])).map((r: { error: { code: number }; id: unknown }) => [r.error.code, r.id]),
      [
        [-32600, null],
        [-32600, null],
        [-32600, null],
      ],
    );
    const mixed = await call([
      echo({ text: "one" }, "1"),
      { jsonrpc: "2.0", method: "TestService.Echo", params: { text: "notify" } },
      { foo: "boo" },
      echo({}, "5", "foo.get"),
      echo({ text: "two" }, 2),
    ]);
    assert.equal(mixed.length, 4);
    const byId = new Map(mixed.map((r: { id: unknown }) => [r.id, r]));
    assert.equal((byId.get("1") as { result: { text: string } }).result.text, "one");
    assert.equal((byId.get(2) as { result: { text: string } }).result.text, "two");
    assert.equal((byId.get("5") as { error: { code: number } }).error.code, -32601);
    assert.equal((byId.get(null) as { error: { code: number } }).error.code, -32600);
    // A batch inside a batch entry is an invalid request, not a nested batch.
    assert.equal((await call([[echo({})]]))[0].error.code, -32600);
  });

  it("limits batch size", async () => {
    const { call } = setup({ maxBatchSize: 10 });
    const r = await call(Array.from({ length: 11 }, (_, i) => echo({}, i)));
    assert.equal(r.error.code, -32600);
    assert.match(r.error.message, /larger than 10/);
    assert.equal((await call(Array.from({ length: 10 }, (_, i) => echo({}, i)))).length, 10);
  });

  it("answers parse errors with id null, for text and invalid UTF-8", async () => {
    const { call, d } = setup();
    for (const body of ['{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]', "", "[1,", "nul"]) {
      const r = await call(body);
      assert.equal(r.error.code, -32700);
      assert.equal(r.id, null);
    }
    const bad = JSON.parse((await d.handle(new Uint8Array([0x7b, 0xff, 0x7d]), { peer })) as string);
    assert.equal(bad.error.code, -32700);
  });

  it("checks the envelope", async () => {
    const { call } = setup();
    assert.equal((await call({ method: "TestService.Echo", id: 1 })).error.code, -32600);
    assert.equal((await call({ jsonrpc: "1.0", method: "TestService.Echo", id: 1 })).error.code, -32600);
    assert.equal((await call({ jsonrpc: "2.0", method: 5, id: 1 })).error.code, -32600);
    assert.equal((await call({ jsonrpc: "2.0", method: "Unknown.Method", id: 1 })).error.code, -32601);
    const s = await call({ jsonrpc: "2.0", method: "TestService.ServerStream", params: {}, id: 1 });
    assert.equal(s.error.code, -32601);
    assert.match(s.error.message, /server-streaming/);
  });

  it("maps Petrel errors to documented codes with data, and back exactly", async () => {
    const { call } = setup();
    for (const code of [Code.CANCELLED, Code.NOT_FOUND, Code.INVALID_ARGUMENT, Code.UNIMPLEMENTED, Code.INTERNAL, Code.UNAUTHENTICATED]) {
      const r = await call(echo({ failCode: code, failMessage: `boom ${code}` }));
      const expected =
        code === Code.INVALID_ARGUMENT ? -32602 : code === Code.UNIMPLEMENTED ? -32601 : code === Code.INTERNAL ? -32603 : -32000 - code;
      assert.equal(r.error.code, expected);
      assert.equal(r.error.message, `boom ${code}`);
      assert.equal(r.error.data.code, code);
      assert.deepEqual(r.error.data.metadata, { "x-fail": "yes" });
      const back = rpcErrorOf(r.error);
      assert.equal(back.code, code);
      assert.equal(back.rawMessage, `boom ${code}`);
      assert.equal(back.metadata.get("x-fail"), "yes");
    }
  });

  it("never leaks a plain error's text", async () => {
    const { call, errors } = setup();
    const r = await call(echo({ text: "throw-plain-error" }));
    assert.equal(r.error.code, -32603);
    assert.equal(r.error.message, "internal error");
    assert.doesNotMatch(JSON.stringify(r), /secret/);
    assert.equal(errors.length, 1);
  });

  it("enforces a deadline and aborts the handler", async () => {
    const { d } = setup();
    const out = await d.handle(JSON.stringify({ jsonrpc: "2.0", method: "TestService.Sleep", params: { sleepMs: 60_000 }, id: 1 }), {
      peer,
      deadline: Date.now() + 50,
    });
    const r = JSON.parse(out as string);
    assert.equal(r.error.code, -32004);
    assert.equal(rpcErrorOf(r.error).code, Code.DEADLINE_EXCEEDED);
  });

  it("cancels handlers when the call signal fires", async () => {
    const ac = new AbortController();
    const { d } = setup();
    const p = d.handle(JSON.stringify({ jsonrpc: "2.0", method: "TestService.Sleep", params: { sleepMs: 60_000 }, id: 1 }), {
      peer,
      signal: ac.signal,
    });
    ac.abort();
    assert.equal(rpcErrorOf(JSON.parse((await p) as string).error).code, Code.CANCELLED);
  });
});

describe("JSON-RPC 1.0 (Go net/rpc) in auto mode", () => {
  it("answers {id,result,error} with params as a one-element array", async () => {
    const { call } = setup({ mode: "auto" });
    const r = await call({ method: "TestService.Echo", params: [{ text: "go" }], id: 0 });
    assert.deepEqual(Object.keys(r).sort(), ["error", "id", "result"]);
    assert.equal(r.error, null);
    assert.equal(r.result.text, "go");
  });

  it("sends errors as strings that carry the code", async () => {
    const { call } = setup({ mode: "auto" });
    const r = await call({ method: "TestService.Echo", params: [{ failCode: Code.NOT_FOUND, failMessage: "gone" }], id: 3 });
    assert.equal(r.result, null);
    assert.equal(r.error, "[not_found] gone");
    const back = rpcErrorOfString(r.error);
    assert.equal(back.code, Code.NOT_FOUND);
    assert.equal(back.rawMessage, "gone");
    const nf = await call({ method: "Arith.Nope", params: [{}], id: 4 });
    assert.equal(typeof nf.error, "string");
    assert.match(nf.error, /method not found/);
    // id null is a 1.0 notification.
    assert.equal(await call({ method: "TestService.Echo", params: [{}], id: null }), undefined);
  });

  it("still speaks 2.0 to 2.0 messages", async () => {
    const { call } = setup({ mode: "auto" });
    assert.equal((await call(echo({ text: "v2" }))).jsonrpc, "2.0");
  });
});

describe("client codec", () => {
  it("round-trips a call through the dispatcher", async () => {
    const { d } = setup({ mode: "auto" });
    const method = TestService.method.echo;
    for (const version of ["2.0", "1.0"] as const) {
      const wire = clientWire({ version });
      const req = encodeRequest(wire, method, create(EchoRequestSchema, { text: "hi", payload: new Uint8Array([1, 2]), seq: 9n }), 4);
      const res = JSON.parse((await d.handle(JSON.stringify(req), { peer })) as string);
      const msg = decodeResponse<typeof EchoResponseSchema>(wire, method, res);
      assert.equal(msg.text, "hi");
      assert.deepEqual(msg.payload, new Uint8Array([1, 2]));
      assert.equal(msg.seq, 9n);
      const bad = encodeRequest(wire, method, create(EchoRequestSchema, { failCode: Code.ABORTED, failMessage: "no" }), 5);
      const err = JSON.parse((await d.handle(JSON.stringify(bad), { peer })) as string);
      assert.throws(
        () => decodeResponse(wire, method, err),
        (e: unknown) => e instanceof RpcError && e.code === Code.ABORTED && e.rawMessage === "no",
      );
    }
  });

  it("maps foreign error codes", () => {
    assert.equal(rpcErrorOf({ code: -32601, message: "x" }).code, Code.UNIMPLEMENTED);
    assert.equal(rpcErrorOf({ code: -32602, message: "x" }).code, Code.INVALID_ARGUMENT);
    assert.equal(rpcErrorOf({ code: -32005, message: "x" }).code, Code.NOT_FOUND);
    const other = rpcErrorOf({ code: 42, message: "custom", data: { a: 1 } });
    assert.equal(other.code, Code.UNKNOWN);
    assert.equal(other.metadata.get("jsonrpc-error-data"), '{"a":1}');
    assert.equal(rpcErrorOfString("plain go error").code, Code.UNKNOWN);
  });
});
