import { create, createFileRegistry, type DescFile, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, file_google_protobuf_struct, MethodOptions_IdempotencyLevel, type Value } from "@bufbuild/protobuf/wkt";
import { Code, type HandlerContext, RpcError, type ServiceImpl } from "@petrel/core";
import type { Static, TSchema } from "@sinclair/typebox";
import { jsonToValue, NotJsonError, valueToJson } from "./json-value.js";
import { assertJsonSchema, type Checker, compileChecker, firstViolations, invalidArgument } from "./validate.js";

/** The schemas and options of one method. */
export interface MethodSchema<P extends TSchema = TSchema, R extends TSchema = TSchema> {
  /** Schema of the params (the request). */
  readonly params: P;
  /** Schema of the result (the response, or each streamed message). */
  readonly result: R;
  /** `"server"`: the handler is an async generator, the client gets an AsyncIterable. Default: unary. */
  readonly stream?: "server";
  /** Free text for generated docs (it lands in `toJsonSchema`). */
  readonly description?: string;
  /**
   * The method has no side effects (`idempotency_level = NO_SIDE_EFFECTS` in the descriptor, so
   * protocols that care, like Connect GET, may use it). Default false.
   */
  readonly idempotent?: boolean;
}

/** The methods of a service, keyed by method name as it appears on the wire (`Multiply`). */
export type MethodSchemas = Record<string, MethodSchema>;

type MaybePromise<T> = T | Promise<T>;

/** The handler signature of one method: params and result typed by their schemas. */
export type TypedHandler<M extends MethodSchema> = M extends { stream: "server" }
  ? (params: Static<M["params"]>, ctx: HandlerContext) => AsyncIterable<Static<M["result"]>>
  : (params: Static<M["params"]>, ctx: HandlerContext) => MaybePromise<Static<M["result"]>>;

/** Handlers for every method of a service. */
export type ServiceHandlers<M extends MethodSchemas> = { [K in keyof M]: TypedHandler<M[K]> };

/** Options of `ServiceDefinition.implement`. */
export interface ImplementOptions {
  /**
   * Check every result against its schema before sending it; a mismatch fails the call with
   * INTERNAL naming the offending paths (a server bug: TypeScript types can be bypassed by `any`
   * and casts). Default true: a compiled check costs far less than the encoding that follows.
   * Turn it off on hot paths whose handlers are trusted.
   */
  validateResults?: boolean;
}

/** A service defined TypeScript-first: the schemas, and the protobuf descriptor built from them. */
export interface ServiceDefinition<M extends MethodSchemas = MethodSchemas> {
  /** Fully-qualified service name, e.g. `arith.Arith`. */
  readonly typeName: string;
  /** The schemas as given: `def.methods.Multiply.params` is the TypeBox (= JSON Schema) object. */
  readonly methods: M;
  /** The protobuf-es service descriptor: every method takes and returns `google.protobuf.Value`. */
  readonly desc: DescService;
  /** The file descriptor holding `desc` (for reflection). */
  readonly file: DescFile;
  /** The descriptor of each method, by its key in `methods`. */
  readonly descMethods: { readonly [K in keyof M]: DescMethod };
  /**
   * Wraps typed handlers into a protobuf-es implementation, ready for `router.service(...)`:
   * `router.service(...Arith.implement({ Multiply: ({ A, B }) => A * B }))`.
   */
  implement(handlers: ServiceHandlers<M>, options?: ImplementOptions): readonly [DescService, ServiceImpl<DescService>];
  /** The compiled validator of a method's params or result (compiled once, on first use). @internal */
  checker(method: keyof M & string, which: "params" | "result"): Checker;
}

const identifier = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Defines a service from TypeBox schemas, with no .proto and no code generation.
 *
 * At runtime this builds a protobuf file descriptor in code (service `typeName`, one method per
 * key, each taking and returning `google.protobuf.Value`), so every Petrel protocol serves it
 * unchanged: over JSON protocols the Value is the plain JSON of the params/result, over binary
 * ones it is a protobuf-encoded Value. Params are validated against their schema on the server.
 *
 * @param typeName fully-qualified service name, `package.Service` (`arith.Arith`) or just `Service`.
 * @param methods method name (Go style, `Multiply`; the wire name) -> schemas.
 * @throws TypeError for an invalid name or a schema with no JSON form (Date, bigint, Uint8Array …).
 */
export function defineService<const M extends MethodSchemas>(typeName: string, methods: M): ServiceDefinition<M> {
  const parts = typeName.split(".");
  if (!parts.every((p) => identifier.test(p))) throw new TypeError(`defineService: invalid service name "${typeName}"`);
  const serviceName = parts.pop() as string;
  const pkg = parts.join(".");
  const keys = Object.keys(methods);
  const lowered = new Set<string>();
  for (const key of keys) {
    // __proto__ is a valid protobuf name but would replace the prototype of the typed client.
    if (!identifier.test(key) || key === "__proto__") throw new TypeError(`defineService ${typeName}: invalid method name "${key}"`);
    // The client and the router address methods by lowerCamel localName: Foo and foo would collide.
    const low = key[0]?.toLowerCase() + key.slice(1);
    if (lowered.has(low))
      throw new TypeError(`defineService ${typeName}: method names "${key}" and another differ only in the first letter's case`);
    lowered.add(low);
    const spec = methods[key] as MethodSchema;
    if (spec === null || typeof spec !== "object") throw new TypeError(`defineService ${typeName}.${key}: expected { params, result }`);
    assertJsonSchema(spec.params, `${typeName}.${key} params`);
    assertJsonSchema(spec.result, `${typeName}.${key} result`);
    if (spec.stream !== undefined && spec.stream !== "server") {
      throw new TypeError(`defineService ${typeName}.${key}: stream must be "server" or absent, got ${JSON.stringify(spec.stream)}`);
    }
  }

  const fileProto = create(FileDescriptorProtoSchema, {
    name: `petrel/define/${typeName.replaceAll(".", "/")}.proto`,
    package: pkg,
    dependency: [file_google_protobuf_struct.proto.name],
    syntax: "proto3",
    service: [
      {
        name: serviceName,
        method: keys.map((key) => {
          const spec = methods[key] as MethodSchema;
          return {
            name: key,
            inputType: ".google.protobuf.Value",
            outputType: ".google.protobuf.Value",
            serverStreaming: spec.stream === "server",
            options: spec.idempotent === true ? { idempotencyLevel: MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS } : undefined,
          };
        }),
      },
    ],
  });
  const registry = createFileRegistry(fileProto, (name) =>
    name === file_google_protobuf_struct.proto.name ? file_google_protobuf_struct : undefined,
  );
  const desc = registry.getService(typeName) as DescService;
  const file = registry.getFile(fileProto.name) as DescFile;
  const descMethods: Record<string, DescMethod> = {};
  for (const m of desc.methods) descMethods[m.name] = m;

  const checkers = new Map<string, Checker>();
  const checker = (method: string, which: "params" | "result"): Checker => {
    const id = `${method}\0${which}`;
    let c = checkers.get(id);
    if (c === undefined) {
      c = compileChecker((methods[method] as MethodSchema)[which]);
      checkers.set(id, c);
    }
    return c;
  };

  const def: ServiceDefinition<M> = {
    typeName,
    methods,
    desc,
    file,
    descMethods: descMethods as ServiceDefinition<M>["descMethods"],
    checker,
    implement(handlers, options = {}) {
      const validateResults = options.validateResults ?? true;
      const impl: Record<string, unknown> = {};
      for (const key of keys) {
        const fn = (handlers as Record<string, unknown>)[key];
        if (typeof fn !== "function") throw new TypeError(`service ${typeName}: method ${key} is not implemented`);
        const m = descMethods[key] as DescMethod;
        const ctx = {
          path: `${typeName}/${key}`,
          params: checker(key, "params"),
          result: validateResults ? checker(key, "result") : undefined,
        };
        impl[m.localName] =
          m.methodKind === "server_streaming" ? serverStreamHandler(ctx, fn as StreamFn) : unaryHandler(ctx, fn as UnaryFn);
      }
      return [desc, impl as ServiceImpl<DescService>] as const;
    },
  };
  return def;
}

type UnaryFn = (params: unknown, ctx: HandlerContext) => unknown;
type StreamFn = (params: unknown, ctx: HandlerContext) => AsyncIterable<unknown>;

interface WrapContext {
  readonly path: string;
  readonly params: Checker;
  readonly result: Checker | undefined;
}

/** Value -> JSON -> schema check; every failure is INVALID_ARGUMENT, never a crash. */
function readParams(w: WrapContext, message: Value): unknown {
  let params: unknown;
  try {
    params = valueToJson(message);
  } catch (e) {
    throw new RpcError(Code.INVALID_ARGUMENT, `invalid params for ${w.path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!w.params.check(params)) throw invalidArgument(`invalid params for ${w.path}`, firstViolations(w.params, params));
  return params;
}

/** Result check (if on) and JSON -> Value; a bad result is the server's fault: INTERNAL. */
function writeResult(w: WrapContext, result: unknown): Value {
  if (w.result !== undefined && !w.result.check(result)) {
    const violations = firstViolations(w.result, result);
    const text = violations.map((v) => `${v.path === "" ? "(root)" : v.path}: ${v.message}`).join("; ");
    throw new RpcError(Code.INTERNAL, `handler of ${w.path} returned a result that does not match its schema: ${text}`);
  }
  try {
    return jsonToValue(result);
  } catch (e) {
    if (e instanceof NotJsonError) throw new RpcError(Code.INTERNAL, `handler of ${w.path} returned a non-JSON result: ${e.message}`);
    throw e;
  }
}

function unaryHandler(w: WrapContext, fn: UnaryFn) {
  // Per method, not per call (the router's unary path is allocation-conscious too).
  const respond = (r: unknown) => writeResult(w, r);
  return (message: Value, ctx: HandlerContext): Value | Promise<Value> => {
    const r = fn(readParams(w, message), ctx);
    return r instanceof Promise ? r.then(respond) : respond(r);
  };
}

function serverStreamHandler(w: WrapContext, fn: StreamFn) {
  return (message: Value, ctx: HandlerContext): AsyncIterable<Value> => {
    // Validated before the generator starts, so bad params fail the call before any response.
    const out = fn(readParams(w, message), ctx);
    return mapStream(w, out);
  };
}

async function* mapStream(w: WrapContext, out: AsyncIterable<unknown>): AsyncGenerator<Value> {
  for await (const r of out) yield writeResult(w, r);
}
