// Round trip of Petrel's protobuf codec with Python's protobuf (Debian python3-protobuf, upb/C++
// underneath) on the codec-benchmark messages (maps, repeated messages, packed ints, int64,
// bytes, enums): bytes Petrel encodes are parsed by Python and checked field by field (Python's
// JSON form against protobuf-es'), and bytes Python encodes from the same JSON are decoded by
// Petrel into a message equal to the original. The Python module comes from `protoc --python_out`
// at test time, into a temp dir.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { equals, toJson } from "@bufbuild/protobuf";
import { protoBinaryCodec } from "@petrel/core";
import { makeOrder, messageCases } from "./messages.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
/** Debian's interpreter: the python3 first on PATH may be another build that cannot see Debian's packages. */
const PYTHON = "/usr/bin/python3";
const PROTOC = "/usr/bin/protoc";
const INSTALL = "apt-get install -y python3-protobuf protobuf-compiler";

// Reads [{type, hex, json}] on stdin. For each: parse `hex` (Petrel's bytes), print its JSON form;
// build the message from `json` with ParseDict and print its serialization.
const PY_SCRIPT = `
import json, sys
from google.protobuf import json_format
import codecs_pb2
out = []
for case in json.load(sys.stdin):
    cls = getattr(codecs_pb2, case["type"])
    parsed = cls()
    parsed.ParseFromString(bytes.fromhex(case["hex"]))
    built = json_format.ParseDict(case["json"], cls())
    out.append({
        "parsed": json_format.MessageToDict(parsed),
        "reencoded": parsed.SerializeToString().hex(),
        "built": built.SerializeToString(deterministic=True).hex(),
    })
json.dump(out, sys.stdout)
`;

function peerMissing(): string | undefined {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  if (!existsSync(PROTOC)) return `${PROTOC} not found`;
  const r = spawnSync(PYTHON, ["-B", "-c", "import google.protobuf"], { encoding: "utf8", timeout: 60_000 });
  if (r.status !== 0) return `python3-protobuf missing: ${(r.stderr || String(r.error ?? "")).trim().split("\n").at(-1)}`;
  return undefined;
}
const missing = peerMissing();

/** In CI a missing peer fails the test; elsewhere the test is skipped, loudly. */
function requirePython(t: TestContext): boolean {
  if (missing === undefined) return true;
  const msg = `Python protobuf round trip: ${missing} — ${INSTALL}`;
  if (process.env.CI) assert.fail(msg);
  console.error(`SKIPPED ${msg}`);
  t.skip(msg);
  return false;
}

interface PyResult {
  parsed: unknown;
  reencoded: string;
  built: string;
}

describe("Petrel protobuf codec <-> Python protobuf", () => {
  let dir = "";
  before(() => {
    if (missing !== undefined) return;
    dir = mkdtempSync(join(tmpdir(), "petrel-pyproto-"));
    const r = spawnSync(PROTOC, [`--python_out=${dir}`, `-I${join(ROOT, "bench/proto")}`, join(ROOT, "bench/proto/codecs.proto")], {
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(r.status, 0, `protoc failed: ${r.stderr}`);
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Runs the Python side over `cases`; one result per case. */
  function python(cases: ReturnType<typeof messageCases>): PyResult[] {
    const input = cases.map((c) => ({
      type: c.typeName,
      hex: Buffer.from(protoBinaryCodec.encode(c.schema, c.message)).toString("hex"),
      json: toJson(c.schema, c.message),
    }));
    const r = spawnSync(PYTHON, ["-B", "-c", PY_SCRIPT], {
      cwd: dir,
      input: JSON.stringify(input),
      encoding: "utf8",
      timeout: 60_000,
      maxBuffer: 64 << 20,
    });
    assert.equal(r.status, 0, `python failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as PyResult[];
  }

  it("Python parses Petrel's bytes into the same message, and Petrel decodes Python's bytes", (t) => {
    if (!requirePython(t)) return;
    const cases = messageCases();
    const results = python(cases);
    assert.equal(results.length, cases.length);
    cases.forEach((c, i) => {
      const res = results[i];
      // Python's view of Petrel's bytes, in protobuf JSON, equals protobuf-es' JSON of the original.
      assert.deepEqual(res.parsed, toJson(c.schema, c.message), `${c.name}: Python parsed a different message`);
      // Python's own encodings (re-serialized and built from JSON) decode to the original.
      for (const hex of [res.reencoded, res.built]) {
        const back = protoBinaryCodec.decode(c.schema, Buffer.from(hex, "hex"));
        assert.ok(equals(c.schema, back, c.message), `${c.name}: Petrel decoded Python's bytes into a different message`);
      }
    });
  });

  it("agrees on edge values: zero/empty fields, negative and large ints, non-ASCII text", (t) => {
    if (!requirePython(t)) return;
    const order = makeOrder(3, 2);
    order.customerId = -9_007_199_254_740_993n; // below -2^53: must survive as int64
    order.createdAt = 0n;
    order.couponCodes = [-1, 0, 2_147_483_647];
    order.attributes = { "": "", ключ: "значение 🐦" };
    order.items[0].title = "";
    order.items[1].tags = [];
    order.signature = new Uint8Array(0);
    const [c] = messageCases().filter((x) => x.name === "order");
    const res = python([{ ...c, message: order }])[0];
    assert.deepEqual(res.parsed, toJson(c.schema, order));
    for (const hex of [res.reencoded, res.built])
      assert.ok(equals(c.schema, protoBinaryCodec.decode(c.schema, Buffer.from(hex, "hex")), order));
  });
});
