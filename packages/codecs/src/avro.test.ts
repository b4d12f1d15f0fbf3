import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import {
  Code,
  RpcError,
  createClient,
  createCodecRegistry,
  createDefaultCodecRegistry,
  createRouter,
  Metadata,
  type CallOptions,
} from "@petrel/core";
import { createNativeServer, createNativeTransport } from "@petrel/node";
import { type AvroCodec, createAvroCodec } from "./avro-codec.js";
import { avroRabin } from "./avro-fingerprint.js";
import { AVRO_FINGERPRINT_KEY, createAvroFingerprintInterceptor, createAvroServerFingerprintInterceptor } from "./avro-metadata.js";
import { createAvroSchemaRegistry } from "./avro-registry.js";
import { deriveAvroSchema } from "./avro-schema.js";
import { V1, V2, V3, sampleV1 } from "./avro-test-fixture.js";

type Rec = Record<string, unknown>;

/** The v2 codec: derived schema plus an alias so `customer_name` reads v1's `customer`. */
function v2Codec(registry = createAvroSchemaRegistry()): AvroCodec {
  const schema = deriveAvroSchema(V2.Order) as { fields: { name: string; aliases?: string[] }[] };
  for (const fl of schema.fields) if (fl.name === "customer_name") fl.aliases = ["customer"];
  return createAvroCodec({ registry, schemas: { "petrel.avro.v1.Order": schema } });
}

function plain(m: unknown): Rec {
  const { $typeName: _, ...rest } = m as Rec;
  return rest;
}

describe("avro schema derivation", () => {
  it("maps records, nested messages, enums, arrays, maps, optionals, oneofs and int64", () => {
    const s = deriveAvroSchema(V1.Order) as { name: string; fields: { name: string; type: unknown; default: unknown }[] };
    assert.equal(s.name, "petrel.avro.v1.Order");
    const by = Object.fromEntries(s.fields.map((x) => [x.name, x]));
    assert.deepEqual(by.id, { name: "id", type: "long", default: 0 });
    assert.deepEqual(by.big?.type, "long");
    assert.deepEqual(by.quantity, { name: "quantity", type: "int", default: 0 });
    assert.deepEqual(by.note, { name: "note", type: ["null", "string"], default: null });
    assert.deepEqual(by.text, { name: "text", type: ["null", "string"], default: null });
    assert.deepEqual(by.tags, { name: "tags", type: { type: "map", values: "int" }, default: {} });
    assert.deepEqual(by.items?.type, {
      type: "array",
      items: {
        type: "record",
        name: "petrel.avro.v1.Order.Item",
        fields: [
          { name: "sku", type: "string", default: "" },
          { name: "price", type: "double", default: 0 },
        ],
      },
    });
    assert.deepEqual(by.status, {
      name: "status",
      type: {
        type: "enum",
        name: "petrel.avro.v1.Status",
        symbols: ["STATUS_UNSPECIFIED", "STATUS_OPEN", "STATUS_CLOSED"],
        default: "STATUS_UNSPECIFIED",
      },
      default: "STATUS_UNSPECIFIED",
    });
  });

  it('fingerprints with CRC-64-AVRO (the spec\'s value for "int")', () => {
    assert.equal(avroRabin('"int"'), 0x7275d51a3f395c8fn);
    assert.equal(createAvroSchemaRegistry().add("int"), "8f5c393f1ad57572");
  });
});

describe("avro codec", () => {
  it("round-trips every field kind, with the single-object header", () => {
    const codec = createAvroCodec();
    const msg = create(V1.Order, sampleV1() as never);
    const bytes = codec.encode(V1.Order, msg);
    assert.deepEqual([...bytes.subarray(0, 2)], [0xc3, 0x01]);
    const fp = codec.schemaOf(V1.Order).fingerprint;
    assert.equal(Buffer.from(bytes.subarray(2, 10)).toString("hex"), fp);
    assert.deepEqual(codec.decode(V1.Order, bytes), msg);
    // Unset optional, the other oneof member, empty collections.
    const sparse = create(V1.Order, { choice: { case: "number", value: -3 } } as never);
    const back = codec.decode(V1.Order, codec.encode(V1.Order, sparse)) as unknown as Rec;
    assert.equal(back.note, undefined);
    assert.deepEqual(back, sparse);
  });

  it("old writer -> new reader: added field default, removed field, alias rename, new enum symbol", () => {
    const registry = createAvroSchemaRegistry();
    const old = createAvroCodec({ registry });
    const neu = v2Codec(registry);
    const bytes = old.encode(V1.Order, create(V1.Order, sampleV1() as never));
    const got = plain(neu.decode(V2.Order, bytes));
    const want = plain(create(V2.Order, { ...sampleV1(), customer: undefined, payload: undefined, customerName: "Ada ✓" } as never));
    assert.deepEqual(got, want);
    assert.equal(got.customerName, "Ada ✓");
    assert.equal(got.email, "");
    assert.equal("payload" in got, false);
  });

  it("new writer -> old reader: added field ignored, removed field defaulted, unknown enum symbol -> enum default", () => {
    const registry = createAvroSchemaRegistry();
    const old = createAvroCodec({ registry });
    const neu = v2Codec(registry);
    const msg = create(V2.Order, { id: 5n, customerName: "Bo", status: 3, email: "bo@example.com", quantity: 2, tags: { x: 1 } } as never);
    const got = old.decode(V1.Order, neu.encode(V2.Order, msg)) as Rec;
    assert.equal(got.id, 5n);
    assert.equal(got.quantity, 2);
    assert.deepEqual(got.tags, { x: 1 });
    assert.equal(got.status, 0, "STATUS_SHIPPED is unknown to v1: the enum default");
    assert.deepEqual(got.payload, new Uint8Array(0));
    assert.equal(got.customer, "", "v1 has no alias for customer_name");
  });

  it("promotions int -> long and long -> double; the reverse is refused clearly", () => {
    const registry = createAvroSchemaRegistry();
    const v1 = createAvroCodec({ registry });
    const v3 = createAvroCodec({ registry });
    const got = v3.decode(V3.Order, v1.encode(V1.Order, create(V1.Order, { quantity: -7, total: 1234567n } as never))) as Rec;
    assert.equal(got.quantity, -7n);
    assert.equal(got.total, 1234567);
    const back = v3.encode(V3.Order, create(V3.Order, { quantity: 1n } as never));
    assert.throws(() => v1.decode(V1.Order, back), /avro: writer schema [0-9a-f]{16} cannot be read as petrel\.avro\.v1\.Order/);
  });

  it("unknown fingerprint, bad header, truncated body and unknown enum values give clear errors", () => {
    const writer = createAvroCodec();
    const reader = v2Codec(); // its own registry does not know v1
    const bytes = writer.encode(V1.Order, create(V1.Order, sampleV1() as never));
    assert.throws(
      () => reader.decode(V2.Order, bytes),
      new RegExp(`unknown writer schema fingerprint ${writer.schemaOf(V1.Order).fingerprint}`),
    );
    assert.throws(() => writer.decode(V1.Order, new Uint8Array([1, 2, 3])), /not an Avro single-object payload/);
    assert.throws(() => writer.decode(V1.Order, bytes.subarray(0, bytes.length - 3)), /avro: malformed petrel\.avro\.v1\.Order payload/);
    assert.throws(() => writer.encode(V1.Order, create(V1.Order, { status: 99 } as never)), /has no value 99/);
    assert.throws(() => createAvroSchemaRegistry().add({ type: "record" }), /avro: invalid schema/);
  });
});

describe("avro fingerprint metadata", () => {
  it("the server interceptor refuses an unknown fingerprint and answers with the response's", async () => {
    const codec = v2Codec();
    const run = (fp: string) => {
      const ctx = { requestHeader: new Metadata({ [AVRO_FINGERPRINT_KEY]: fp }), responseHeader: new Metadata() };
      const req = { stream: false, method: V2.OrderService.methods[0], ctx, message: create(V2.Order) } as never;
      const next = async () => ({ stream: false as const, message: create(V2.Order) });
      return { ctx, out: createAvroServerFingerprintInterceptor(codec)(next)(req) };
    };
    const bad = run("0123456789abcdef");
    await assert.rejects(
      bad.out,
      (e: unknown) =>
        e instanceof RpcError &&
        e.code === Code.FAILED_PRECONDITION &&
        /unknown writer schema fingerprint 0123456789abcdef/.test(e.message),
    );
    const good = run(codec.schemaOf(V2.Order).fingerprint);
    await good.out;
    assert.equal(good.ctx.responseHeader.getString(AVRO_FINGERPRINT_KEY), codec.schemaOf(V2.Order).fingerprint);
  });
});

describe("avro over petrel/1", () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  async function start(server: AvroCodec, seen: (string | undefined)[]) {
    const codecs = createDefaultCodecRegistry();
    codecs.register(server);
    const router = createRouter({ codecs, interceptors: [createAvroServerFingerprintInterceptor(server)] }).service(V2.OrderService, {
      put: (req: Rec, ctx: { requestHeader: { getString(k: string): string | undefined } }) => {
        seen.push(ctx.requestHeader.getString(AVRO_FINGERPRINT_KEY));
        return { ...req, email: `${String(req.customerName)}@example.com` };
      },
    } as never);
    const srv = createNativeServer({ router });
    const { port } = await srv.listen({ port: 0, host: "127.0.0.1" });
    cleanups.push(() => srv.close({ graceMs: 1000 }));
    return port;
  }

  function client(port: number, codec: AvroCodec) {
    const transport = createNativeTransport({ address: `127.0.0.1:${port}`, codecs: createCodecRegistry([codec]), defaultCodec: "avro" });
    cleanups.push(() => transport.close());
    // The descriptor is built at runtime, so the client is untyped here.
    return createClient(V1.OrderService, transport, { interceptors: [createAvroFingerprintInterceptor(codec)] }) as unknown as {
      put(req: unknown, opts: CallOptions): Promise<unknown>;
    };
  }

  it("a v1 client calls a v2 server with codec avro; both resolve the other's writer schema", async () => {
    const clientCodec = createAvroCodec();
    const serverCodec = v2Codec();
    // Each side knows the other's schema version (as loaded from a schema registry).
    serverCodec.registry.add(clientCodec.schemaOf(V1.Order).schema);
    clientCodec.registry.add(serverCodec.schemaOf(V2.Order).schema);
    const seen: (string | undefined)[] = [];
    const port = await start(serverCodec, seen);
    let header: string | undefined;
    const res = (await client(port, clientCodec).put(sampleV1() as never, {
      codec: "avro",
      onHeader: (h) => {
        header = h.getString(AVRO_FINGERPRINT_KEY);
      },
    })) as Rec;
    assert.deepEqual(seen, [clientCodec.schemaOf(V1.Order).fingerprint]);
    assert.equal(header, serverCodec.schemaOf(V2.Order).fingerprint);
    assert.equal(res.id, -42n);
    assert.equal(res.customer, "", "v2's customer_name has no v1 alias");
    assert.deepEqual(res.items, (create(V1.Order, sampleV1() as never) as unknown as Rec).items);
    assert.deepEqual(res.payload, new Uint8Array(0), "v2 dropped payload");
    assert.equal(res.big, 18446744073709551615n);
  });

  it("an unknown writer fingerprint fails the call with a clear error", async () => {
    const clientCodec = createAvroCodec();
    const port = await start(v2Codec(), []);
    await assert.rejects(client(port, clientCodec).put(sampleV1() as never, { codec: "avro" }), (e: unknown) => {
      assert.ok(e instanceof RpcError);
      // A unary request is decoded before server interceptors run: the codec's error, as INVALID_ARGUMENT.
      assert.equal(e.code, Code.INVALID_ARGUMENT);
      assert.match(e.message, /unknown writer schema fingerprint [0-9a-f]{16}/);
      return true;
    });
  });
});
