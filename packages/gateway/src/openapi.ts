// An OpenAPI 3.1 document from the routes: paths from the templates, parameters from path
// variables and query-mappable fields, bodies and responses as JSON Schema of the protobuf JSON
// mapping (JSON names, well-known types as their JSON forms, enums as strings).
import { ScalarType, type DescEnum, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { isScalarLikeMessage, type Route } from "./http-rules.js";

/** The document's `info`. */
export interface OpenApiInfo {
  title: string;
  version: string;
  description?: string;
}

type Schema = Record<string, unknown>;

const STATUS_SCHEMA = "google.rpc.Status";

function scalarSchema(t: ScalarType): Schema {
  switch (t) {
    case ScalarType.STRING:
      return { type: "string" };
    case ScalarType.BYTES:
      return { type: "string", contentEncoding: "base64" };
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return { type: "integer", format: "int32" };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: "integer", format: "uint32", minimum: 0 };
    case ScalarType.FLOAT:
      return { type: "number", format: "float" };
    case ScalarType.DOUBLE:
      return { type: "number", format: "double" };
    default:
      // 64-bit integers are JSON strings in the protobuf mapping (numbers are accepted on input).
      return { type: "string", format: t === ScalarType.UINT64 || t === ScalarType.FIXED64 ? "uint64" : "int64" };
  }
}

/** JSON Schemas of the well-known types, by their JSON mapping. */
function wktSchema(m: DescMessage): Schema | undefined {
  switch (m.typeName) {
    case "google.protobuf.Timestamp":
      return { type: "string", format: "date-time" };
    case "google.protobuf.Duration":
      return { type: "string", pattern: "^-?[0-9]+(\\.[0-9]{1,9})?s$", examples: ["1.5s"] };
    case "google.protobuf.FieldMask":
      return { type: "string", description: "Comma-separated field paths (JSON names)." };
    case "google.protobuf.Struct":
      return { type: "object", additionalProperties: true };
    case "google.protobuf.Value":
      return {};
    case "google.protobuf.ListValue":
      return { type: "array", items: {} };
    case "google.protobuf.Empty":
      return { type: "object", additionalProperties: false };
    case "google.protobuf.Any":
      return { type: "object", properties: { "@type": { type: "string" } }, required: ["@type"], additionalProperties: true };
  }
  if (isScalarLikeMessage(m) && m.typeName.endsWith("Value")) {
    const inner = scalarSchema((m.fields[0] as DescField & { scalar: ScalarType }).scalar);
    return { ...inner, type: [inner.type as string, "null"] };
  }
  return undefined;
}

class SchemaBuilder {
  readonly components: Record<string, Schema> = {};

  enumSchema(e: DescEnum): Schema {
    const name = e.typeName;
    if (!(name in this.components)) {
      this.components[name] = { type: "string", enum: e.values.map((v) => v.name) };
    }
    return { $ref: `#/components/schemas/${name}` };
  }

  messageSchema(m: DescMessage): Schema {
    const wkt = wktSchema(m);
    if (wkt !== undefined) return wkt;
    const name = m.typeName;
    if (!(name in this.components)) {
      const properties: Record<string, Schema> = {};
      this.components[name] = { type: "object", properties };
      for (const f of m.fields) properties[f.jsonName] = this.fieldSchema(f);
    }
    return { $ref: `#/components/schemas/${name}` };
  }

  /** The schema of one element (list and map values) or of a singular field. */
  private elementSchema(f: DescField): Schema {
    if (f.fieldKind === "list") {
      if (f.listKind === "scalar") return scalarSchema(f.scalar);
      if (f.listKind === "enum") return this.enumSchema(f.enum);
      return this.messageSchema(f.message);
    }
    if (f.fieldKind === "map") {
      if (f.mapKind === "scalar") return scalarSchema(f.scalar);
      if (f.mapKind === "enum") return this.enumSchema(f.enum);
      return this.messageSchema(f.message);
    }
    if (f.fieldKind === "scalar") return scalarSchema(f.scalar);
    if (f.fieldKind === "enum") return this.enumSchema(f.enum);
    return this.messageSchema(f.message);
  }

  fieldSchema(f: DescField): Schema {
    const el = this.elementSchema(f);
    if (f.fieldKind === "list") return { type: "array", items: el };
    if (f.fieldKind === "map") return { type: "object", additionalProperties: el };
    return el;
  }
}

/** `/v1/{name=shelves/*}/books` -> `/v1/{name}/books`; anonymous wildcards become `{_1}`, `{_2}`... */
function openApiPath(route: Route): { path: string; vars: { name: string; pattern: string; field: DescField }[] } {
  const t = route.template;
  const parts: string[] = [];
  const vars: { name: string; pattern: string; field: DescField }[] = [];
  let anon = 0;
  for (let i = 0; i < t.segments.length; ) {
    const v = t.variables.find((x) => x.start === i);
    if (v !== undefined) {
      const name = v.fieldPath.join(".");
      const pattern = t.segments
        .slice(v.start, v.end)
        .map((s) => (s.t === "literal" ? s.value : s.t === "any" ? "*" : "**"))
        .join("/");
      const chain = route.pathFields.get(name) as readonly DescField[];
      vars.push({ name, pattern, field: chain[chain.length - 1] as DescField });
      parts.push(`{${name}}`);
      i = Math.max(v.end, i + 1);
      continue;
    }
    const s = t.segments[i];
    parts.push(s?.t === "literal" ? s.value : `{_${++anon}}`);
    i++;
  }
  return { path: `/${parts.join("/")}${t.verb === undefined ? "" : `:${t.verb}`}`, vars };
}

/** Fields settable from the query: scalars, enums, scalar-like WKTs, their lists; nested messages by dotted names. */
function queryParams(
  m: DescMessage,
  jsonPrefix: string,
  protoPrefix: string,
  skip: (dotted: string, f: DescField) => boolean,
  b: SchemaBuilder,
  depth: number,
  out: Schema[],
): void {
  for (const f of m.fields) {
    const name = jsonPrefix + f.jsonName;
    const dotted = protoPrefix + f.name;
    if (skip(dotted, f) || f.fieldKind === "map") continue;
    if (f.fieldKind === "message" && !isScalarLikeMessage(f.message)) {
      // Depth 3 stops recursive messages from expanding forever.
      if (depth < 3) queryParams(f.message, `${name}.`, `${dotted}.`, skip, b, depth + 1, out);
      continue;
    }
    if (f.fieldKind === "list" && f.listKind === "message" && !isScalarLikeMessage(f.message)) continue;
    out.push({
      name,
      in: "query",
      required: false,
      schema: b.fieldSchema(f),
      ...(f.fieldKind === "list" ? { style: "form", explode: true } : {}),
    });
  }
}

const ERROR_RESPONSE = {
  description: "An error: google.rpc.Status with the gRPC code; the HTTP status follows the grpc-gateway mapping.",
  content: { "application/json": { schema: { $ref: `#/components/schemas/${STATUS_SCHEMA}` } } },
};

/** Builds the OpenAPI 3.1 document for `routes`. */
export function createOpenApiDocument(routes: readonly Route[], info?: OpenApiInfo): Record<string, unknown> {
  const b = new SchemaBuilder();
  b.components[STATUS_SCHEMA] = {
    type: "object",
    properties: {
      code: { type: "integer", format: "int32", description: "gRPC status code" },
      message: { type: "string" },
      details: { type: "array", items: wktSchemaAny() },
    },
  };
  const paths: Record<string, Record<string, unknown>> = {};
  const opIds = new Set<string>();
  for (const route of routes) {
    const { path, vars } = openApiPath(route);
    const parameters: Schema[] = vars.map((v) => ({
      name: v.name,
      in: "path",
      required: true,
      description: v.pattern === "*" ? undefined : `Matches the pattern \`${v.pattern}\`.`,
      schema: b.fieldSchema(v.field),
    }));
    for (const p of parameters) if (p.description === undefined) delete p.description;
    if (route.body !== "*") {
      const bodyField = route.body;
      queryParams(route.method.input, "", "", (dotted, f) => route.pathFields.has(dotted) || f === bodyField, b, 0, parameters);
    }
    let opId = `${route.service.name}_${route.method.name}`;
    for (let n = 2; opIds.has(opId); n++) opId = `${route.service.name}_${route.method.name}${n}`;
    opIds.add(opId);
    const out = route.responseBody === undefined ? b.messageSchema(route.method.output) : b.fieldSchema(route.responseBody);
    const ok =
      route.method.methodKind === "server_streaming"
        ? {
            description:
              'A stream: newline-delimited JSON (`{"result": ...}` per message, `{"error": Status}` last on failure), or Server-Sent Events with `Accept: text/event-stream`.',
            content: {
              "application/x-ndjson": {
                schema: { type: "object", properties: { result: out, error: { $ref: `#/components/schemas/${STATUS_SCHEMA}` } } },
              },
              "text/event-stream": { schema: { type: "string" } },
            },
          }
        : { description: "OK", content: { "application/json": { schema: out } } };
    const op: Record<string, unknown> = {
      operationId: opId,
      tags: [route.service.typeName],
      parameters,
      responses: { "200": ok, default: ERROR_RESPONSE },
    };
    if (route.body !== undefined) {
      op.requestBody = {
        required: true,
        content: { "application/json": { schema: route.body === "*" ? b.messageSchema(route.method.input) : b.fieldSchema(route.body) } },
      };
    }
    let item = paths[path];
    if (item === undefined) {
      item = {};
      paths[path] = item;
    }
    const verb = route.httpMethod.toLowerCase();
    // OpenAPI 3.1 has fixed operation names; custom methods (e.g. SEARCH) have no place there.
    if (!["get", "put", "post", "delete", "patch", "options", "head", "trace"].includes(verb)) {
      item[`x-${verb}`] = op;
      continue;
    }
    if (!(verb in item)) item[verb] = op;
  }
  return {
    openapi: "3.1.0",
    info: info ?? { title: "Petrel REST gateway", version: "1.0.0" },
    paths,
    components: { schemas: b.components },
  };
}

function wktSchemaAny(): Schema {
  return { type: "object", properties: { "@type": { type: "string" } }, required: ["@type"], additionalProperties: true };
}
