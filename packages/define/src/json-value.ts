import type { JsonValue } from "@bufbuild/protobuf";
import { type ListValue, NullValue, type Struct, type Value } from "@bufbuild/protobuf/wkt";

/**
 * Conversions between plain JSON values and `google.protobuf.Value` messages, the wire type of
 * every `defineService` method. Written by hand instead of protobuf-es `fromJson`/`toJson`
 * because those walk the descriptor reflectively for every node; these build the protobuf-es v2
 * local representation (plain objects tagged with `$typeName`; struct.proto is proto3, so there
 * are no prototypes to set up) directly.
 */

/** Deeper values are refused: it bounds recursion, and it is how a cyclic object is caught. */
export const maxJsonDepth = 1000;

const VALUE = "google.protobuf.Value";
const STRUCT = "google.protobuf.Struct";
const LIST = "google.protobuf.ListValue";

/** Thrown for a value that has no JSON (and so no `google.protobuf.Value`) form. */
export class NotJsonError extends Error {
  /** JSON Pointer of the offending value inside the converted one. */
  readonly path: string;
  constructor(path: string, what: string) {
    super(`${path === "" ? "value" : path}: ${what}`);
    this.name = "NotJsonError";
    this.path = path;
  }
}

function pointer(path: string, key: string | number): string {
  return `${path}/${String(key).replaceAll("~", "~0").replaceAll("/", "~1")}`;
}

/**
 * Plain JSON -> `google.protobuf.Value`, following `JSON.stringify`'s rules where they are
 * unambiguous (`toJSON` is called; object properties that are `undefined` are left out; a
 * top-level `undefined` becomes null), and refusing what `JSON.stringify` would silently turn
 * into `null` or drop (NaN, ±Infinity, bigint, functions, symbols, `undefined` in an array).
 * @throws NotJsonError
 */
export function jsonToValue(json: unknown): Value {
  return toValue(json === undefined ? null : json, "", 0);
}

function toValue(v: unknown, path: string, depth: number): Value {
  switch (typeof v) {
    case "string":
      return { $typeName: VALUE, kind: { case: "stringValue", value: v } };
    case "number":
      if (!Number.isFinite(v)) throw new NotJsonError(path, `${v} is not a JSON number`);
      return { $typeName: VALUE, kind: { case: "numberValue", value: v } };
    case "boolean":
      return { $typeName: VALUE, kind: { case: "boolValue", value: v } };
    case "object": {
      if (v === null) return { $typeName: VALUE, kind: { case: "nullValue", value: NullValue.NULL_VALUE } };
      if (depth >= maxJsonDepth) throw new NotJsonError(path, `nested deeper than ${maxJsonDepth} levels (or cyclic)`);
      const o = v as Record<string, unknown>;
      if (typeof o.toJSON === "function") return toValue((o.toJSON as () => unknown)(), path, depth + 1);
      if (Array.isArray(v)) {
        // Indexed loop: arrays can be long, and for..of allocates an iterator.
        const values = new Array<Value>(v.length);
        for (let i = 0; i < v.length; i++) {
          if (v[i] === undefined) throw new NotJsonError(pointer(path, i), "undefined is not JSON");
          values[i] = toValue(v[i], pointer(path, i), depth + 1);
        }
        const list: ListValue = { $typeName: LIST, values };
        return { $typeName: VALUE, kind: { case: "listValue", value: list } };
      }
      const fields: Record<string, Value> = {};
      for (const key of Object.keys(o)) {
        const fv = o[key];
        if (fv === undefined) continue;
        setOwn(fields, key, toValue(fv, pointer(path, key), depth + 1));
      }
      const struct: Struct = { $typeName: STRUCT, fields };
      return { $typeName: VALUE, kind: { case: "structValue", value: struct } };
    }
    default:
      throw new NotJsonError(path, `${typeof v} is not JSON`);
  }
}

/**
 * `google.protobuf.Value` -> plain JSON. A Value with no kind set (what an empty binary message
 * decodes to) reads as `null`, like a missing JSON value.
 */
export function valueToJson(value: Value): JsonValue {
  return fromValue(value, 0);
}

function fromValue(value: Value, depth: number): JsonValue {
  const kind = value.kind;
  switch (kind.case) {
    case "stringValue":
    case "numberValue":
    case "boolValue":
      return kind.value;
    case "structValue": {
      if (depth >= maxJsonDepth) throw new NotJsonError("", `nested deeper than ${maxJsonDepth} levels`);
      const fields = kind.value.fields;
      const out: Record<string, JsonValue> = {};
      for (const key of Object.keys(fields)) setOwn(out, key, fromValue(fields[key] as Value, depth + 1));
      return out;
    }
    case "listValue": {
      if (depth >= maxJsonDepth) throw new NotJsonError("", `nested deeper than ${maxJsonDepth} levels`);
      const values = kind.value.values;
      const out = new Array<JsonValue>(values.length);
      for (let i = 0; i < values.length; i++) out[i] = fromValue(values[i] as Value, depth + 1);
      return out;
    }
    default:
      return null;
  }
}

/** `obj[key] = value`, but a `__proto__` key becomes an own property (as `JSON.parse` does). */
function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}
