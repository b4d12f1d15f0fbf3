// The gob codec against Go's encoding/gob (standard library only): Go-encoded golden streams
// decoded here, and streams encoded here decoded by Go, which must print exactly what it prints
// for its own encoding of the same values.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { decodeGob, GobEncoder, type GobType, GobTypes, isGobError } from "@petrel/protocol-gob";
import { join } from "node:path";
import { buildGoProgram, goAvailable } from "@petrel/testing";
import { peerMissing } from "./jsonrpc-peers-fixture.js";
import { GOB_PEER_DIR, runBytes } from "./netrpc-gob-peers-fixture.js";

const noGo = peerMissing("a Go toolchain (Debian golang-go)", goAvailable());

const Inner: GobType = {
  kind: "struct",
  name: "Inner",
  fields: [
    { name: "Name", type: GobTypes.string },
    { name: "Tags", type: { kind: "slice", elem: GobTypes.string } },
  ],
};
const All: GobType = {
  kind: "struct",
  name: "All",
  fields: [
    { name: "B", type: GobTypes.bool },
    { name: "I", type: GobTypes.int },
    { name: "I8", type: GobTypes.int },
    { name: "I64", type: GobTypes.int },
    { name: "U", type: GobTypes.uint },
    { name: "U64", type: GobTypes.uint },
    { name: "F32", type: GobTypes.float },
    { name: "F", type: GobTypes.float },
    { name: "S", type: GobTypes.string },
    { name: "Bs", type: GobTypes.bytes },
    { name: "C", type: GobTypes.complex },
    { name: "Ints", type: { kind: "slice", elem: GobTypes.int } },
    { name: "Arr", type: { kind: "array", len: 3, elem: GobTypes.int } },
    { name: "M", type: { kind: "map", key: GobTypes.string, elem: GobTypes.int } },
    { name: "MI", type: { kind: "map", key: GobTypes.int, elem: GobTypes.string } },
    { name: "Nested", type: Inner },
    { name: "PN", type: Inner },
    { name: "Inners", type: { kind: "slice", elem: Inner } },
    { name: "MinI", type: GobTypes.int },
  ],
};
const NodeT: { kind: "struct"; name: string; fields: { name: string; type: GobType }[] } = { kind: "struct", name: "Node", fields: [] };
NodeT.fields.push({ name: "V", type: GobTypes.int }, { name: "Next", type: NodeT });

/**
 * The values of go-golden's values(), as this decoder yields them (zero fields absent), and the
 * type names Go sends: a top-level unnamed map/array/struct type goes out with an empty name.
 */
const all = {
  B: true,
  I: -129,
  I8: -8,
  I64: 2 ** 40,
  U: 256,
  U64: 2n ** 64n - 1n,
  F32: 1.5,
  F: 17,
  S: "héllo",
  Bs: Uint8Array.of(0, 1, 255),
  C: { real: 1, imag: -2 },
  Ints: [1, -1, 1000000],
  Arr: [0, 5, 0],
  M: new Map([["a", 1]]),
  MI: new Map([[-3, "x"]]),
  Nested: { Name: "n", Tags: ["t1", "t2"] },
  PN: { Name: "p" },
  Inners: [{ Name: "i0" }, {}],
  MinI: -(2n ** 63n),
};
const list = { V: 1, Next: { V: 2, Next: { V: 3 } } };
const golden: [GobType, unknown, string][] = [
  [All, all, "All"],
  [GobTypes.int, 42, "int"],
  [GobTypes.string, "top", "string"],
  [{ kind: "slice", name: "[]int", elem: GobTypes.int }, [3, 2, 1], "[]int"],
  [{ kind: "map", name: "map[string]float64", key: GobTypes.string, elem: GobTypes.float }, new Map([["pi", 3.25]]), ""],
  [NodeT, list, "Node"],
  // Go always sends arrays and non-pointer struct fields, even zero ones.
  [All, { Arr: [0, 0, 0], Nested: {} }, "All"],
  [{ kind: "struct", name: "", fields: [] }, {}, ""],
  [{ kind: "array", name: "[2]string", len: 2, elem: GobTypes.string }, ["a", ""], ""],
  [GobTypes.int, -1, "int"],
  [GobTypes.uint, 0, "uint"],
  [GobTypes.float, 0.1, "float64"],
  [GobTypes.bool, true, "bool"],
];

describe("gob codec vs Go encoding/gob", { skip: noGo }, () => {
  let bin: string;
  before(async () => {
    bin = await buildGoProgram(join(GOB_PEER_DIR, "go-golden"));
  });

  it("decodes Go's golden stream: every kind, recursive types, zero values, GobEncoder values", async () => {
    const out = decodeGob(await runBytes(bin, ["encode"]));
    assert.equal(out.length, golden.length + 1);
    golden.forEach(([, value, name], i) => {
      assert.equal(out[i]!.typeName, name, `value ${i} type name`);
      assert.deepEqual(out[i]!.value, value, `value ${i} (${name})`);
    });
    // time.Time is a GobEncoder: its MarshalBinary bytes (version 1, 15 bytes).
    const t = out[golden.length]!;
    assert.equal(t.typeName, "Time");
    assert.ok(t.value instanceof Uint8Array && t.value.length === 15 && t.value[0] === 1);
  });

  it("encodes streams Go decodes to the same values as its own encoding", async () => {
    const enc = new GobEncoder();
    const ours = Buffer.concat(golden.map(([type, value]) => enc.encode(type, value)));
    const goOwn = await runBytes(bin, ["decode"], await runBytes(bin, ["encode"]));
    const fromUs = await runBytes(bin, ["decode"], ours);
    const lines = fromUs.toString().trim().split("\n");
    assert.equal(lines.length, golden.length);
    assert.equal(fromUs.toString(), goOwn.toString());
    assert.equal(JSON.parse(lines[0]!).c, "(1-2i)");
    assert.match(lines[0]!, /"U64":18446744073709551615/);
    assert.match(lines[0]!, /"MinI":-9223372036854775808/);
  });

  it("rejects Go interface values with a clear GobError", async () => {
    const bytes = await runBytes(bin, ["iface"]);
    assert.throws(
      () => decodeGob(bytes),
      (e: unknown) => isGobError(e) && /interface values are not supported/.test((e as Error).message),
    );
  });
});
