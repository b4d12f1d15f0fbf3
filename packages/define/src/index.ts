/**
 * @petrel/define — TypeScript-first Petrel services: no .proto, no code generation.
 *
 * ```ts
 * const Arith = defineService("arith.Arith", {
 *   Multiply: { params: Type.Object({ A: Type.Integer(), B: Type.Integer() }), result: Type.Integer() },
 * });
 * router.service(...Arith.implement({ Multiply: ({ A, B }) => A * B }));
 * const client = createTypedClient(Arith, transport);
 * await client.Multiply({ A: 7, B: 6 }); // 42, typed as number
 * ```
 *
 * Every method takes and returns `google.protobuf.Value` in a descriptor built at runtime, so
 * all Petrel protocols serve the service unchanged: JSON protocols carry the plain JSON of the
 * params and result (`{"A":7,"B":6}` -> `42`), binary ones a protobuf-encoded Value.
 *
 * Why TypeBox (over zod or valibot): a TypeBox schema *is* a JSON Schema object, so the same
 * definition documents the API (OpenAPI, OpenRPC, `toJsonSchema`) with no conversion step;
 * `Static<typeof schema>` gives the TypeScript types; and its TypeCompiler turns a schema into a
 * specialised validation function, among the fastest JavaScript validators in published
 * benchmarks. zod (the most familiar API) and valibot (small, tree-shakable) keep their own
 * object graphs and reach JSON Schema through a converter (`z.toJSONSchema` in zod 4,
 * `@valibot/to-json-schema`), which cannot express transforms and custom refinements, so the
 * documented contract and the enforced one can drift; their parse paths are also interpreted,
 * not compiled. Runtimes that forbid code generation fall back to TypeBox's interpreting
 * checker automatically.
 *
 * @module
 */
export {
  defineService,
  type ImplementOptions,
  type MethodSchema,
  type MethodSchemas,
  type ServiceDefinition,
  type ServiceHandlers,
  type TypedHandler,
} from "./define-service.js";
export { createTypedClient, type TypedClient, type TypedClientMethod, type TypedClientOptions } from "./typed-client.js";
export { toJsonSchema, type ServiceJsonSchema } from "./json-schema.js";
export { jsonToValue, valueToJson, maxJsonDepth, NotJsonError } from "./json-value.js";
export { badRequestSchema } from "./validate.js";
