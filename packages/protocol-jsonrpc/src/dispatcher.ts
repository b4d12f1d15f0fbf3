import { fromJson, toJson, type DescMessage, type JsonValue, type MessageShape, type Registry, create } from "@bufbuild/protobuf";
import {
  Code,
  Metadata,
  RpcError,
  ServerContext,
  toWireError,
  type HandlerContext,
  type MethodHandler,
  type PeerInfo,
  type Router,
  type ServerResponse,
} from "@petrel/core";
import { errorObjectOf, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR, type JsonRpcErrorObject } from "./error-codes.js";
import { MethodIndex } from "./method-index.js";

/**
 * Which envelope a dispatcher accepts. `"2.0"`: JSON-RPC 2.0 only (a request without
 * `"jsonrpc":"2.0"` is -32600). `"auto"`: per message, `"jsonrpc":"2.0"` -> 2.0, otherwise
 * JSON-RPC 1.0 as Go's net/rpc/jsonrpc speaks it, so one TCP port serves both.
 */
export type JsonRpcMode = "2.0" | "auto";

/** Options of `createJsonRpcDispatcher`. */
export interface JsonRpcDispatcherOptions {
  /** Envelope versions accepted. Default `"2.0"`. */
  mode?: JsonRpcMode;
  /** Most requests in one batch; a larger batch gets one -32600 error. Default 1000. */
  maxBatchSize?: number;
  /** Emit fields with default values (Go and Python peers expect every field). Default true. */
  emitDefaultValues?: boolean;
  /** Type registry for `google.protobuf.Any` and extensions in params/results. Default none. */
  registry?: Registry;
  /** Called with every handler failure (including ones the peer only sees as -32603), for logging. */
  onHandlerError?: (error: unknown, ctx: HandlerContext) => void;
}

/** Who calls and how, for one received message. */
export interface JsonRpcCall {
  /** Peer address and protocol name (`jsonrpc/http`, `jsonrpc/tcp`, `jsonrpc/ws`). */
  peer: PeerInfo;
  /** Request metadata (HTTP headers); shared by every request of a batch. */
  headers?: Metadata;
  /** Absolute deadline in epoch ms for every request of the message. */
  deadline?: number;
  /** Aborts every handler of the message (client went away). */
  signal?: AbortSignal;
  /**
   * The same as `signal`, cheaper: an HTTP request needs a way to cancel its handlers, and an
   * AbortController per request was measurable on the hot path (EventTarget machinery).
   */
  cancellation?: Cancellation;
}

/** A one-shot cancellation source: `subscribe(fn)` calls `fn` once when cancelled (at once if already); returns an unsubscribe. */
export interface Cancellation {
  readonly cancelled: boolean;
  subscribe(fn: () => void): () => void;
}

/** A {@link Cancellation} fired by `cancel()`. */
export class CancellationSource implements Cancellation {
  private fns: Array<() => void> | undefined = undefined;
  cancelled = false;

  subscribe(fn: () => void): () => void {
    if (this.cancelled) {
      fn();
      return noop;
    }
    if (this.fns === undefined) this.fns = [fn];
    else this.fns.push(fn);
    return () => {
      const i = this.fns?.indexOf(fn) ?? -1;
      if (i >= 0) this.fns?.splice(i, 1);
    };
  }

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    const fns = this.fns;
    this.fns = undefined;
    if (fns !== undefined) for (const fn of fns) fn();
  }
}

function noop(): void {}

/** Serves JSON-RPC messages from a router. */
export interface JsonRpcDispatcher {
  /**
   * Handles one message (a request, a notification or a batch) and returns the response text,
   * or undefined when nothing must be sent (notifications only). Never rejects.
   */
  handle(body: string | Uint8Array, call: JsonRpcCall): Promise<string | undefined>;
  /** A parse-error response (id null) for framing failures the transport detects itself. */
  parseError(message: string): string;
}

type Id = string | number | null;
/** One parsed entry; `v1` replies use the JSON-RPC 1.0 envelope. */
interface Entry {
  v1: boolean;
  /** undefined = notification. */
  id: Id | undefined;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const fail = (code: number, message: string): JsonRpcErrorObject => ({ code, message });

/**
 * Creates a JSON-RPC dispatcher over a router: strict JSON-RPC 2.0 (batches, notifications, every
 * id type, -32700/-32600/-32601/-32602/-32603) and, in `auto` mode, Go net/rpc's JSON-RPC 1.0.
 * Params are the request message in protobuf JSON: by name (an object), or by position as an array
 * of exactly one element (Go style), or absent (empty message). Results are the response message
 * in protobuf JSON, so wrapper types (`google.protobuf.Int32Value`) give a bare value. Only unary
 * methods are served; a streaming method is -32601.
 */
export function createJsonRpcDispatcher(router: Router, options: JsonRpcDispatcherOptions = {}): JsonRpcDispatcher {
  const mode = options.mode ?? "2.0";
  const maxBatch = options.maxBatchSize ?? 1000;
  const emitDefaults = options.emitDefaultValues ?? true;
  const registry = options.registry;
  const index = new MethodIndex(router);

  const respondError = (e: Entry, error: JsonRpcErrorObject): string | undefined => {
    // A notification's errors are not reported, but a request too broken to be a notification is (id null).
    if (e.id === undefined && error.code !== INVALID_REQUEST) return undefined;
    if (e.v1) {
      // Go's client requires `error` to be a string and ignores `result`.
      const text = error.data === undefined ? error.message : rpcMessage(error);
      return JSON.stringify({ id: e.id ?? null, result: null, error: text });
    }
    return JSON.stringify({ jsonrpc: "2.0", error, id: e.id ?? null });
  };
  const respondResult = (e: Entry, result: JsonValue): string | undefined => {
    if (e.id === undefined) return undefined;
    return e.v1 ? JSON.stringify({ id: e.id, result, error: null }) : JSON.stringify({ jsonrpc: "2.0", result, id: e.id });
  };

  async function one(raw: unknown, inBatch: boolean, call: JsonRpcCall): Promise<string | undefined> {
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      return respondError({ v1: false, id: null }, fail(INVALID_REQUEST, "invalid request: not an object"));
    }
    const o = raw as Record<string, unknown>;
    const v1 = mode === "auto" && !inBatch && !("jsonrpc" in o);
    const idOk = !("id" in o) || o.id === null || typeof o.id === "string" || (typeof o.id === "number" && Number.isFinite(o.id));
    // JSON-RPC 1.0 has no id-less notifications: id null is the notification.
    const id: Id | undefined = !idOk
      ? null
      : v1
        ? o.id === null || o.id === undefined
          ? undefined
          : (o.id as Id)
        : (o.id as Id | undefined);
    const entry: Entry = { v1, id: idOk ? id : null };
    if (!idOk) return respondError(entry, fail(INVALID_REQUEST, "invalid request: id must be a string, number or null"));
    if (!v1 && o.jsonrpc !== "2.0") return respondError(entry, fail(INVALID_REQUEST, 'invalid request: "jsonrpc" must be "2.0"'));
    if (typeof o.method !== "string") return respondError(entry, fail(INVALID_REQUEST, "invalid request: method must be a string"));
    const params = o.params;
    if (params !== undefined && (params === null ? !v1 : typeof params !== "object")) {
      return respondError(entry, fail(INVALID_REQUEST, "invalid request: params must be an array or an object"));
    }
    const handler = index.resolve(o.method);
    if (handler === undefined) return respondError(entry, fail(METHOD_NOT_FOUND, `method not found: ${o.method}`));
    if (handler.method.methodKind !== "unary") {
      return respondError(
        entry,
        fail(METHOD_NOT_FOUND, `method ${o.method} is ${handler.method.methodKind.replace("_", "-")}; JSON-RPC serves unary methods only`),
      );
    }
    let message: MessageShape<DescMessage>;
    try {
      message = decodeParams(handler.method.input, params as JsonValue | undefined, registry);
    } catch (e) {
      return respondError(entry, fail(INVALID_PARAMS, `invalid params: ${e instanceof Error ? e.message : String(e)}`));
    }
    try {
      const out = await invoke(handler, message, call, options.onHandlerError);
      let result: JsonValue;
      try {
        result = toJson(handler.method.output, out, { alwaysEmitImplicit: emitDefaults, registry });
      } catch (e) {
        throw new RpcError(Code.INTERNAL, "cannot encode the result as JSON", { cause: e });
      }
      return respondResult(entry, result);
    } catch (e) {
      return respondError(entry, errorObjectOf(toWireError(e)));
    }
  }

  return {
    async handle(body, call) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(typeof body === "string" ? body : utf8.decode(body));
      } catch {
        return respondError({ v1: false, id: null }, fail(PARSE_ERROR, "parse error: not valid JSON"));
      }
      if (!Array.isArray(parsed)) return one(parsed, false, call);
      if (parsed.length === 0) return respondError({ v1: false, id: null }, fail(INVALID_REQUEST, "invalid request: empty batch"));
      if (parsed.length > maxBatch) {
        return respondError({ v1: false, id: null }, fail(INVALID_REQUEST, `invalid request: batch larger than ${maxBatch}`));
      }
      const replies = await Promise.all(parsed.map((r) => one(r, true, call)));
      const sent = replies.filter((r): r is string => r !== undefined);
      return sent.length === 0 ? undefined : `[${sent.join(",")}]`;
    },
    parseError(message) {
      return respondError({ v1: false, id: null }, fail(PARSE_ERROR, `parse error: ${message}`)) as string;
    },
  };
}

/** `[code_name] message`, the 1.0 error string, from a Petrel error object. */
function rpcMessage(error: JsonRpcErrorObject): string {
  const name = (error.data as { codeName?: string }).codeName?.toLowerCase() ?? "unknown";
  return `[${name}] ${error.message}`;
}

/** Decodes params per the rules of createJsonRpcDispatcher. Throws on anything else. */
export function decodeParams<D extends DescMessage>(schema: D, params: JsonValue | undefined, registry?: Registry): MessageShape<D> {
  if (params === undefined || params === null) return create(schema);
  let value: JsonValue = params;
  if (Array.isArray(params)) {
    if (params.length !== 1)
      throw new Error(`by-position params must hold exactly one element (the request message), got ${params.length}`);
    value = params[0] as JsonValue;
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    // Wrapper types decode from a bare value; anything else needs an object.
    if (!schema.typeName.startsWith("google.protobuf.")) throw new Error(`${schema.typeName} must be a JSON object`);
  }
  return fromJson(schema, value, { ignoreUnknownFields: false, registry });
}

async function invoke(
  handler: MethodHandler,
  message: MessageShape<DescMessage>,
  call: JsonRpcCall,
  onHandlerError: ((error: unknown, ctx: HandlerContext) => void) | undefined,
): Promise<MessageShape<DescMessage>> {
  const ctx = new ServerContext(handler.service, handler.method, call.headers ?? new Metadata(), call.deadline, call.peer);
  const running = handler.invoke({ stream: false, method: handler.method, ctx, message });
  const signal = call.signal;
  const cancellation = call.cancellation;
  let res: ServerResponse;
  try {
    if (call.deadline === undefined && signal === undefined && cancellation === undefined) res = await running;
    else res = await stoppable(running, ctx, call.deadline, signal, cancellation);
  } catch (e) {
    if (!(e instanceof RpcError) || e.code === Code.INTERNAL || e.code === Code.UNKNOWN) onHandlerError?.(e, ctx);
    throw e;
  }
  if (res.stream) throw new RpcError(Code.INTERNAL, "unary method returned a stream");
  return res.message;
}

/**
 * `running`, unless the deadline passes or the call is cancelled first (the handler's context is
 * aborted with that reason). One promise per call, no Promise.race.
 */
function stoppable(
  running: Promise<ServerResponse>,
  ctx: ServerContext,
  deadline: number | undefined,
  signal: AbortSignal | undefined,
  cancellation: Cancellation | undefined,
): Promise<ServerResponse> {
  return new Promise<ServerResponse>((resolve, reject) => {
    new Stopper(resolve, reject, ctx, signal).start(running, deadline, cancellation);
  });
}

/**
 * The state of one stoppable() call. A class rather than closures: under tsx (esbuild keepNames,
 * how Petrel's entry points run) every named closure made per call costs an
 * Object.defineProperty of its name, ~8 % of a JSON-RPC request's server CPU in all.
 */
class Stopper {
  private settled = false;
  private timer: ReturnType<typeof setTimeout> | undefined = undefined;
  private unsubscribe: (() => void) | undefined = undefined;
  /** Bound once: the listener that cancellation and `signal` call. */
  private readonly onAbort = this.abort.bind(this);

  constructor(
    private readonly resolve: (r: ServerResponse) => void,
    private readonly reject: (e: unknown) => void,
    private readonly ctx: ServerContext,
    private readonly signal: AbortSignal | undefined,
  ) {}

  start(running: Promise<ServerResponse>, deadline: number | undefined, cancellation: Cancellation | undefined): void {
    running.then(
      (r) => {
        if (this.settled) return;
        this.cleanup();
        this.resolve(r);
      },
      (e) => {
        if (this.settled) return;
        this.cleanup();
        this.reject(e);
      },
    );
    if (deadline !== undefined) {
      const left = deadline - Date.now();
      if (left <= 0) return this.stop(new RpcError(Code.DEADLINE_EXCEEDED, "deadline exceeded"));
      this.timer = setTimeout(() => this.stop(new RpcError(Code.DEADLINE_EXCEEDED, "deadline exceeded")), Math.min(left, 0x7fff_ffff));
    }
    if (cancellation !== undefined) this.unsubscribe = cancellation.subscribe(this.onAbort);
    const signal = this.signal;
    if (signal !== undefined) {
      if (signal.aborted) this.abort();
      else signal.addEventListener("abort", this.onAbort, { once: true });
    }
  }

  private abort(): void {
    this.stop(new RpcError(Code.CANCELLED, "client went away"));
  }

  private stop(err: RpcError): void {
    if (this.settled) return;
    this.cleanup();
    this.ctx.abort(err);
    this.reject(err);
  }

  private cleanup(): void {
    this.settled = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.unsubscribe?.();
    if (this.signal !== undefined) this.signal.removeEventListener("abort", this.onAbort);
  }
}
