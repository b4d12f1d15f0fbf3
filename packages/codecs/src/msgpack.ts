import {
  create,
  fromJson,
  ScalarType,
  toJson,
  type DescField,
  type DescMessage,
  type JsonObject,
  type JsonValue,
  type MessageShape,
} from "@bufbuild/protobuf";
import type { Codec } from "@petrel/core";
import { Packr, Unpackr } from "msgpackr";

/**
 * MessagePack codec: a message travels as a MessagePack map shaped like its protobuf JSON form —
 * keys are the protobuf JSON names (`failCode`, the same names every protobuf JSON implementation
 * uses, so a Python or Go peer needs no TypeScript knowledge), fields at their default value are
 * left out, oneof members sit flat in the parent, enums are numbers, map keys are strings. Unlike
 * protobuf JSON, values keep their MessagePack types: 64-bit integers are integers (bigint when
 * beyond 2^53), bytes are `bin`, NaN/Infinity are floats. `google.protobuf.Struct`/`Value`/
 * `ListValue` become native maps/arrays/scalars; a singular wrapper field is its bare value; every
 * other well-known type is an ordinary message.
 *
 * Decoding accepts JSON names and proto field names, enum names as strings, integers as strings,
 * and ignores unknown keys (so a newer writer with extra fields is readable: forward compatible
 * like protobuf binary, unlike the strict `json` codec).
 *
 * Why a direct field walk rather than `toJson`/`fromJson`: protobuf JSON renders int64 as strings
 * and bytes as base64, which would then travel as MessagePack strings (larger, and wrong types for
 * a Python peer) or have to be undone in a second pass; the walk builds the final value in one
 * pass. Measured (Node 20, 2 cores): encode 1.05-1.15x and decode 1.4-1.7x the ops/s of
 * `pack(toJson())`/`fromJson(unpack())`, and 15-35% fewer bytes.
 *
 * Record structures (`records: true`) measured: on a message with a repeated sub-message (8 or
 * 200 items) half the bytes and 1.2-1.5x the ops/s; on a small flat message 4% more bytes and
 * ~30% fewer ops/s. Hence opt-in under its own name.
 *
 * Known losses: a double/float -0 decodes as 0 (msgpackr writes whole numbers as integers); a
 * lone UTF-16 surrogate becomes U+FFFD (as in every UTF-8 format); a google.protobuf.Value with an
 * out-of-range NullValue number is nil.
 */
export interface MsgpackCodecOptions {
  /**
   * Use msgpackr record structures (an object's key list is written once per message and then
   * referenced): about half the size for lists of messages, slower for small flat ones, and only
   * msgpackr reads it, so it gets its own wire name. Default false (plain MessagePack, any implementation reads).
   */
  readonly records?: boolean;
  /** Wire name. Default `msgpack`, or `msgpack-records` with `records: true`. */
  readonly name?: string;
}

/** Creates a MessagePack codec (see {@link MsgpackCodecOptions}). */
export function createMsgpackCodec(options: MsgpackCodecOptions = {}): Codec {
  const records = options.records ?? false;
  const packr = new Packr({ useRecords: records, variableMapSize: true });
  // mapsAsObjects false: msgpackr renames a `__proto__` key to `__proto_`, which would corrupt a
  // map<string, …> entry; Maps keep every key intact.
  const unpackr = new Unpackr({ useRecords: records, mapsAsObjects: false, int64AsType: "bigint" });
  return {
    name: options.name ?? (records ? "msgpack-records" : "msgpack"),
    encode: (schema, message) => packr.pack(messageToPlain(schema, message as Record<string, unknown>)),
    decode: (schema, bytes) => {
      let raw: unknown;
      try {
        raw = unpackr.unpack(bytes);
      } catch (err) {
        throw new Error(`msgpack: malformed input for ${schema.typeName}: ${(err as Error).message}`);
      }
      return plainToMessage(schema, raw, schema.typeName) as MessageShape<typeof schema>;
    },
  };
}

/** Plain MessagePack (`msgpack`), readable by any MessagePack implementation. */
export const msgpackCodec: Codec = createMsgpackCodec();

// ---------------------------------------------------------------------------------------------
// Encode: message -> plain value

const IMPLICIT = 2; // FeatureSet.FieldPresence.IMPLICIT
const hasOwn = Object.prototype.hasOwnProperty;
const U32_MAX = 0xffffffffn;
const I32_MIN = -0x80000000n;

const WRAPPERS = new Set(
  ["Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool", "String", "Bytes"].map((n) => `google.protobuf.${n}Value`),
);

function isWrapper(desc: DescMessage): boolean {
  return WRAPPERS.has(desc.typeName);
}

function messageToPlain(desc: DescMessage, msg: Record<string, unknown>): unknown {
  const special =
    desc.typeName === "google.protobuf.Value" ||
    desc.typeName === "google.protobuf.ListValue" ||
    desc.typeName === "google.protobuf.Struct";
  if (special) return jsonToPlain(toJson(desc, msg as never));
  const { keyOf } = fieldTable(desc);
  const out: Record<string, unknown> = {};
  for (const member of desc.members) {
    let field: DescField;
    let value: unknown;
    if (member.kind === "oneof") {
      const o = msg[member.localName] as { case: string | undefined; value: unknown };
      if (o.case === undefined) continue;
      field = member.fields.find((f) => f.localName === o.case) as DescField;
      value = o.value;
    } else {
      field = member;
      value = msg[field.localName];
      if (value === undefined) continue;
      if (field.presence !== IMPLICIT && !hasOwn.call(msg, field.localName)) continue;
      if (field.presence === IMPLICIT && isZero(field, value)) continue;
    }
    out[keyOf.get(field) as string] = fieldToPlain(field, value);
  }
  return out;
}

function isZero(field: DescField, v: unknown): boolean {
  switch (field.fieldKind) {
    case "list":
      return (v as unknown[]).length === 0;
    case "map":
      return Object.keys(v as object).length === 0;
    case "enum":
      return v === 0;
    case "scalar":
      if (field.scalar === ScalarType.BYTES) return (v as Uint8Array).length === 0;
      // biome-ignore lint/suspicious/noDoubleEquals: 0 == 0n == "0" == false; -0 is kept (Object.is)
      return field.scalar === ScalarType.STRING ? v === "" : v == 0 && !Object.is(v, -0);
    default:
      return false;
  }
}

function fieldToPlain(field: DescField, value: unknown): unknown {
  switch (field.fieldKind) {
    case "scalar":
      return scalarToPlain(field.scalar, value);
    case "enum":
      return value;
    case "message":
      return singularMessageToPlain(field, field.message, value);
    case "list": {
      const list = value as unknown[];
      const out = new Array<unknown>(list.length);
      for (let i = 0; i < list.length; i++) {
        const v = list[i];
        out[i] =
          field.listKind === "message"
            ? singularMessageToPlain(field, field.message, v)
            : field.listKind === "scalar"
              ? scalarToPlain(field.scalar, v)
              : v;
      }
      return out;
    }
    case "map": {
      // A Map, not an object: keys such as `__proto__` must survive.
      const out = new Map<string, unknown>();
      for (const k of Object.keys(value as object)) {
        const v = (value as Record<string, unknown>)[k];
        out.set(
          k,
          field.mapKind === "message"
            ? singularMessageToPlain(field, field.message, v)
            : field.mapKind === "scalar"
              ? scalarToPlain(field.scalar, v)
              : v,
        );
      }
      return out;
    }
  }
}

function singularMessageToPlain(field: DescField, desc: DescMessage, value: unknown): unknown {
  // protobuf-es represents these two with plain JS values (see reflect.ts messageToLocal).
  if (desc.typeName === "google.protobuf.Struct" && field.parent.typeName !== "google.protobuf.Value")
    return jsonToPlain(value as JsonObject);
  if (field.fieldKind === "message" && !field.oneof && isWrapper(desc)) {
    const inner = desc.fields[0];
    return inner.fieldKind === "scalar" ? scalarToPlain(inner.scalar, value) : value;
  }
  return messageToPlain(desc, value as Record<string, unknown>);
}

/** JSON objects go out as Maps: msgpackr would turn a `__proto__` key of a record into `__proto_`. */
function jsonToPlain(v: JsonValue): unknown {
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map(jsonToPlain);
  const m = new Map<string, unknown>();
  for (const k of Object.keys(v)) m.set(k, jsonToPlain(v[k] as JsonValue));
  return m;
}

function scalarToPlain(t: ScalarType, v: unknown): unknown {
  switch (t) {
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
    case ScalarType.UINT64:
    case ScalarType.FIXED64: {
      // bigint (or a string with jstype JS_STRING) -> a MessagePack integer. msgpackr writes a
      // bigint as 9 bytes and a number beyond 32 bits as a float64, so only 32-bit ones go as numbers.
      const b = typeof v === "bigint" ? v : BigInt(v as string);
      return b <= U32_MAX && b >= I32_MIN ? Number(b) : b;
    }
    default:
      return v;
  }
}

// ---------------------------------------------------------------------------------------------
// Decode: plain value -> message

interface FieldTable {
  /** Field -> its key on the wire. */
  readonly keyOf: Map<DescField, string>;
  /** Wire key (JSON name or proto name) -> field. */
  readonly byKey: Map<string, DescField>;
}
const tables = new WeakMap<DescMessage, FieldTable>();

function fieldTable(desc: DescMessage): FieldTable {
  let t = tables.get(desc);
  if (t === undefined) {
    const keyOf = new Map<DescField, string>();
    const byKey = new Map<string, DescField>();
    for (const f of desc.fields) byKey.set(f.name, f);
    // JSON names second, so they win a clash with another field's proto name (protobuf JSON's rule).
    // A descriptor built by hand may carry an empty json_name: the proto name stands in.
    for (const f of desc.fields) {
      const key = f.jsonName === "" ? f.name : f.jsonName;
      keyOf.set(f, key);
      byKey.set(key, f);
    }
    t = { keyOf, byKey };
    tables.set(desc, t);
  }
  return t;
}

function fail(path: string, what: string): never {
  throw new Error(`msgpack: ${path}: ${what}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Map);
}

function typeOf(v: unknown): string {
  if (v === null) return "nil";
  if (v instanceof Map) return "map";
  if (Array.isArray(v)) return "array";
  if (v instanceof Uint8Array) return "binary";
  return typeof v;
}

function plainToMessage(desc: DescMessage, raw: unknown, path: string): unknown {
  const special =
    desc.typeName === "google.protobuf.Value" ||
    desc.typeName === "google.protobuf.ListValue" ||
    desc.typeName === "google.protobuf.Struct";
  if (special) {
    try {
      return fromJson(desc, plainToJson(raw, path));
    } catch (err) {
      fail(path, (err as Error).message);
    }
  }
  // A record structure (msgpack-records) decodes to an object, a plain map to a Map.
  const entries =
    raw instanceof Map ? raw : isRecord(raw) ? Object.entries(raw) : fail(path, `expected a map for ${desc.typeName}, got ${typeOf(raw)}`);
  const msg = create(desc) as Record<string, unknown>;
  const { byKey } = fieldTable(desc);
  for (const [key, value] of entries) {
    const field = typeof key === "string" ? byKey.get(key) : undefined;
    if (field === undefined) continue; // unknown keys: ignored (forward compatible)
    // nil means "unset", as in protobuf JSON, except for google.protobuf.Value where it is NULL_VALUE.
    if (value === null && field.message?.typeName !== "google.protobuf.Value") continue;
    const p = `${path}.${field.name}`;
    const v = plainToField(field, value, p);
    if (field.oneof) {
      const cur = msg[field.oneof.localName] as { case: string | undefined };
      if (cur.case !== undefined) fail(p, `oneof ${field.oneof.name} already set to ${cur.case}`);
      msg[field.oneof.localName] = { case: field.localName, value: v };
    } else {
      msg[field.localName] = v;
    }
  }
  return msg;
}

function plainToField(field: DescField, value: unknown, path: string): unknown {
  switch (field.fieldKind) {
    case "scalar":
      return plainToScalar(field.scalar, field.longAsString, value, path);
    case "enum":
      return plainToEnum(field, value, path);
    case "message":
      return plainToSingularMessage(field, field.message, value, path);
    case "list": {
      if (!Array.isArray(value)) fail(path, `expected an array, got ${typeOf(value)}`);
      const out = new Array<unknown>(value.length);
      for (let i = 0; i < value.length; i++) {
        const v = value[i];
        const p = `${path}[${i}]`;
        out[i] =
          field.listKind === "message"
            ? plainToSingularMessage(field, field.message, v, p)
            : field.listKind === "scalar"
              ? plainToScalar(field.scalar, field.longAsString, v, p)
              : plainToEnum(field, v, p);
      }
      return out;
    }
    case "map": {
      const entries =
        value instanceof Map ? value : isRecord(value) ? Object.entries(value) : fail(path, `expected a map, got ${typeOf(value)}`);
      const out: Record<string, unknown> = {};
      for (const [k, v] of entries) {
        const key = mapKey(field.mapKey, k, path);
        const p = `${path}[${key}]`;
        const val =
          field.mapKind === "message"
            ? plainToSingularMessage(field, field.message, v, p)
            : field.mapKind === "scalar"
              ? plainToScalar(field.scalar, false, v, p)
              : plainToEnum(field, v, p);
        // defineProperty: a `__proto__` key must become an own entry, not the prototype.
        Object.defineProperty(out, key, { value: val, enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
  }
}

function plainToSingularMessage(field: DescField, desc: DescMessage, value: unknown, path: string): unknown {
  if (desc.typeName === "google.protobuf.Struct" && field.parent.typeName !== "google.protobuf.Value") {
    const json = plainToJson(value, path);
    if (json === null || typeof json !== "object" || Array.isArray(json))
      fail(path, `expected a map for google.protobuf.Struct, got ${typeOf(value)}`);
    return json;
  }
  if (field.fieldKind === "message" && !field.oneof && isWrapper(desc)) {
    const inner = desc.fields[0];
    return inner.fieldKind === "scalar" ? plainToScalar(inner.scalar, false, value, path) : value;
  }
  return plainToMessage(desc, value, path);
}

function plainToEnum(field: DescField, v: unknown, path: string): number {
  const e = field.enum as NonNullable<DescField["enum"]>;
  if (typeof v === "number" && Number.isInteger(v) && v >= -2147483648 && v <= 2147483647) return v;
  if (typeof v === "string") {
    const byName = e.values.find((x) => x.name === v);
    if (byName) return byName.number;
  }
  return fail(path, `expected a ${e.typeName} number, got ${typeOf(v)} ${String(v)}`);
}

const INT32 = [-2147483648, 2147483647] as const;
const UINT32 = [0, 4294967295] as const;
const I64 = [-(2n ** 63n), 2n ** 63n - 1n] as const;
const U64 = [0n, 2n ** 64n - 1n] as const;

function plainToScalar(t: ScalarType, longAsString: boolean, v: unknown, path: string): unknown {
  switch (t) {
    case ScalarType.STRING:
      if (typeof v === "string") return v;
      break;
    case ScalarType.BOOL:
      if (typeof v === "boolean") return v;
      break;
    case ScalarType.BYTES:
      // A view, not a copy, of msgpackr's Buffer: the same aliasing protobuf-es fromBinary has.
      if (v instanceof Uint8Array) return v.constructor === Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      break;
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      if (typeof v === "number") return v;
      if (typeof v === "bigint") return Number(v);
      break;
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
    case ScalarType.UINT32:
    case ScalarType.FIXED32: {
      const [lo, hi] = t === ScalarType.UINT32 || t === ScalarType.FIXED32 ? UINT32 : INT32;
      const n = typeof v === "bigint" ? Number(v) : v;
      if (typeof n === "number" && Number.isInteger(n) && n >= lo && n <= hi) return n;
      break;
    }
    default: {
      // 64-bit: number, bigint or decimal string in, bigint (or string with jstype JS_STRING) out.
      const [lo, hi] = t === ScalarType.UINT64 || t === ScalarType.FIXED64 ? U64 : I64;
      let b: bigint | undefined;
      if (typeof v === "bigint") b = v;
      else if (typeof v === "number" && Number.isSafeInteger(v)) b = BigInt(v);
      else if (typeof v === "string" && /^-?\d{1,20}$/.test(v)) b = BigInt(v);
      if (b !== undefined && b >= lo && b <= hi) return longAsString ? b.toString() : b;
      break;
    }
  }
  return fail(path, `expected ${ScalarType[t].toLowerCase()}, got ${typeOf(v)}${typeof v === "object" ? "" : ` ${String(v)}`}`);
}

function mapKey(t: ScalarType, k: unknown, path: string): string {
  if (t === ScalarType.STRING) {
    if (typeof k === "string") return k;
    return fail(path, `expected a string map key, got ${typeOf(k)}`);
  }
  if (t === ScalarType.BOOL) {
    if (k === true || k === "true") return "true";
    if (k === false || k === "false") return "false";
    return fail(path, `expected a bool map key, got ${typeOf(k)} ${String(k)}`);
  }
  // Integer keys: canonical decimal, range-checked like a value.
  return String(
    plainToScalar(
      t,
      true,
      typeof k === "string" &&
        /^-?\d+$/.test(k) &&
        t !== ScalarType.INT64 &&
        t !== ScalarType.UINT64 &&
        t !== ScalarType.SINT64 &&
        t !== ScalarType.FIXED64 &&
        t !== ScalarType.SFIXED64
        ? Number(k)
        : k,
      `${path} key`,
    ),
  );
}

function plainToJson(v: unknown, path: string): JsonValue {
  if (v === null || typeof v === "string" || typeof v === "boolean" || typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  if (Array.isArray(v)) return v.map((x, i) => plainToJson(x, `${path}[${i}]`));
  if (v instanceof Map || isRecord(v)) {
    const o: JsonObject = {};
    for (const [k, x] of v instanceof Map ? v : Object.entries(v)) {
      if (typeof k !== "string") fail(path, `expected string keys in a JSON object, got ${typeOf(k)}`);
      Object.defineProperty(o, k, { value: plainToJson(x, `${path}.${k}`), enumerable: true, writable: true, configurable: true });
    }
    return o;
  }
  return fail(path, `expected a JSON-compatible value, got ${typeOf(v)}`);
}
