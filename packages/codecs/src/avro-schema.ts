import { ScalarType, create, type DescEnum, type DescField, type DescMessage, type MessageShape } from "@bufbuild/protobuf";

/**
 * protobuf-es descriptor <-> Avro: the derived schema and the value mapping both ways.
 * Mapping: message -> record (full proto name), enum -> enum (value names as symbols, first as the
 * reader default), repeated -> array, map -> map (Avro map keys are strings; proto keys already
 * are in protobuf-es), message fields, explicit-presence scalars and oneof members -> ["null", T]
 * with default null, int64 kinds -> long (bigint; uint64/fixed64 as two's complement),
 * uint32/fixed32 -> long (they exceed Avro's signed int). Every field gets a default so that a
 * reader whose schema gained a field can resolve data of an older writer.
 * Field names are the proto names (snake_case), as other languages' Avro code would spell them.
 */

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Derives the Avro schema of `desc`. Recursive messages refer to themselves by name. */
export function deriveAvroSchema(desc: DescMessage): Json {
  return recordSchema(desc, new Set());
}

function recordSchema(desc: DescMessage, seen: Set<string>): Json {
  if (seen.has(desc.typeName)) return desc.typeName;
  seen.add(desc.typeName);
  const fields: Json[] = [];
  for (const f of desc.fields) {
    let type = fieldType(f, seen);
    let dflt: Json;
    if (f.fieldKind === "list") dflt = [];
    else if (f.fieldKind === "map") dflt = {};
    else if (f.oneof !== undefined || f.fieldKind === "message" || f.presence === 1 /* EXPLICIT */) {
      type = ["null", type];
      dflt = null;
    } else dflt = f.fieldKind === "enum" ? zeroSymbol(f.enum) : scalarZero(f.scalar);
    fields.push({ name: f.name, type, default: dflt });
  }
  return { type: "record", name: desc.typeName, fields };
}

function fieldType(f: DescField, seen: Set<string>): Json {
  switch (f.fieldKind) {
    case "scalar":
      return scalarType(f.scalar);
    case "enum":
      return enumSchema(f.enum, seen);
    case "message":
      return recordSchema(f.message, seen);
    case "list":
      return { type: "array", items: elementType(f.listKind, f, seen) };
    case "map":
      return { type: "map", values: elementType(f.mapKind, f, seen) };
  }
}

function elementType(kind: "scalar" | "enum" | "message", f: DescField, seen: Set<string>): Json {
  const g = f as unknown as { scalar: ScalarType; enum: DescEnum; message: DescMessage };
  return kind === "scalar" ? scalarType(g.scalar) : kind === "enum" ? enumSchema(g.enum, seen) : recordSchema(g.message, seen);
}

function enumSchema(e: DescEnum, seen: Set<string>): Json {
  if (seen.has(e.typeName)) return e.typeName;
  seen.add(e.typeName);
  const symbols = e.values.map((v) => v.name);
  return { type: "enum", name: e.typeName, symbols, default: symbols[0] ?? null };
}

function zeroSymbol(e: DescEnum): Json {
  return (e.values.find((v) => v.number === 0) ?? e.values[0])?.name ?? null;
}

function scalarType(t: ScalarType): string {
  switch (t) {
    case ScalarType.DOUBLE:
      return "double";
    case ScalarType.FLOAT:
      return "float";
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return "int";
    case ScalarType.BOOL:
      return "boolean";
    case ScalarType.STRING:
      return "string";
    case ScalarType.BYTES:
      return "bytes";
    default:
      return "long"; // int64, uint64, sint64, fixed64, sfixed64, uint32, fixed32
  }
}

function scalarZero(t: ScalarType): Json {
  switch (t) {
    case ScalarType.BOOL:
      return false;
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return "";
    default:
      return 0;
  }
}

/** A protobuf-es message -> the plain value avsc writes (keys are proto field names). @internal */
export function messageToAvro(desc: DescMessage, msg: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of desc.fields) {
    let v: unknown;
    if (f.oneof !== undefined) {
      const o = msg[f.oneof.localName] as { case?: string; value?: unknown } | undefined;
      v = o?.case === f.localName ? o.value : undefined;
    } else v = msg[f.localName];
    out[f.name] = v === undefined || v === null ? fieldAbsent(f) : fieldToAvro(f, v);
  }
  return out;
}

function fieldAbsent(f: DescField): unknown {
  return f.fieldKind === "list" ? [] : f.fieldKind === "map" ? {} : null;
}

function fieldToAvro(f: DescField, v: unknown): unknown {
  switch (f.fieldKind) {
    case "scalar":
      return scalarToAvro(f.scalar, v);
    case "enum":
      return enumToAvro(f.enum, v);
    case "message":
      return messageToAvro(f.message, v as Record<string, unknown>);
    case "list":
      return (v as unknown[]).map((x) => elementToAvro(f.listKind, f, x));
    case "map": {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = elementToAvro(f.mapKind, f, x);
      return out;
    }
  }
}

function elementToAvro(kind: "scalar" | "enum" | "message", f: DescField, v: unknown): unknown {
  const g = f as unknown as { scalar: ScalarType; enum: DescEnum; message: DescMessage };
  return kind === "scalar"
    ? scalarToAvro(g.scalar, v)
    : kind === "enum"
      ? enumToAvro(g.enum, v)
      : messageToAvro(g.message, v as Record<string, unknown>);
}

function scalarToAvro(t: ScalarType, v: unknown): unknown {
  if (t === ScalarType.BYTES) {
    const u = v as Uint8Array;
    return Buffer.from(u.buffer, u.byteOffset, u.byteLength); // avsc wants a Buffer; no copy
  }
  // int64 kinds may be strings (jstype = JS_STRING).
  if (typeof v === "string" && isLong(t)) return BigInt(v);
  return v;
}

function enumToAvro(e: DescEnum, v: unknown): string {
  const value = e.values.find((x) => x.number === v);
  if (value === undefined) throw new Error(`avro: ${e.typeName} has no value ${String(v)}; Avro enums cannot carry unknown values`);
  return value.name;
}

function isLong(t: ScalarType): boolean {
  return (
    t === ScalarType.INT64 || t === ScalarType.UINT64 || t === ScalarType.SINT64 || t === ScalarType.FIXED64 || t === ScalarType.SFIXED64
  );
}

/** The value avsc read -> a protobuf-es message. Fields missing from the value keep their defaults. @internal */
export function avroToMessage<D extends DescMessage>(desc: D, rec: Record<string, unknown>): MessageShape<D> {
  return create(desc, avroToInit(desc, rec) as never);
}

function avroToInit(desc: DescMessage, rec: Record<string, unknown>): Record<string, unknown> {
  const init: Record<string, unknown> = {};
  for (const f of desc.fields) {
    const v = rec[f.name];
    if (v === undefined || v === null) continue;
    const x = fieldFromAvro(f, v);
    if (f.oneof !== undefined) {
      if (init[f.oneof.localName] === undefined) init[f.oneof.localName] = { case: f.localName, value: x };
    } else init[f.localName] = x;
  }
  return init;
}

function fieldFromAvro(f: DescField, v: unknown): unknown {
  switch (f.fieldKind) {
    case "scalar":
      return scalarFromAvro(f.scalar, f.longAsString, v);
    case "enum":
      return enumFromAvro(f.enum, v);
    case "message":
      return avroToInit(f.message, v as Record<string, unknown>);
    case "list":
      return (v as unknown[]).map((x) => elementFromAvro(f.listKind, f, x));
    case "map": {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = elementFromAvro(f.mapKind, f, x);
      return out;
    }
  }
}

function elementFromAvro(kind: "scalar" | "enum" | "message", f: DescField, v: unknown): unknown {
  const g = f as unknown as { scalar: ScalarType; enum: DescEnum; message: DescMessage; longAsString: boolean };
  return kind === "scalar"
    ? scalarFromAvro(g.scalar, g.longAsString, v)
    : kind === "enum"
      ? enumFromAvro(g.enum, v)
      : avroToInit(g.message, v as Record<string, unknown>);
}

// Coerces by the proto type, so a user schema (or an evolved writer) may use a wider Avro type.
function scalarFromAvro(t: ScalarType, longAsString: boolean, v: unknown): unknown {
  switch (t) {
    case ScalarType.BYTES:
      return new Uint8Array(v as Uint8Array); // a plain copy, not a view into avsc's Buffer
    case ScalarType.STRING:
      return String(v);
    case ScalarType.BOOL:
      return Boolean(v);
    case ScalarType.UINT64:
    case ScalarType.FIXED64: {
      const n = BigInt.asUintN(64, BigInt(v as bigint));
      return longAsString ? n.toString() : n;
    }
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64: {
      const n = BigInt(v as bigint);
      return longAsString ? n.toString() : n;
    }
    default:
      return Number(v);
  }
}

function enumFromAvro(e: DescEnum, v: unknown): number {
  return e.values.find((x) => x.name === v)?.number ?? 0;
}
