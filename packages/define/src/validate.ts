import { create, createFileRegistry, type DescMessage, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FieldDescriptorProto_Label, FieldDescriptorProto_Type } from "@bufbuild/protobuf/wkt";
import { Code, RpcError } from "@petrel/core";
import { Kind, type TSchema } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import type { ValueError } from "@sinclair/typebox/errors";
import { Value } from "@sinclair/typebox/value";

/** A validator for one schema: a fast boolean check, and the errors for the slow (failing) path. */
export interface Checker {
  check(value: unknown): boolean;
  errors(value: unknown): Iterable<ValueError>;
}

/**
 * Compiles `schema` with TypeBox's TypeCompiler (generated code, the fast path). Runtimes that
 * forbid code generation (`new Function` throws EvalError under a strict CSP or on some edge
 * runtimes) get TypeBox's interpreting `Value.Check`, same results, slower.
 */
export function compileChecker(schema: TSchema): Checker {
  try {
    const compiled = TypeCompiler.Compile(schema);
    return { check: (v) => compiled.Check(v), errors: (v) => compiled.Errors(v) };
  } catch (e) {
    if (!(e instanceof EvalError)) throw e;
    return { check: (v) => Value.Check(schema, v), errors: (v) => Value.Errors(schema, v) };
  }
}

/** At most this many schema violations are reported per call. */
const maxReported = 5;

/** One schema violation: where (JSON Pointer) and what. */
export interface Violation {
  readonly path: string;
  readonly message: string;
}

/** The first few distinct violations of a failing value. */
export function firstViolations(checker: Checker, value: unknown): Violation[] {
  const out: Violation[] = [];
  const seen = new Set<string>();
  for (const e of checker.errors(value)) {
    const key = `${e.path}\0${e.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ path: e.path, message: e.message });
    if (out.length === maxReported) break;
  }
  return out;
}

/** `/a/0/b` -> `a[0].b` (the field path form of google.rpc.BadRequest, AIP-193). */
export function pointerToFieldPath(pointer: string): string {
  let out = "";
  for (const raw of pointer.split("/").slice(1)) {
    const seg = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (/^(0|[1-9][0-9]*)$/.test(seg)) out += `[${seg}]`;
    else out += out === "" ? seg : `.${seg}`;
  }
  return out;
}

/**
 * The error for params that fail their schema: INVALID_ARGUMENT, the first violations in the
 * message (`what: /A: Expected integer; /B: Expected required property`), and the same as a
 * `google.rpc.BadRequest` detail that gRPC clients in any language can decode.
 */
export function invalidArgument(what: string, violations: readonly Violation[]): RpcError {
  const text = violations.map((v) => `${v.path === "" ? "(root)" : v.path}: ${v.message}`).join("; ");
  const err = new RpcError(Code.INVALID_ARGUMENT, `${what}: ${text || "does not match the schema"}`);
  const detail = create(badRequestSchema, {
    fieldViolations: violations.map((v) => ({ field: pointerToFieldPath(v.path), description: v.message })),
  } as never);
  err.details.push({ typeName: badRequestSchema.typeName, value: toBinary(badRequestSchema, detail) });
  return err;
}

// google.rpc.BadRequest, wire-compatible subset of google/rpc/error_details.proto (fields 1-2 of
// both messages), built in code so the package needs no generated googleapis code.
const badRequestFile = create(FileDescriptorProtoSchema, {
  name: "petrel/define/google_rpc_bad_request.proto",
  package: "google.rpc",
  syntax: "proto3",
  messageType: [
    {
      name: "BadRequest",
      field: [
        {
          name: "field_violations",
          jsonName: "fieldViolations",
          number: 1,
          label: FieldDescriptorProto_Label.REPEATED,
          type: FieldDescriptorProto_Type.MESSAGE,
          typeName: ".google.rpc.BadRequest.FieldViolation",
        },
      ],
      nestedType: [
        {
          name: "FieldViolation",
          field: [
            {
              name: "field",
              jsonName: "field",
              number: 1,
              label: FieldDescriptorProto_Label.OPTIONAL,
              type: FieldDescriptorProto_Type.STRING,
            },
            {
              name: "description",
              jsonName: "description",
              number: 2,
              label: FieldDescriptorProto_Label.OPTIONAL,
              type: FieldDescriptorProto_Type.STRING,
            },
          ],
        },
      ],
    },
  ],
});

/**
 * `google.rpc.BadRequest` (only `field_violations[].field` and `.description`), the detail that
 * carries schema violations. Decode with `err.findDetails(badRequestSchema)`.
 */
export const badRequestSchema: DescMessage = createFileRegistry(badRequestFile, () => undefined).getMessage(
  "google.rpc.BadRequest",
) as DescMessage;

/** TypeBox kinds with no JSON form: they cannot travel in a `google.protobuf.Value`. */
const nonJsonKinds = new Set([
  "AsyncIterator",
  "BigInt",
  "Constructor",
  "Date",
  "Function",
  "Iterator",
  "Promise",
  "Symbol",
  "Uint8Array",
  "Undefined",
  "Void",
]);

/**
 * Throws a TypeError naming the first non-JSON TypeBox kind inside `schema` (a Date or bigint
 * schema would validate values that can never reach the handler over any protocol).
 */
export function assertJsonSchema(schema: TSchema, where: string): void {
  const seen = new Set<object>();
  const walk = (node: unknown, path: string): void => {
    if (node === null || typeof node !== "object" || seen.has(node)) return;
    seen.add(node);
    const kind = (node as Record<symbol, unknown>)[Kind];
    if (typeof kind === "string" && nonJsonKinds.has(kind)) {
      const hint = kind === "Undefined" || kind === "Void" ? " (use Type.Null() for 'no value')" : "";
      throw new TypeError(`${where}${path}: TypeBox ${kind} has no JSON form${hint}`);
    }
    for (const key of Object.keys(node)) walk((node as Record<string, unknown>)[key], `${path}/${key}`);
  };
  if (schema === null || typeof schema !== "object" || typeof (schema as unknown as Record<symbol, unknown>)[Kind] !== "string") {
    throw new TypeError(`${where}: not a TypeBox schema`);
  }
  walk(schema, "");
}
