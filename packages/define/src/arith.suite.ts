// Test-only (imports node:test): the behaviour suite every transport must pass for a
// defineService service. Used by define-service.test.ts (in-memory) and protocols.test.ts.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, createRouter, type Interceptor, RpcError, type Router, type Transport } from "@petrel/core";
import { Arith, arithHandlers } from "./arith.fixtures.js";
import { createTypedClient, type TypedClient } from "./typed-client.js";
import { badRequestSchema } from "./validate.js";

/** What a transport factory hands the suite. */
export interface SuiteTarget {
  transport: Transport;
  close(): Promise<void>;
}

async function rejects(p: Promise<unknown>, code: Code): Promise<RpcError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof RpcError, `expected RpcError, got ${String(e)}`);
    assert.equal(e.code, code, `code of ${e.message}`);
    return e;
  }
  assert.fail("call did not fail");
}

/** Registers the suite: `codecs` are the codec names to run every call with. */
export function describeTypedService(name: string, codecs: readonly string[], setup: (router: Router) => Promise<SuiteTarget>): void {
  for (const codec of codecs) {
    describe(`${name} (${codec} codec)`, () => {
      let target: SuiteTarget;
      let client: TypedClient<typeof Arith.methods>;
      // biome-ignore lint/suspicious/noExplicitAny: untyped access to send what the types forbid
      let raw: any;
      before(async () => {
        const router = createRouter().service(...Arith.implement(arithHandlers));
        target = await setup(router);
        const useCodec: Interceptor = (next) => (req) => {
          req.codec = codec;
          return next(req);
        };
        const options = { interceptors: [useCodec] };
        client = createTypedClient(Arith, target.transport, options);
        raw = client;
      });
      after(() => target.close());

      it("unary round trip with typed params and results", async () => {
        const product: number = await client.Multiply({ A: 7, B: 6 });
        assert.equal(product, 42);
        assert.deepEqual(await client.Divide({ A: 17, B: 5 }), { Quo: 3, Rem: 2 });
        assert.deepEqual(await client.Divide({ A: -17, B: 5 }), { Quo: -3, Rem: -2 });
        assert.deepEqual(await client.Strict({ name: "ada", tags: ["x", "y"] }), { greeting: "hello ada", tags: ["x", "y"] });
      });

      it("carries any JSON unchanged (nesting, unicode, __proto__ keys, null)", async () => {
        const v = JSON.parse('{"a":[1,2.5,-3e-7,true,false,null,"é😀",{"b":{}}],"__proto__":{"x":1},"":[]}');
        const got = (await client.Echo(v)) as Record<string, unknown>;
        assert.deepEqual(got, v);
        assert.ok(Object.hasOwn(got, "__proto__"));
        assert.equal(Object.getPrototypeOf(got), Object.prototype);
        assert.equal(await client.Echo(null), null);
        assert.equal(await client.Echo("s"), "s");
      });

      it("wrong type -> INVALID_ARGUMENT naming the path, with a BadRequest detail", async () => {
        const e = await rejects(raw.Multiply({ A: "7", B: 6.5 }), Code.INVALID_ARGUMENT);
        assert.match(e.rawMessage, /^invalid params for arith\.Arith\/Multiply: /);
        assert.match(e.rawMessage, /\/A: Expected integer/);
        assert.match(e.rawMessage, /\/B: Expected integer/);
        const [bad] = e.findDetails(badRequestSchema) as unknown as { fieldViolations: { field: string; description: string }[] }[];
        assert.ok(bad !== undefined, "BadRequest detail");
        assert.deepEqual(
          bad.fieldViolations.map((v) => v.field),
          ["A", "B"],
        );
        assert.equal(bad.fieldViolations[0]?.description, "Expected integer");
      });

      it("missing field -> INVALID_ARGUMENT", async () => {
        const e = await rejects(raw.Multiply({ A: 7 }), Code.INVALID_ARGUMENT);
        assert.match(e.rawMessage, /\/B: Expected required property/);
      });

      it("not an object at all -> INVALID_ARGUMENT at the root", async () => {
        const e = await rejects(raw.Multiply([7, 6]), Code.INVALID_ARGUMENT);
        assert.match(e.rawMessage, /\(root\): Expected object/);
        await rejects(raw.Multiply(null), Code.INVALID_ARGUMENT);
      });

      it("extra field where the schema forbids additionalProperties -> INVALID_ARGUMENT", async () => {
        const e = await rejects(raw.Strict({ name: "ada", admin: true }), Code.INVALID_ARGUMENT);
        assert.match(e.rawMessage, /\/admin: Unexpected property/);
        await rejects(raw.Strict({ name: "" }), Code.INVALID_ARGUMENT);
        await rejects(raw.Strict({ name: "ada", tags: ["ok", 3] }), Code.INVALID_ARGUMENT).then((err) =>
          assert.match(err.rawMessage, /\/tags\/1: Expected string/),
        );
        // Extra fields are fine where the schema allows them (TypeBox's default).
        assert.equal(await raw.Multiply({ A: 2, B: 3, C: 4 }), 6);
      });

      it("a handler's RpcError keeps its code, message and metadata", async () => {
        const e = await rejects(client.Divide({ A: 1, B: 0 }), Code.INVALID_ARGUMENT);
        assert.equal(e.rawMessage, "divide by zero");
        const f = await rejects(client.Fail({ how: "rpc" }), Code.FAILED_PRECONDITION);
        assert.equal(f.rawMessage, "not now");
        assert.equal(f.metadata.getString("x-why"), "because");
      });

      it("a plain Error -> INTERNAL without its text", async () => {
        const e = await rejects(client.Fail({ how: "plain" }), Code.INTERNAL);
        assert.doesNotMatch(e.message, /secret|password/);
      });

      it("a result that breaks its schema -> INTERNAL naming the path", async () => {
        const e = await rejects(client.Fail({ how: "bad-result" }), Code.INTERNAL);
        assert.match(e.rawMessage, /returned a result that does not match its schema: \(root\): /);
      });

      it("call options reach the server (headers)", async () => {
        assert.equal(await client.Header({}, { headers: { "x-token": "t1" } }), "t1");
        assert.equal(await client.Header({}), null);
      });

      it("server streaming", async () => {
        const got: number[] = [];
        for await (const n of client.Count({ to: 5 })) got.push(n);
        assert.deepEqual(got, [1, 2, 3, 4, 5]);
        const none: number[] = [];
        for await (const n of client.Count({ to: 0 })) none.push(n);
        assert.deepEqual(none, []);
      });

      it("server streaming with bad params fails the call", async () => {
        const e = await rejects(
          (async () => {
            for await (const _ of raw.Count({ to: -1 })) assert.fail("no message expected");
          })(),
          Code.INVALID_ARGUMENT,
        );
        assert.match(e.rawMessage, /\/to: Expected integer to be greater or equal to 0/);
      });
    });
  }
}
