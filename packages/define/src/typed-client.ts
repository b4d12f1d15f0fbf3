import type { Value } from "@bufbuild/protobuf/wkt";
import { type CallOptions, type ClientOptions, Code, createClient, RpcError, type Transport } from "@petrel/core";
import type { Static } from "@sinclair/typebox";
import type { MethodSchema, MethodSchemas, ServiceDefinition } from "./define-service.js";
import { jsonToValue, valueToJson } from "./json-value.js";
import { firstViolations, invalidArgument } from "./validate.js";

/** The client signature of one method: params and result typed by their schemas. */
export type TypedClientMethod<M extends MethodSchema> = M extends { stream: "server" }
  ? (params: Static<M["params"]>, options?: CallOptions) => AsyncIterable<Static<M["result"]>>
  : (params: Static<M["params"]>, options?: CallOptions) => Promise<Static<M["result"]>>;

/** A typed client: one method per key of the definition, named exactly as defined (`Multiply`). */
export type TypedClient<M extends MethodSchemas> = { [K in keyof M]: TypedClientMethod<M[K]> };

/** Options of `createTypedClient`. */
export interface TypedClientOptions extends ClientOptions {
  /**
   * Check params against their schema before sending (a failure rejects locally with the same
   * INVALID_ARGUMENT the server would send, without a round trip) and results after receiving
   * (a mismatch is INTERNAL: the server broke its contract). Default false: the server validates
   * params anyway, and checks its results unless told not to.
   */
  validate?: boolean;
}

/**
 * Creates a typed client for a `defineService` definition over any Petrel transport (in-memory,
 * petrel/1, gRPC, JSON-RPC …). Built on core's `createClient`, so call options (deadline,
 * timeout, signal, headers, codec, onHeader/onTrailer, parent), interceptors and error handling
 * are the same; only params/results are converted to and from `google.protobuf.Value`.
 */
export function createTypedClient<M extends MethodSchemas>(
  def: ServiceDefinition<M>,
  transport: Transport,
  options: TypedClientOptions = {},
): TypedClient<M> {
  const inner = createClient(def.desc, transport, options) as Record<string, (req: unknown, opts?: CallOptions) => unknown>;
  const validate = options.validate ?? false;
  const client: Record<string, unknown> = {};
  for (const key of Object.keys(def.methods)) {
    const desc = def.descMethods[key];
    const call = inner[desc.localName] as (req: unknown, opts?: CallOptions) => unknown;
    const path = `${def.typeName}/${key}`;
    const paramsChecker = validate ? def.checker(key, "params") : undefined;
    const resultChecker = validate ? def.checker(key, "result") : undefined;
    const toRequest = (params: unknown): Value => {
      if (paramsChecker !== undefined && !paramsChecker.check(params)) {
        throw invalidArgument(`invalid params for ${path}`, firstViolations(paramsChecker, params));
      }
      try {
        return jsonToValue(params);
      } catch (e) {
        throw new RpcError(Code.INVALID_ARGUMENT, `invalid params for ${path}: ${e instanceof Error ? e.message : String(e)}`);
      }
    };
    const fromResponse = (v: Value): unknown => {
      const result = valueToJson(v);
      if (resultChecker !== undefined && !resultChecker.check(result)) {
        const text = firstViolations(resultChecker, result)
          .map((x) => `${x.path === "" ? "(root)" : x.path}: ${x.message}`)
          .join("; ");
        throw new RpcError(Code.INTERNAL, `result of ${path} does not match its schema: ${text}`);
      }
      return result;
    };
    if (desc.methodKind === "server_streaming") {
      client[key] = (params: unknown, opts?: CallOptions): AsyncIterable<unknown> => ({
        [Symbol.asyncIterator]() {
          return mapResults(call(toRequest(params), opts) as AsyncIterable<Value>, fromResponse);
        },
      });
    } else {
      client[key] = (params: unknown, opts?: CallOptions): Promise<unknown> => {
        let req: Value;
        try {
          req = toRequest(params);
        } catch (e) {
          return Promise.reject(e);
        }
        return (call(req, opts) as Promise<Value>).then(fromResponse);
      };
    }
  }
  return client as TypedClient<M>;
}

async function* mapResults(it: AsyncIterable<Value>, map: (v: Value) => unknown): AsyncGenerator<unknown> {
  for await (const v of it) yield map(v);
}
