/** JSON-RPC targets: the byte-stream value splitter and the dispatcher's request handling. */
import { createRouter } from "@petrel/core";
import { JsonSplitError, JsonValueSplitter, createJsonRpcDispatcher } from "@petrel/protocol-jsonrpc";
import { TestService, createTestServiceImpl } from "@petrel/testing";
import type { Rng } from "./rng.js";
import { type FuzzTarget, type Mix, buildCorpus, check, forEachChunk, generateMixed, utf8Encoder, withControl } from "./target.js";

/** A random JSON-ish value, biased towards the shapes JSON-RPC requests have. */
function jsonValue(rng: Rng, depth: number): unknown {
  switch (rng.int(depth > 2 ? 5 : 8)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick([0, -1, 1.5, 2 ** 53, 1e308, rng.u32()]);
    case 3:
    case 4:
      return rng.text(rng.size(12), 'ab \\"\n\u00e9\u2028{}[]');
    case 5:
    case 6: {
      const o: Record<string, unknown> = {};
      for (let n = rng.int(4); n > 0; n--)
        o[rng.pick(["text", "payload", "seq", "failCode", "count", "x", "__proto__"])] = jsonValue(rng, depth + 1);
      return o;
    }
    default: {
      const a: unknown[] = [];
      for (let n = rng.int(4); n > 0; n--) a.push(jsonValue(rng, depth + 1));
      return a;
    }
  }
}

const METHODS = [
  "petrel.testing.v1.TestService/Echo",
  "TestService.Echo",
  "TestService.ServerStream",
  "TestService.Bidi",
  "Nope.Nope",
  "",
  "rpc.x",
  "TestService.",
];

function request(rng: Rng): Record<string, unknown> {
  const r: Record<string, unknown> = {};
  if (rng.chance(0.9)) r.jsonrpc = rng.chance(0.9) ? "2.0" : jsonValue(rng, 2);
  if (rng.chance(0.95)) r.method = rng.chance(0.9) ? rng.pick(METHODS) : jsonValue(rng, 2);
  if (rng.chance(0.8)) {
    r.params = rng.chance(0.7)
      ? {
          text: rng.text(rng.size(10), "hi é"),
          seq: rng.pick([1, "2", -3, 2 ** 60]),
          payload: rng.pick(["AAEC", "!", 3]),
          failCode: rng.int(20),
        }
      : jsonValue(rng, 1);
  }
  if (rng.chance(0.8)) r.id = rng.pick<unknown>([1, "a", null, 1.5, true, {}, rng.u32()]);
  return r;
}

function jsonText(rng: Rng): string {
  return JSON.stringify(rng.chance(0.2) ? Array.from({ length: rng.int(5) }, () => request(rng)) : request(rng));
}

function splitter(): FuzzTarget {
  // Control byte: bits 0-1 chunking, bits 2-7 the size limit (small values hit it).
  const structured = (rng: Rng): Uint8Array => {
    const parts: string[] = [];
    for (let n = rng.int(4); n > 0; n--) parts.push(jsonText(rng), rng.pick(["", "\n", " \t", "\r\n"]));
    return withControl(rng.u32(), utf8Encoder.encode(parts.join("")));
  };
  const mix: Mix = { corpus: [], structured };
  return {
    name: "jsonrpc-splitter",
    description:
      "JSON value splitter for JSON-RPC over TCP in any chunking; only JsonSplitError, every value a balanced {…}/[…] within the limit",
    setup(rng) {
      mix.corpus = buildCorpus(rng, 256, structured);
    },
    generate: (rng) => generateMixed(rng, mix),
    run(input) {
      if (input.length === 0) return;
      const control = input[0] as number;
      const max = control >>> 2 === 63 ? 1 << 20 : 4 * (control >>> 2);
      const s = new JsonValueSplitter(max);
      forEachChunk(input.subarray(1), control, (c) => {
        for (const v of s.push(c)) {
          check(v.length >= 2 && v.length <= max, `value of ${v.length} bytes (limit ${max})`);
          const first = v[0] as number;
          const last = v[v.length - 1] as number;
          check((first === 0x7b || first === 0x5b) && (last === 0x7d || last === 0x5d), "value not delimited by brackets");
        }
      });
    },
    expected: (e) => e instanceof JsonSplitError,
  };
}

function checkResponse(r: unknown, v1: boolean): void {
  check(r !== null && typeof r === "object" && !Array.isArray(r), () => `response is not an object: ${JSON.stringify(r)}`);
  const o = r as Record<string, unknown>;
  check("id" in o, "response without an id");
  check(o.id === null || typeof o.id === "string" || typeof o.id === "number", () => `id type: ${JSON.stringify(o.id)}`);
  if (v1 && o.jsonrpc === undefined) {
    check("result" in o && "error" in o, "1.0 response needs result and error");
    return;
  }
  check(o.jsonrpc === "2.0", "response without jsonrpc 2.0");
  check("result" in o !== "error" in o, "response needs exactly one of result and error");
  if ("error" in o) {
    const e = o.error as Record<string, unknown>;
    check(Number.isInteger(e.code) && typeof e.message === "string", () => `error object: ${JSON.stringify(e)}`);
  }
}

function dispatcher(): FuzzTarget {
  const router = createRouter().service(TestService, createTestServiceImpl());
  const strict = createJsonRpcDispatcher(router, { onHandlerError: () => {} });
  const auto = createJsonRpcDispatcher(router, { mode: "auto", onHandlerError: () => {} });
  const peer = { address: "fuzz", protocol: "jsonrpc/fuzz" };
  // Control byte: bit 0 picks the "auto" (1.0 + 2.0) dispatcher.
  const structured = (rng: Rng): Uint8Array => withControl(rng.u32(), utf8Encoder.encode(jsonText(rng)));
  const mix: Mix = { corpus: [], structured };
  return {
    name: "jsonrpc-dispatch",
    description: "JSON-RPC dispatcher.handle over TestService (async): never rejects, every answer a well-formed 2.0 (or 1.0) response",
    setup(rng) {
      mix.corpus = buildCorpus(rng, 256, structured);
    },
    generate: (rng) => generateMixed(rng, mix),
    async run(input) {
      if (input.length === 0) return;
      const v1 = ((input[0] as number) & 1) === 1;
      const out = await (v1 ? auto : strict).handle(input.subarray(1), { peer });
      if (out === undefined) return;
      const parsed: unknown = JSON.parse(out);
      if (Array.isArray(parsed)) {
        check(parsed.length > 0, "empty batch answer");
        for (const r of parsed) checkResponse(r, false);
      } else checkResponse(parsed, v1);
    },
    expected: () => false,
  };
}

export const jsonrpcTargets = [splitter, dispatcher];
