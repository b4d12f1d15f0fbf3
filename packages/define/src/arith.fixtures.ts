// The Arith service of Go's net/rpc documentation, defined TypeScript-first; shared by the tests.
import { Code, type HandlerContext, RpcError } from "@petrel/core";
import { Type } from "@sinclair/typebox";
import { defineService, type ServiceHandlers } from "./define-service.js";

const Args = Type.Object({ A: Type.Integer(), B: Type.Integer() });

/** @internal test fixture */
export const Arith = defineService("arith.Arith", {
  Multiply: { params: Args, result: Type.Integer(), description: "A * B", idempotent: true },
  Divide: { params: Args, result: Type.Object({ Quo: Type.Integer(), Rem: Type.Integer() }) },
  // additionalProperties: false makes unknown fields an error.
  Strict: {
    params: Type.Object(
      { name: Type.String({ minLength: 1 }), tags: Type.Optional(Type.Array(Type.String())) },
      { additionalProperties: false },
    ),
    result: Type.Object({ greeting: Type.String(), tags: Type.Array(Type.String()) }),
  },
  Count: { params: Type.Object({ to: Type.Integer({ minimum: 0, maximum: 1000 }) }), result: Type.Integer(), stream: "server" },
  Echo: { params: Type.Unknown(), result: Type.Unknown() },
  Fail: {
    params: Type.Object({ how: Type.Union([Type.Literal("rpc"), Type.Literal("plain"), Type.Literal("bad-result")]) }),
    result: Type.Null(),
  },
  Header: { params: Type.Object({}), result: Type.Union([Type.String(), Type.Null()]) },
});

/** @internal test fixture */
export const arithHandlers: ServiceHandlers<typeof Arith.methods> = {
  Multiply: ({ A, B }) => A * B,
  Divide: async ({ A, B }) => {
    if (B === 0) throw new RpcError(Code.INVALID_ARGUMENT, "divide by zero");
    return { Quo: Math.trunc(A / B), Rem: A % B };
  },
  Strict: ({ name, tags }) => ({ greeting: `hello ${name}`, tags: tags ?? [] }),
  async *Count({ to }, ctx: HandlerContext) {
    for (let i = 1; i <= to; i++) {
      if (ctx.signal.aborted) return;
      yield i;
    }
  },
  Echo: (v) => v,
  Fail: ({ how }) => {
    if (how === "rpc") throw new RpcError(Code.FAILED_PRECONDITION, "not now", { metadata: { "x-why": "because" } });
    if (how === "plain") throw new Error("secret database password in this text");
    return "not null" as unknown as null;
  },
  Header: (_params, ctx) => ctx.requestHeader.getString("x-token") ?? null,
};
