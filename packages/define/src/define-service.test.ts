import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, createClient, createInMemoryTransport, createRouter, protoJsonCodec, RpcError } from "@petrel/core";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { Type } from "@sinclair/typebox";
import { Arith, arithHandlers } from "./arith.fixtures.js";
import { describeTypedService } from "./arith.suite.js";
import { createTypedClient, defineService, jsonToValue, toJsonSchema, valueToJson } from "./index.js";

describeTypedService("defineService over the in-memory transport", ["proto", "json"], async (router) => ({
  transport: createInMemoryTransport(router),
  close: async () => {},
}));

describe("defineService descriptor", () => {
  it("builds a protobuf service of google.protobuf.Value methods", () => {
    const d = Arith.desc;
    assert.equal(d.typeName, "arith.Arith");
    assert.equal(d.name, "Arith");
    assert.equal(d.file.proto.package, "arith");
    const m = d.methods.find((x) => x.name === "Multiply");
    assert.ok(m);
    assert.equal(m.localName, "multiply");
    assert.equal(m.methodKind, "unary");
    assert.equal(m.input.typeName, "google.protobuf.Value");
    assert.equal(m.output.typeName, "google.protobuf.Value");
    assert.equal(m.idempotency, 1 /* NO_SIDE_EFFECTS */);
    assert.equal(Arith.descMethods.Count.methodKind, "server_streaming");
    assert.equal(Arith.file, d.file);
  });

  it("a package-less name works (Go net/rpc style)", async () => {
    const S = defineService("Greeter", { Hello: { params: Type.String(), result: Type.String() } });
    assert.equal(S.desc.typeName, "Greeter");
    const router = createRouter().service(...S.implement({ Hello: (name) => `hi ${name}` }));
    assert.equal(await createTypedClient(S, createInMemoryTransport(router)).Hello("bo"), "hi bo");
  });

  it("on the JSON codec the wire body is the plain JSON of the params and result", () => {
    const body = new TextDecoder().decode(protoJsonCodec.encode(ValueSchema, jsonToValue({ A: 7, B: 6 })));
    assert.equal(body, '{"A":7,"B":6}');
    const back = protoJsonCodec.decode(ValueSchema, new TextEncoder().encode("42"));
    assert.equal(valueToJson(back as never), 42);
  });

  it("core's untyped client can call it with Value messages", async () => {
    const router = createRouter().service(...Arith.implement(arithHandlers));
    const core = createClient(Arith.desc, createInMemoryTransport(router)) as unknown as Record<string, (v: unknown) => Promise<never>>;
    assert.equal(valueToJson((await core.multiply?.(jsonToValue({ A: 3, B: 4 }))) as never), 12);
  });

  it("rejects bad names and non-JSON schemas at definition time", () => {
    const ok = { params: Type.Null(), result: Type.Null() };
    assert.throws(() => defineService("bad name", { M: ok }), /invalid service name/);
    assert.throws(() => defineService("a..b", { M: ok }), /invalid service name/);
    assert.throws(() => defineService("a.S", { "M-1": ok }), /invalid method name "M-1"/);
    assert.throws(() => defineService("a.S", { Foo: ok, foo: ok }), /differ only in the first letter/);
    assert.throws(() => defineService("a.S", { ["__proto__"]: ok }), /invalid method name "__proto__"/);
    assert.throws(
      () => defineService("a.S", { M: { params: Type.Object({ at: Type.Date() }), result: Type.Null() } }),
      /M params\/properties\/at: TypeBox Date has no JSON form/,
    );
    assert.throws(() => defineService("a.S", { M: { params: Type.Null(), result: Type.Void() } }), /Type\.Null\(\)/);
    assert.throws(() => defineService("a.S", { M: { params: { type: "string" } as never, result: Type.Null() } }), /not a TypeBox schema/);
    assert.throws(() => defineService("a.S", { M: { ...ok, stream: "bidi" as never } }), /stream must be "server"/);
  });

  it("implement() refuses a missing handler", () => {
    assert.throws(() => Arith.implement({ ...arithHandlers, Divide: undefined as never }), /method Divide is not implemented/);
  });

  it("validateResults: false skips the result check", async () => {
    const router = createRouter().service(...Arith.implement(arithHandlers, { validateResults: false }));
    const client = createTypedClient(Arith, createInMemoryTransport(router));
    assert.equal(await client.Fail({ how: "bad-result" }), "not null");
  });

  it("a non-JSON result (NaN) -> INTERNAL, never a crash", async () => {
    const S = defineService("x.S", { M: { params: Type.Null(), result: Type.Unknown() } });
    const router = createRouter().service(...S.implement({ M: () => Number.NaN }));
    const client = createTypedClient(S, createInMemoryTransport(router));
    await assert.rejects(
      client.M(null),
      (e: unknown) => e instanceof RpcError && e.code === Code.INTERNAL && /NaN is not a JSON number/.test(e.rawMessage),
    );
  });

  it("client option validate: params fail locally, results are checked", async () => {
    let calls = 0;
    const router = createRouter().service(
      ...Arith.implement(
        {
          ...arithHandlers,
          Multiply: (p, ctx) => {
            calls++;
            return arithHandlers.Multiply(p, ctx);
          },
        },
        { validateResults: false },
      ),
    );
    const client = createTypedClient(Arith, createInMemoryTransport(router), { validate: true });
    await assert.rejects(client.Multiply({ A: 1.5, B: 2 }), (e: unknown) => e instanceof RpcError && e.code === Code.INVALID_ARGUMENT);
    assert.equal(calls, 0);
    assert.equal(await client.Multiply({ A: 2, B: 2 }), 4);
    await assert.rejects(client.Fail({ how: "bad-result" }), (e: unknown) => e instanceof RpcError && e.code === Code.INTERNAL);
    // Non-JSON params are refused before sending, validated or not.
    const loose = createTypedClient(Arith, createInMemoryTransport(router));
    await assert.rejects(
      loose.Echo({ n: 1n }),
      (e: unknown) => e instanceof RpcError && e.code === Code.INVALID_ARGUMENT && /\/n: bigint is not JSON/.test(e.rawMessage),
    );
  });

  it("toJsonSchema gives plain JSON Schema per method", () => {
    const doc = toJsonSchema(Arith);
    assert.equal(doc.service, "arith.Arith");
    const m = doc.methods.Multiply;
    assert.ok(m);
    assert.equal(m.path, "/arith.Arith/Multiply");
    assert.equal(m.kind, "unary");
    assert.equal(m.description, "A * B");
    assert.equal(m.idempotent, true);
    assert.deepEqual(m.params, {
      type: "object",
      properties: { A: { type: "integer" }, B: { type: "integer" } },
      required: ["A", "B"],
    });
    assert.deepEqual(doc.methods.Strict?.params.additionalProperties, false);
    assert.equal(doc.methods.Count?.kind, "server_streaming");
    assert.equal(Object.getOwnPropertySymbols(m.params).length, 0);
    // The schemas on the definition are the TypeBox objects themselves.
    assert.equal(Arith.methods.Multiply.result.type, "integer");
  });
});

// Type-level tests: checked by `npx tsc -p tsconfig.json`, never executed.
export function typeTests(client: ReturnType<typeof createTypedClient<typeof Arith.methods>>): void {
  // @ts-expect-error A must be a number
  void client.Multiply({ A: "7", B: 6 });
  // @ts-expect-error B is required
  void client.Multiply({ A: 7 });
  // @ts-expect-error no such method
  void client.Subtract({ A: 1, B: 2 });
  const q: Promise<{ Quo: number; Rem: number }> = client.Divide({ A: 1, B: 2 });
  // @ts-expect-error the result is a number, not a string
  const s: Promise<string> = client.Multiply({ A: 1, B: 2 });
  const it: AsyncIterable<number> = client.Count({ to: 3 });
  void q;
  void s;
  void it;
  Arith.implement({
    ...arithHandlers,
    // @ts-expect-error the handler must return a number
    Multiply: ({ A, B }) => `${A * B}`,
  });
  Arith.implement({
    ...arithHandlers,
    // @ts-expect-error a streaming handler must return an AsyncIterable
    Count: ({ to }) => to,
  });
}
