import type { MethodSchemas, ServiceDefinition } from "./define-service.js";

/** The JSON Schema document of a service, for docs and generators (OpenRPC, OpenAPI …). */
export interface ServiceJsonSchema {
  /** Fully-qualified service name. */
  service: string;
  /** One entry per method, by wire name. */
  methods: Record<
    string,
    {
      /** `/package.Service/Method` (gRPC, petrel/1, Connect path). */
      path: string;
      kind: "unary" | "server_streaming";
      description?: string;
      idempotent?: boolean;
      /** JSON Schema (draft 2020-12 compatible) of the params. */
      params: Record<string, unknown>;
      /** JSON Schema of the result (of each message, for streams). */
      result: Record<string, unknown>;
    }
  >;
}

/**
 * The JSON Schemas of every method. TypeBox schemas are JSON Schema already: the only step is
 * dropping TypeBox's symbol-keyed bookkeeping, which a JSON round trip does.
 */
export function toJsonSchema<M extends MethodSchemas>(def: ServiceDefinition<M>): ServiceJsonSchema {
  const methods: ServiceJsonSchema["methods"] = {};
  for (const [key, spec] of Object.entries(def.methods as MethodSchemas)) {
    methods[key] = {
      path: `/${def.typeName}/${key}`,
      kind: spec.stream === "server" ? "server_streaming" : "unary",
      ...(spec.description !== undefined ? { description: spec.description } : {}),
      ...(spec.idempotent === true ? { idempotent: true } : {}),
      params: JSON.parse(JSON.stringify(spec.params)),
      result: JSON.parse(JSON.stringify(spec.result)),
    };
  }
  return { service: def.typeName, methods };
}
