import {
  fromJson,
  toJson,
  type DescMessage,
  type DescMethod,
  type DescService,
  type JsonValue,
  type MessageShape,
  type Registry,
} from "@bufbuild/protobuf";
import { Code, RpcError } from "@petrel/core";
import { rpcErrorOf, rpcErrorOfString } from "./error-codes.js";

/**
 * How a client names a method on the wire. `"path"`: `pkg.Service/Method` (Petrel's canonical
 * form); `"go"`: `Service.Method` with the short service name, as Go's net/rpc registers it;
 * `"qualified"`: `pkg.Service.Method`; or a function.
 */
export type JsonRpcMethodNaming = "path" | "go" | "qualified" | ((method: DescMethod) => string);

/** How params are sent: `"object"` (by name, the message itself) or `"array"` (`[message]`, Go style). */
export type JsonRpcParamStyle = "object" | "array";

/** Client-side wire settings. */
export interface JsonRpcClientWire {
  /** `"2.0"`, or `"1.0"` for Go's net/rpc/jsonrpc (`{"method","params","id"}`, string errors). */
  version: "2.0" | "1.0";
  naming: JsonRpcMethodNaming;
  params: JsonRpcParamStyle;
  /** Emit default-valued fields in params (foreign servers expect every field). */
  emitDefaultValues: boolean;
  registry?: Registry;
}

/** Fills in defaults: 1.0 -> Go naming and array params, 2.0 -> path naming and object params. @internal */
export function clientWire(o: Partial<JsonRpcClientWire> = {}): JsonRpcClientWire {
  const version = o.version ?? "2.0";
  return {
    version,
    naming: o.naming ?? (version === "1.0" ? "go" : "path"),
    params: o.params ?? (version === "1.0" ? "array" : "object"),
    emitDefaultValues: o.emitDefaultValues ?? true,
    registry: o.registry,
  };
}

/** The wire name of a method. */
export function methodName(method: DescMethod, naming: JsonRpcMethodNaming): string {
  if (typeof naming === "function") return naming(method);
  const svc = (method.parent as DescService).typeName;
  switch (naming) {
    case "path":
      return `${svc}/${method.name}`;
    case "qualified":
      return `${svc}.${method.name}`;
    case "go":
      return `${svc.slice(svc.lastIndexOf(".") + 1)}.${method.name}`;
  }
}

/** Builds one request object (not yet serialized); `id` undefined = notification (2.0 only). */
export function encodeRequest(
  wire: JsonRpcClientWire,
  method: DescMethod,
  message: MessageShape<DescMessage>,
  id: number | undefined,
): object {
  const json = toJson(method.input, message, { alwaysEmitImplicit: wire.emitDefaultValues, registry: wire.registry });
  const params = wire.params === "array" ? [json] : json;
  const name = methodName(method, wire.naming);
  if (wire.version === "1.0") return { method: name, params, id: id ?? null };
  return id === undefined ? { jsonrpc: "2.0", method: name, params } : { jsonrpc: "2.0", method: name, params, id };
}

/** The id of a received response object, or undefined if it has none usable. */
export function responseId(res: unknown): number | string | null | undefined {
  if (res === null || typeof res !== "object" || Array.isArray(res)) return undefined;
  const id = (res as Record<string, unknown>).id;
  return typeof id === "number" || typeof id === "string" || id === null ? id : undefined;
}

/**
 * Turns one response object into the method's output message, or throws RpcError: the server's
 * error mapped back (see rpcErrorOf), or INTERNAL for a malformed response or an undecodable result.
 */
export function decodeResponse<O extends DescMessage>(wire: JsonRpcClientWire, method: DescMethod, res: unknown): MessageShape<O> {
  if (res === null || typeof res !== "object" || Array.isArray(res)) throw new RpcError(Code.INTERNAL, "malformed JSON-RPC response");
  const r = res as Record<string, unknown>;
  if (r.error !== undefined && r.error !== null) {
    throw typeof r.error === "string" ? rpcErrorOfString(r.error) : rpcErrorOf(r.error);
  }
  if (!("result" in r)) throw new RpcError(Code.INTERNAL, "malformed JSON-RPC response: no result and no error");
  try {
    return fromJson(method.output, (r.result ?? null) as JsonValue, {
      ignoreUnknownFields: true,
      registry: wire.registry,
    }) as MessageShape<O>;
  } catch (e) {
    throw new RpcError(Code.INTERNAL, `cannot decode the result: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}
