// Builds the request message of a transcoded call from path variables, query parameters and the
// JSON body. Everything is first assembled as one protobuf-JSON object and decoded once with
// protobuf-es `fromJson`, so the protobuf JSON rules (JSON names, well-known types, unknown
// fields, wrong types) apply to every source alike and produce one kind of error.
import {
  fromJson,
  ScalarType,
  type DescField,
  type DescMessage,
  type JsonValue,
  type MessageShape,
  type Registry,
} from "@bufbuild/protobuf";
import { Code, RpcError } from "@petrel/core";
import { isScalarLikeMessage, resolveFieldPath, type Route } from "./http-rules.js";
import type { PathBindings } from "./path-template.js";

/** How lenient the mapping is. */
export interface RequestMappingOptions {
  /** Registry for `google.protobuf.Any` in bodies. */
  readonly registry: Registry;
  /** Drop unknown JSON fields instead of answering 400 (protobuf-es `ignoreUnknownFields`). */
  readonly ignoreUnknownFields: boolean;
  /** Drop query parameters that name no field instead of answering 400 (Envoy's `ignore_unknown_query_parameters`). */
  readonly ignoreUnknownQueryParameters: boolean;
}

function bad(message: string): RpcError {
  return new RpcError(Code.INVALID_ARGUMENT, message);
}

type JsonObject = { [k: string]: JsonValue };

function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Converts one textual value (path or query) to the JSON the field's protobuf-JSON decoder takes. */
function textToJson(field: DescField, text: string): JsonValue {
  let scalar: ScalarType | undefined;
  let isEnum = false;
  let message: DescMessage | undefined;
  switch (field.fieldKind) {
    case "scalar":
      scalar = field.scalar;
      break;
    case "enum":
      isEnum = true;
      break;
    case "message":
      message = field.message;
      break;
    case "list":
      if (field.listKind === "scalar") scalar = field.scalar;
      else if (field.listKind === "enum") isEnum = true;
      else message = field.message;
      break;
    case "map":
      throw bad(`field ${field.name} is a map and cannot be set from a path or query parameter`);
  }
  if (message !== undefined) {
    if (!isScalarLikeMessage(message)) throw bad(`field ${field.name} is a message and cannot be set from a path or query parameter`);
    const inner = message.fields[0];
    // Wrappers take their inner scalar's JSON; Timestamp, Duration and FieldMask are strings.
    if (message.typeName.endsWith("Value") && inner !== undefined) return textToJson(inner, text);
    return text;
  }
  if (isEnum) return /^-?\d+$/.test(text) ? Number(text) : text;
  if (scalar === ScalarType.BOOL) {
    const l = text.toLowerCase();
    if (l === "true" || l === "1") return true;
    if (l === "false" || l === "0") return false;
    throw bad(`field ${field.name}: ${JSON.stringify(text)} is not a boolean`);
  }
  // Numbers stay strings: protobuf JSON accepts quoted numbers for every numeric type, and a
  // string keeps 64-bit values exact.
  return text;
}

/** Sets `value` at the field chain inside `root`, creating objects and folding proto-name keys into JSON names. */
function setAt(root: JsonObject, chain: readonly DescField[], value: JsonValue, what: string): void {
  let obj = root;
  for (let k = 0; k < chain.length; k++) {
    const f = chain[k] as DescField;
    if (f.name !== f.jsonName && f.name in obj) {
      if (!(f.jsonName in obj)) obj[f.jsonName] = obj[f.name] as JsonValue;
      delete obj[f.name];
    }
    if (k === chain.length - 1) {
      obj[f.jsonName] = value;
      return;
    }
    let next = obj[f.jsonName];
    if (next === undefined || next === null) {
      next = {};
      obj[f.jsonName] = next;
    } else if (!isObject(next)) {
      throw bad(
        `${what}: ${chain
          .slice(0, k + 1)
          .map((c) => c.name)
          .join(".")} is not an object in the request`,
      );
    }
    obj = next;
  }
}

/** Parses a JSON body; empty means absent. */
export function parseJsonBody(bytes: Uint8Array): JsonValue | undefined {
  if (bytes.length === 0) return undefined;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw bad("request body is not valid UTF-8");
  }
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text) as JsonValue;
  } catch (e) {
    throw bad(`request body is not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * The request message for `route` from its path bindings, query and body. Throws an
 * INVALID_ARGUMENT RpcError for anything that does not fit the request type.
 */
export function buildRequest(
  route: Route,
  bindings: PathBindings,
  query: URLSearchParams,
  body: JsonValue | undefined,
  options: RequestMappingOptions,
): MessageShape<DescMessage> {
  const input = route.method.input;
  let root: JsonObject = {};
  if (route.body === "*") {
    if (body !== undefined) {
      if (!isObject(body)) throw bad(`request body must be a JSON object (${input.typeName})`);
      root = body;
    }
  } else if (route.body !== undefined && body !== undefined) {
    root[route.body.jsonName] = body;
  }
  for (const [key, value] of bindings) {
    const chain = route.pathFields.get(key) as readonly DescField[];
    setAt(root, chain, textToJson(chain[chain.length - 1] as DescField, value), `path variable ${key}`);
  }
  // With body "*" every field comes from the body; grpc-gateway ignores the query then too.
  if (route.body !== "*") {
    const seen = new Set<string>();
    for (const name of query.keys()) {
      if (seen.has(name)) continue;
      seen.add(name);
      const chain = resolveFieldPath(input, name.split("."));
      if (typeof chain === "string") {
        if (options.ignoreUnknownQueryParameters) continue;
        throw bad(`unknown query parameter ${JSON.stringify(name)}: ${chain}`);
      }
      const dotted = chain.map((f) => f.name).join(".");
      // Path variables win over the query; the body field is not filled from the query.
      if (route.pathFields.has(dotted) || (route.body !== undefined && chain[0] === route.body)) continue;
      const leaf = chain[chain.length - 1] as DescField;
      const values = query.getAll(name);
      if (leaf.fieldKind === "list")
        setAt(
          root,
          chain,
          values.map((v) => textToJson(leaf, v)),
          `query parameter ${name}`,
        );
      else {
        if (values.length > 1) throw bad(`query parameter ${JSON.stringify(name)} is not repeated but given ${values.length} times`);
        setAt(root, chain, textToJson(leaf, values[0] as string), `query parameter ${name}`);
      }
    }
  }
  try {
    return fromJson(input, root, { registry: options.registry, ignoreUnknownFields: options.ignoreUnknownFields });
  } catch (e) {
    throw bad((e as Error).message);
  }
}
