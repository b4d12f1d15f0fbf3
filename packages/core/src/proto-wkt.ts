// Local-representation mappers shared by Petrel's fast protobuf encoder and decoder
// (proto-encode.ts / proto-decode.ts). protobuf-es v2 stores two kinds of message-typed fields
// not as messages (see @bufbuild/protobuf dist/esm/reflect/message.js `localMessageMapper`):
//   - google.protobuf.Struct, in any field whose parent is not google.protobuf.Value, is a plain
//     JSON object;
//   - a wrapper (google.protobuf.Int32Value …) in a singular field outside a oneof is the bare
//     scalar.
// These helpers replicate those conversions exactly, so the codec stays wire- and shape-identical.
import type { DescField, DescMessage } from "@bufbuild/protobuf";

/** The field value is the message itself. */
export const MAPPER_NONE = 0;
/** The field value is the wrapped scalar (google.protobuf.*Value, singular, not in a oneof). */
export const MAPPER_WRAPPER = 1;
/** The field value is a JsonObject standing for a google.protobuf.Struct. */
export const MAPPER_STRUCT = 2;

const wrapperTypeNames = new Set([
  "google.protobuf.DoubleValue",
  "google.protobuf.FloatValue",
  "google.protobuf.Int64Value",
  "google.protobuf.UInt64Value",
  "google.protobuf.Int32Value",
  "google.protobuf.UInt32Value",
  "google.protobuf.BoolValue",
  "google.protobuf.StringValue",
  "google.protobuf.BytesValue",
]);

/** Same test as protobuf-es `isWrapperDesc`. */
export function isWrapperDesc(desc: DescMessage): boolean {
  const f = desc.fields[0];
  return wrapperTypeNames.has(desc.typeName) && f !== undefined && f.fieldKind === "scalar" && f.name === "value" && f.number === 1;
}

/** Which local representation protobuf-es uses for the message values of `field`. */
export function mapperOf(field: DescField): number {
  const message = field.message;
  if (message === undefined) return MAPPER_NONE;
  if (message.typeName === "google.protobuf.Struct" && field.parent.typeName !== "google.protobuf.Value") {
    return MAPPER_STRUCT;
  }
  if (field.fieldKind === "message" && !field.oneof && isWrapperDesc(message)) return MAPPER_WRAPPER;
  return MAPPER_NONE;
}

// biome-ignore lint/suspicious/noExplicitAny: messages are accessed reflectively
type Any = any;

/** Sets a property, treating `__proto__` as an own data property (protobuf-es `setOwn`). */
export function setOwn(obj: Any, key: Any, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(obj, "__proto__", { value, writable: true, enumerable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

function isObject(arg: unknown): boolean {
  return arg !== null && typeof arg === "object" && !Array.isArray(arg);
}

/** JsonObject -> google.protobuf.Struct message (protobuf-es `wktStructToReflect`). */
export function structToReflect(json: unknown): Any {
  const struct: Any = { $typeName: "google.protobuf.Struct", fields: {} };
  if (isObject(json)) {
    const obj = json as Record<string, unknown>;
    for (const k of Object.keys(obj)) setOwn(struct.fields, k, valueToReflect(obj[k]));
  }
  return struct;
}

function valueToReflect(json: unknown): Any {
  const value: Any = { $typeName: "google.protobuf.Value", kind: { case: undefined } };
  switch (typeof json) {
    case "number":
      value.kind = { case: "numberValue", value: json };
      break;
    case "string":
      value.kind = { case: "stringValue", value: json };
      break;
    case "boolean":
      value.kind = { case: "boolValue", value: json };
      break;
    case "object":
      if (json === null) {
        value.kind = { case: "nullValue", value: 0 };
      } else if (Array.isArray(json)) {
        const listValue: Any = { $typeName: "google.protobuf.ListValue", values: [] };
        for (const e of json) listValue.values.push(valueToReflect(e));
        value.kind = { case: "listValue", value: listValue };
      } else {
        value.kind = { case: "structValue", value: structToReflect(json) };
      }
      break;
  }
  return value;
}

/** google.protobuf.Struct message -> JsonObject (protobuf-es `wktStructToLocal`). */
export function structToLocal(val: Any): Any {
  const json: Any = {};
  for (const k of Object.keys(val.fields)) setOwn(json, k, valueToLocal(val.fields[k]));
  return json;
}

function valueToLocal(val: Any): unknown {
  switch (val.kind.case) {
    case "structValue":
      return structToLocal(val.kind.value);
    case "listValue":
      return val.kind.value.values.map(valueToLocal);
    case "nullValue":
    case undefined:
      return null;
    default:
      return val.kind.value;
  }
}
