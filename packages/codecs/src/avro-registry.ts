import avro from "avsc";
import { avroFingerprintBytes, toHex } from "./avro-fingerprint.js";
import { avroLongBigint } from "./avro-long.js";

/** An Avro schema in its JSON form (a type name, or a record/enum/array/map/union object). */
export type AvroSchema = string | object | readonly unknown[];

/** A parsed schema and its CRC-64-AVRO fingerprint. */
export interface AvroSchemaEntry {
  /** 16 lower-case hex digits: the 8 little-endian fingerprint bytes of single-object encoding. */
  readonly fingerprint: string;
  readonly type: avro.Type;
}

/**
 * Writer schemas by fingerprint, so a reader can resolve data written with a schema other than
 * its own (an older or newer version of a message). A codec adds its own schemas; add the
 * schemas of peers' versions you accept (e.g. loaded from a schema registry or `.avsc` files).
 */
export interface AvroSchemaRegistry {
  /** Parses and adds `schema`; returns its fingerprint. Throws a clear error on an invalid schema. */
  add(schema: AvroSchema): string;
  /** The schema with `fingerprint` (hex), or undefined. */
  get(fingerprint: string): AvroSchemaEntry | undefined;
  /** Fingerprints held, in insertion order. */
  fingerprints(): string[];
}

/** Parses an Avro schema with Petrel's options (int64 as bigint). @internal */
export function parseAvroSchema(schema: AvroSchema): AvroSchemaEntry {
  let type: avro.Type;
  try {
    type = avro.Type.forSchema(schema as avro.Schema, { registry: { long: avroLongBigint() } as never });
  } catch (e) {
    throw new Error(`avro: invalid schema: ${(e as Error).message}`);
  }
  // `schema()` without options is the Parsing Canonical Form (what the spec fingerprints).
  const canonical = JSON.stringify(type.schema());
  return { fingerprint: toHex(avroFingerprintBytes(canonical)), type };
}

/** Creates an empty registry, or one holding `schemas`. */
export function createAvroSchemaRegistry(schemas: readonly AvroSchema[] = []): AvroSchemaRegistry {
  const table = new Map<string, AvroSchemaEntry>();
  const reg: AvroSchemaRegistry = {
    add(schema) {
      const e = parseAvroSchema(schema);
      if (!table.has(e.fingerprint)) table.set(e.fingerprint, e);
      return e.fingerprint;
    },
    get(fingerprint) {
      return table.get(fingerprint.toLowerCase());
    },
    fingerprints() {
      return [...table.keys()];
    },
  };
  for (const s of schemas) reg.add(s);
  return reg;
}
