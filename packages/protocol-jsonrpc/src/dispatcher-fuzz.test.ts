// Fuzzing the JSON-RPC request parser and dispatcher: any body — random text, random JSON, and
// near-valid requests with random fields — gets a well-formed answer (or none, for notifications),
// never an exception, and never an answer that breaks the spec's response shape.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createRouter } from "@petrel/core";
import { createTestServiceImpl, TestService } from "@petrel/testing";
import fc from "fast-check";
import { createJsonRpcDispatcher } from "./dispatcher.js";

const peer = { address: "fuzz", protocol: "jsonrpc/test" };
const dispatcher = createJsonRpcDispatcher(createRouter().service(TestService, createTestServiceImpl()), { onHandlerError: () => {} });

/** Checks one response object against JSON-RPC 2.0 §5. */
function checkResponse(r: unknown): void {
  assert.ok(r !== null && typeof r === "object" && !Array.isArray(r), `response is an object: ${JSON.stringify(r)}`);
  const o = r as Record<string, unknown>;
  assert.equal(o.jsonrpc, "2.0");
  assert.ok("id" in o, "response has an id");
  assert.ok(o.id === null || typeof o.id === "string" || typeof o.id === "number", `id type: ${JSON.stringify(o.id)}`);
  assert.notEqual("result" in o, "error" in o, "exactly one of result and error");
  if ("error" in o) {
    const e = o.error as Record<string, unknown>;
    assert.ok(Number.isInteger(e.code), `integer error code: ${JSON.stringify(e)}`);
    assert.equal(typeof e.message, "string");
  }
}

async function answer(body: string): Promise<void> {
  const out = await dispatcher.handle(body, { peer });
  if (out === undefined) return;
  const parsed: unknown = JSON.parse(out);
  if (Array.isArray(parsed)) {
    assert.ok(parsed.length > 0, "a batch answer is never an empty array");
    for (const r of parsed) checkResponse(r);
  } else checkResponse(parsed);
}

const methods = fc.constantFrom(
  "petrel.testing.v1.TestService/Echo",
  "TestService.Echo",
  "TestService.ServerStream",
  "TestService.Fail",
  "Nope.Nope",
  "",
  "rpc.x",
);
const ids = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.constant(null), fc.boolean(), fc.object(), fc.constant(undefined));
const request = fc.record(
  {
    jsonrpc: fc.oneof(fc.constant("2.0"), fc.constant("1.0"), fc.jsonValue()),
    method: fc.oneof(methods, fc.jsonValue()),
    params: fc.oneof(fc.record({ text: fc.oneof(fc.string(), fc.jsonValue()), count: fc.jsonValue() }), fc.jsonValue()),
    id: ids,
  },
  { requiredKeys: [] },
);

describe("JSON-RPC dispatcher fuzz", () => {
  it("answers random text with a well-formed response", async () => {
    await fc.assert(fc.asyncProperty(fc.string({ maxLength: 200 }), answer), { numRuns: 2000 });
  });

  it("answers random JSON values with a well-formed response", async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 4 }), (v) => answer(JSON.stringify(v))),
      { numRuns: 2000 },
    );
  });

  it("answers near-valid requests and batches of them with well-formed responses", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(request, fc.array(request, { maxLength: 8 })), (v) => answer(JSON.stringify(v))),
      { numRuns: 3000 },
    );
  });
});
