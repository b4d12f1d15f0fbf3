/** Other parsers that take peer input: REST path templates, the gob decoder, one-port protocol detection. */
import { matchPathTemplate, parsePathTemplate, TemplateError } from "../../packages/gateway/src/path-template.ts";
import { detectProtocol } from "../../packages/node/src/server.ts";
import { GobDecoder, GobEncoder, type GobType, GobTypes, isGobError } from "@petrel/protocol-gob";
import type { Rng } from "./rng.js";
import {
  type FuzzTarget,
  type Mix,
  buildCorpus,
  check,
  forEachChunk,
  generateMixed,
  utf8Encoder,
  utf8Lossy,
  withControl,
} from "./target.js";

const SEG = "abcxyz09-._~%!$&'()+,;@";

function pathTemplates(): FuzzTarget {
  /** A template and a path built to (mostly) match it, joined by NUL. */
  const structured = (rng: Rng): Uint8Array => {
    const tpl: string[] = [];
    const path: string[] = [];
    let rest = false;
    for (let n = 1 + rng.int(5); n > 0; n--) {
      const r = rng.int(6);
      const lit = rng.text(1 + rng.int(6), SEG.replace("%", ""));
      if (r <= 1) {
        tpl.push(lit);
        path.push(lit);
      } else if (r === 2) {
        tpl.push("*");
        path.push(lit);
      } else if (r === 3 && !rest) {
        rest = true;
        tpl.push("**");
        for (let k = rng.int(3); k > 0; k--) path.push(lit);
      } else {
        const field = `${rng.pick(["name", "book", "shelf_id"])}${rng.chance(0.2) ? ".sub" : ""}${tpl.length}`;
        if (rng.chance(0.5) || rest) {
          tpl.push(`{${field}}`);
          path.push(rng.chance(0.2) ? encodeURIComponent(`${lit}/é`) : lit);
        } else {
          rest = true;
          tpl.push(`{${field}=${rng.pick(["**", "a/*/**", "*"])}}`);
          path.push(lit, rng.pick(["a", "b%2Fc", "%zz"]));
        }
      }
    }
    const verb = rng.chance(0.2) ? `:${rng.pick(["move", "get", "x"])}` : "";
    return utf8Encoder.encode(`/${tpl.join("/")}${verb}\0/${path.join("/")}${verb}`);
  };
  const mix: Mix = { corpus: [], structured };
  return {
    name: "rest-path-template",
    description:
      "REST path templates: parsePathTemplate only throws TemplateError; matchPathTemplate never throws and binds exactly the template's variables",
    setup(rng) {
      mix.corpus = buildCorpus(rng, 256, structured);
    },
    generate: (rng) => generateMixed(rng, mix),
    run(input) {
      const nul = input.indexOf(0);
      const source = utf8Lossy.decode(nul < 0 ? input : input.subarray(0, nul));
      const path = nul < 0 ? "/" : utf8Lossy.decode(input.subarray(nul + 1));
      const tpl = parsePathTemplate(source);
      check(tpl.segments.length > 0 || tpl.variables.length === 0, "variables without segments");
      let r: ReturnType<typeof matchPathTemplate>;
      try {
        r = matchPathTemplate(tpl, path);
      } catch (e) {
        throw new Error(`matchPathTemplate threw: ${String(e)}`);
      }
      check(r.t === "match" || r.t === "nomatch" || r.t === "badescape", "unknown match result");
      if (r.t === "match") {
        check(r.bindings.size === tpl.variables.length, `bound ${r.bindings.size} of ${tpl.variables.length} variables`);
        for (const v of tpl.variables) check(r.bindings.has(v.fieldPath.join(".")), "variable not bound");
      }
    },
    expected: (e) => e instanceof TemplateError,
  };
}

const POINT: GobType = {
  kind: "struct",
  name: "Point",
  fields: [
    { name: "X", type: GobTypes.int },
    { name: "Y", type: GobTypes.float },
    { name: "Label", type: GobTypes.string },
  ],
};
const GOB_TYPES: GobType[] = [
  GobTypes.int,
  GobTypes.string,
  GobTypes.bytes,
  POINT,
  { kind: "slice", elem: POINT },
  { kind: "map", key: GobTypes.string, elem: GobTypes.uint },
  { kind: "array", len: 3, elem: GobTypes.bool },
  {
    kind: "struct",
    name: "Request",
    fields: [
      { name: "ServiceMethod", type: GobTypes.string },
      { name: "Seq", type: GobTypes.uint },
      { name: "Pts", type: { kind: "slice", elem: POINT } },
      { name: "C", type: GobTypes.complex },
    ],
  },
];

function gobValue(rng: Rng, t: GobType): unknown {
  switch (t.kind) {
    case "int":
      return rng.chance(0.2) ? -(2n ** 62n) : rng.u32() - 2 ** 31;
    case "uint":
      return rng.chance(0.2) ? 2n ** 63n : rng.u32();
    case "float":
      return rng.pick([0, 1.5, -1e300, Number.NaN, rng.u32() / 7]);
    case "bool":
      return rng.chance(0.5);
    case "string":
      return rng.text(rng.size(12), "abcé.");
    case "bytes":
      return rng.bytes(rng.size(16));
    case "complex":
      return { real: rng.u32(), imag: -1.5 };
    case "slice":
      return Array.from({ length: rng.int(4) }, () => gobValue(rng, t.elem));
    case "array":
      return Array.from({ length: t.len }, () => gobValue(rng, t.elem));
    case "map":
      return new Map(Array.from({ length: rng.int(4) }, () => [gobValue(rng, t.key), gobValue(rng, t.elem)]));
    case "struct": {
      const o: Record<string, unknown> = {};
      for (const f of t.fields) if (rng.chance(0.8)) o[f.name] = gobValue(rng, f.type);
      return o;
    }
  }
}

function gob(): FuzzTarget {
  // Control byte: chunking plan. The body: 1..4 values from one encoder (type definitions first).
  const structured = (rng: Rng): Uint8Array => {
    const enc = new GobEncoder();
    const parts: Uint8Array[] = [];
    for (let n = 1 + rng.int(4); n > 0; n--) {
      const t = rng.pick(GOB_TYPES);
      parts.push(enc.encode(t, gobValue(rng, t)));
    }
    return withControl(rng.u32(), Buffer.concat(parts));
  };
  const mix: Mix = { corpus: [], structured };
  return {
    name: "gob-decoder",
    description: "Go gob stream decoder (net/rpc) in any chunking, with small limits; only GobError, never an internal failure",
    setup(rng) {
      mix.corpus = buildCorpus(rng, 256, structured);
    },
    generate: (rng) => generateMixed(rng, mix),
    run(input) {
      if (input.length === 0) return;
      const d = new GobDecoder({ maxMessageBytes: 64 * 1024, maxDepth: 20, maxTypes: 50 });
      try {
        forEachChunk(input.subarray(1), input[0] as number, (c) => {
          for (const m of d.push(c)) check(typeof m.typeId === "number" && typeof m.typeName === "string", "message shape");
        });
      } catch (e) {
        // push() wraps any non-GobError bug as "internal decoder failure": that is a crash, not a rejection.
        if (isGobError(e) && e.message.includes("internal decoder failure")) throw new Error(e.message);
        throw e;
      }
    },
    expected: (e) => isGobError(e),
  };
}

const DETECTED = new Set(["tls", "gob", "json", "native", "h2", "http1", "more", undefined]);

function detect(): FuzzTarget {
  const structured = (rng: Rng): Uint8Array => {
    const heads = [
      "PETREL\x01\x00",
      "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
      "GET / HTTP/1.1\r\n",
      "POST ",
      '{"id":1}',
      "[",
      "\x16\x03\x01",
      "\x2d\xff\x81",
    ];
    return Buffer.from(rng.pick(heads).slice(0, 1 + rng.int(30)) + rng.text(rng.int(4), "AZ {"), "latin1");
  };
  const mix: Mix = { corpus: [], structured, maxRandom: 40 };
  return {
    name: "detect-protocol",
    description: "one-port protocol sniffing (detectProtocol): never throws, and a decision on a prefix never changes as more bytes arrive",
    setup(rng) {
      mix.corpus = buildCorpus(rng, 128, structured);
    },
    generate: (rng) => generateMixed(rng, mix),
    run(input) {
      let decided: string | undefined | null = null;
      for (let k = 0; k <= input.length; k++) {
        const r = detectProtocol(input.subarray(0, k));
        check(DETECTED.has(r), `unknown result ${String(r)}`);
        if (decided !== null) check(r === decided, () => `decided ${String(decided)} on a prefix, then ${String(r)} at ${k} bytes`);
        else if (r !== "more") decided = r;
      }
    },
    expected: () => false,
  };
}

export const miscTargets = [pathTemplates, gob, detect];
