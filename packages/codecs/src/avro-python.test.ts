// Cross-language Avro proof with Python's `avro` (Debian python3-avro): Python writes single-object
// payloads that Petrel reads (same schema and an evolved one), Petrel writes payloads that Python
// reads with evolved reader schemas, and both compute the same CRC-64-AVRO fingerprints.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { create, type DescMessage } from "@bufbuild/protobuf";
import { type AvroCodec, createAvroCodec } from "./avro-codec.js";
import { createAvroSchemaRegistry } from "./avro-registry.js";
import { deriveAvroSchema, messageToAvro } from "./avro-schema.js";
import { V1, V2, V3, sampleV1 } from "./avro-test-fixture.js";

const PYTHON = "/usr/bin/python3";
const PEER = join(dirname(fileURLToPath(import.meta.url)), "..", "test-peers", "avro", "avro_peer.py");

function missing(): string | undefined {
  if (existsSync(PYTHON) && spawnSync(PYTHON, ["-c", "import avro.io, avro.schema"], { stdio: "ignore", timeout: 30_000 }).status === 0)
    return undefined;
  const msg = "Avro cross-language test needs /usr/bin/python3 with python3-avro (Debian), which is missing";
  if (process.env.CI) throw new Error(msg);
  console.error(`!!! SKIPPED: ${msg}`);
  return msg;
}
const skip = missing();

/** Runs the Python peer with `input` on stdin; resolves trimmed stdout, rejects with stderr. */
function py(args: string[], input = ""): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [PEER, ...args], { stdio: ["pipe", "pipe", "pipe"], timeout: 120_000 });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      err += d;
    });
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`avro_peer.py ${args[0]} exited ${code}: ${err}`))));
    child.stdin.end(input);
  });
}

/** Petrel's Avro value as JSON for the peer: bytes as hex, longs as (signed 64-bit) decimal strings. */
function toPeerJson(v: unknown): unknown {
  if (typeof v === "bigint") return BigInt.asIntN(64, v).toString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString("hex");
  if (Array.isArray(v)) return v.map(toPeerJson);
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toPeerJson(x)]));
  return v;
}

/** The peer prints every Avro int/long as a decimal string (Python ints are unbounded). */
function intsAsStrings(v: unknown): unknown {
  if (typeof v === "number" && Number.isInteger(v)) return String(v);
  if (Array.isArray(v)) return v.map(intsAsStrings);
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, intsAsStrings(x)]));
  return v;
}

const dir = mkdtempSync(join(tmpdir(), "petrel-avro-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function schemaFile(name: string, codec: AvroCodec, desc: DescMessage): string {
  const path = join(dir, `${name}.avsc`);
  writeFileSync(path, JSON.stringify(codec.schemaOf(desc).schema));
  return path;
}

function v2Codec(registry = createAvroSchemaRegistry()): AvroCodec {
  const schema = deriveAvroSchema(V2.Order) as { fields: { name: string; aliases?: string[] }[] };
  for (const fl of schema.fields) if (fl.name === "customer_name") fl.aliases = ["customer"];
  return createAvroCodec({ registry, schemas: { "petrel.avro.v1.Order": schema } });
}

describe("Avro with Python's avro", { skip }, () => {
  const registry = createAvroSchemaRegistry();
  const v1 = createAvroCodec({ registry });
  const v2 = v2Codec(registry);
  const v3 = createAvroCodec({ registry });
  const sample = () => create(V1.Order, sampleV1() as never);

  it("computes the same CRC-64-AVRO fingerprints", async () => {
    for (const [name, codec, desc] of [
      ["v1", v1, V1.Order],
      ["v2", v2, V2.Order],
      ["v3", v3, V3.Order],
    ] as const) {
      assert.equal(await py(["fingerprint", schemaFile(name, codec, desc)]), codec.schemaOf(desc).fingerprint, name);
    }
  });

  it("Python writes, Petrel reads: byte-identical to Petrel's encoding, and through evolution", async () => {
    const datum = JSON.stringify(toPeerJson(messageToAvro(V1.Order, sample() as never)));
    const hex = await py(["write", schemaFile("v1", v1, V1.Order)], datum);
    const bytes = new Uint8Array(Buffer.from(hex, "hex"));
    assert.equal(hex, Buffer.from(v1.encode(V1.Order, sample())).toString("hex"));
    assert.deepEqual(v1.decode(V1.Order, bytes), sample());
    const evolved = v2.decode(V2.Order, bytes) as Record<string, unknown>;
    assert.equal(evolved.customerName, "Ada ✓");
    assert.equal(evolved.email, "");
    assert.equal(evolved.big, 18446744073709551615n);
    const promoted = v3.decode(V3.Order, bytes) as Record<string, unknown>;
    assert.equal(promoted.quantity, 7n);
    assert.equal(promoted.total, 9007199254740992, "long -> double rounds like any double");
  });

  it("Petrel writes, Python reads with its own and with evolved reader schemas", async () => {
    const hex = Buffer.from(v1.encode(V1.Order, sample())).toString("hex");
    const w = schemaFile("v1", v1, V1.Order);
    const same = JSON.parse(await py(["read", w, w], hex));
    // Prices are doubles with fractions, so only real ints become strings.
    assert.deepEqual(same, intsAsStrings(toPeerJson(messageToAvro(V1.Order, sample() as never))));
    const promoted = JSON.parse(await py(["read", w, schemaFile("v3", v3, V3.Order)], hex));
    assert.equal(promoted.quantity, "7");
    // Python's avro accepts long -> double but keeps the exact Python int it read (printed as a string).
    assert.equal(promoted.total, "9007199254740993");
    const renamed = JSON.parse(await py(["read", w, schemaFile("v2", v2, V2.Order)], hex));
    // Python's avro 1.11 ignores field aliases when resolving (io.py read_record matches by name
    // only), so the renamed field takes its default there; Petrel (avsc) honours them (test above).
    assert.equal(renamed.customer_name, "");
    assert.equal(renamed.customer, undefined);
    assert.equal(renamed.id, "-42");
    assert.equal(renamed.email, "");
    assert.equal("payload" in renamed, false);
    // A v2 payload read by Python as v1: the added field is skipped, the removed one defaulted.
    const v2hex = Buffer.from(v2.encode(V2.Order, create(V2.Order, { id: 9n, email: "x@y", status: 1 } as never))).toString("hex");
    const old = JSON.parse(await py(["read", schemaFile("v2", v2, V2.Order), w], v2hex));
    assert.equal(old.id, "9");
    assert.equal(old.status, "STATUS_OPEN");
    assert.equal(old.payload, "");
    assert.equal("email" in old, false);
  });
});
