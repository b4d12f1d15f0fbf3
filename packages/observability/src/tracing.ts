// Tracing interceptors on the OpenTelemetry API, following its RPC semantic conventions: a SERVER
// span per served call (parent taken from the request's traceparent), a CLIENT span per outgoing
// call (its context injected into the request metadata), named `package.Service/Method`.
import {
  type Attributes,
  type Context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapPropagator,
  type Tracer,
  context,
  trace,
} from "@opentelemetry/api";
import {
  Code,
  type HandlerContext,
  type Interceptor,
  RpcError,
  type ServerInterceptor,
  codeName,
  currentHandlerContext,
} from "@petrel/core";
import { createW3CTraceContextPropagator, metadataGetter, metadataSetter } from "./tracing-propagation.js";

/** The instrumentation scope name of the default tracer. */
export const TRACER_NAME = "@petrel/observability";

/** Options shared by both tracing interceptors. */
export interface TracingOptions {
  /**
   * Where spans go. Default: `trace.getTracer("@petrel/observability")`, i.e. the globally
   * registered TracerProvider (spans are no-ops until an SDK registers one).
   */
  tracer?: Tracer;
  /**
   * How the span context travels in metadata. Default: the built-in W3C Trace Context propagator
   * (`traceparent`, `tracestate`), which needs no SDK. Pass `propagation` from
   * `@opentelemetry/api` to use the globally registered propagator instead (e.g. W3C + baggage).
   */
  propagator?: TextMapPropagator;
}

/** Options of {@link createTracingClientInterceptor}. */
export interface TracingClientOptions extends TracingOptions {
  /**
   * The `rpc.system` attribute of client spans. A client interceptor cannot see the wire below
   * it, so say it when known: `grpc`, `jsonrpc`, `connect_rpc`. Default `petrel`.
   */
  rpcSystem?: string;
}

interface ValidTracingOptions {
  readonly tracer: Tracer;
  readonly propagator: TextMapPropagator;
}

function validateTracingOptions(o: TracingOptions): ValidTracingOptions {
  if (o.tracer !== undefined && typeof o.tracer.startSpan !== "function")
    throw new TypeError("tracing: tracer must be an OpenTelemetry Tracer");
  const p = o.propagator;
  if (p !== undefined && (typeof p.inject !== "function" || typeof p.extract !== "function")) {
    throw new TypeError("tracing: propagator must be an OpenTelemetry TextMapPropagator");
  }
  return { tracer: o.tracer ?? trace.getTracer(TRACER_NAME), propagator: p ?? createW3CTraceContextPropagator() };
}

/**
 * The OTel context of each call being served, so a client call made inside a handler finds its
 * parent even without an OTel context manager (through Petrel's own context storage). Weak: the
 * entry goes with the HandlerContext.
 */
const serverContexts = new WeakMap<HandlerContext, Context>();

/** Codes that mark a SERVER span as failed (semantic conventions for gRPC); any non-OK code fails a CLIENT span. */
const SERVER_ERROR_CODES: ReadonlySet<Code> = new Set([
  Code.UNKNOWN,
  Code.DEADLINE_EXCEEDED,
  Code.UNIMPLEMENTED,
  Code.INTERNAL,
  Code.UNAVAILABLE,
  Code.DATA_LOSS,
]);

/** `rpc.system` from the protocol a server call arrived on. */
function serverRpcSystem(protocol: string): string {
  if (protocol === "grpc" || protocol === "grpc-web") return "grpc";
  if (protocol === "connect") return "connect_rpc";
  if (protocol.startsWith("jsonrpc")) return "jsonrpc";
  return "petrel";
}

/** What a span needs of a method descriptor (protobuf-es DescMethod). */
interface MethodNames {
  readonly name: string;
  readonly parent: { readonly typeName: string };
}

function rpcAttributes(method: MethodNames, system: string): Attributes {
  return { "rpc.system": system, "rpc.service": method.parent.typeName, "rpc.method": method.name };
}

/** `host:port` / `[v6]:port` into network.peer.* attributes; anything else (e.g. `in-memory`) adds none. */
function addPeerAttributes(attrs: Attributes, address: string): void {
  const m = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(address);
  if (m === null) return;
  attrs["network.peer.address"] = m[1];
  attrs["network.peer.port"] = Number(m[2]);
}

function endSpan(span: Span, kind: SpanKind, err: RpcError | undefined): void {
  const code = err === undefined ? Code.OK : err.code;
  span.setAttribute("rpc.grpc.status_code", code);
  if (err !== undefined && (kind === SpanKind.CLIENT || SERVER_ERROR_CODES.has(code))) {
    span.setAttribute("error.type", codeName(code));
    span.setStatus({ code: SpanStatusCode.ERROR, message: err.rawMessage });
  }
  span.end();
}

/**
 * Ends the span when a response stream ends. Each `next()` runs in the span's context: an async
 * generator body runs in the context of whoever calls next(), which is the protocol or the
 * caller, not the code that started the span.
 */
async function* traceStream<T>(src: AsyncIterable<T>, span: Span, kind: SpanKind, active: Context): AsyncGenerator<T> {
  const it = context.with(active, () => src[Symbol.asyncIterator]());
  let err: RpcError | undefined;
  let done = false;
  try {
    for (;;) {
      const r = await context.with(active, () => it.next());
      if (r.done) {
        done = true;
        return;
      }
      yield r.value;
    }
  } catch (e) {
    err = RpcError.from(e);
    throw e;
  } finally {
    if (!done && err === undefined) {
      // The consumer stopped early: the call was cancelled.
      err = new RpcError(Code.CANCELLED, "stream abandoned");
      try {
        await it.return?.();
      } finally {
        endSpan(span, kind, err);
      }
    } else {
      endSpan(span, kind, err);
    }
  }
}

/**
 * A server interceptor that starts a SERVER span per call, named `package.Service/Method`
 * with `rpc.system`, `rpc.service`, `rpc.method`, `petrel.protocol`, `network.peer.*` and, at
 * the end, `rpc.grpc.status_code`. Its parent comes from the request's trace context (an
 * invalid or missing `traceparent` starts a new trace). The span is the active context while
 * the handler runs, so client calls from the handler become its children; that needs an OTel
 * context manager (the Node SDK registers AsyncLocalStorageContextManager), else Petrel's
 * context storage stands in for calls made through {@link createTracingClientInterceptor}.
 * The span ends when the response (or its stream) ends; it is marked ERROR for the codes the
 * conventions list for servers (UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL,
 * UNAVAILABLE, DATA_LOSS).
 */
export function createTracingServerInterceptor(options: TracingOptions = {}): ServerInterceptor {
  const { tracer, propagator } = validateTracingOptions(options);
  return (next) => async (req) => {
    const { method, ctx } = req;
    // From ROOT_CONTEXT, not context.active(): an inbound call's only parent is the remote one.
    const parent = propagator.extract(ROOT_CONTEXT, ctx.requestHeader, metadataGetter);
    const attributes = rpcAttributes(method, serverRpcSystem(ctx.peer.protocol));
    attributes["petrel.protocol"] = ctx.peer.protocol;
    addPeerAttributes(attributes, ctx.peer.address);
    const span = tracer.startSpan(`${method.parent.typeName}/${method.name}`, { kind: SpanKind.SERVER, attributes }, parent);
    const active = trace.setSpan(parent, span);
    serverContexts.set(ctx, active);
    let res: Awaited<ReturnType<typeof next>>;
    try {
      res = await context.with(active, next, undefined, req);
    } catch (e) {
      endSpan(span, SpanKind.SERVER, RpcError.from(e));
      throw e;
    }
    if (!res.stream) {
      endSpan(span, SpanKind.SERVER, undefined);
      return res;
    }
    return { stream: true, message: traceStream(res.message, span, SpanKind.SERVER, active) };
  };
}

/** The context a client span's parent comes from: the active one, else the served call's. */
function clientParent(): Context {
  const active = context.active();
  if (trace.getSpan(active) !== undefined) return active;
  const hc = currentHandlerContext();
  return (hc !== undefined && serverContexts.get(hc)) || active;
}

/**
 * A client interceptor that starts a CLIENT span per call (child of the active span, or of the
 * call being served when there is no OTel context manager), injects its context into the
 * request metadata (`traceparent`, `tracestate` by default) and ends it with the outcome: any
 * non-OK code marks it ERROR. Placed inside a retry interceptor it traces every attempt;
 * outside, one span covers the logical call. A streaming call's span ends when its response
 * stream ends (or the caller stops reading it).
 */
export function createTracingClientInterceptor(options: TracingClientOptions = {}): Interceptor {
  const { tracer, propagator } = validateTracingOptions(options);
  const system = options.rpcSystem ?? "petrel";
  return (next) => async (req) => {
    const parent = clientParent();
    const span = tracer.startSpan(
      `${req.method.parent.typeName}/${req.method.name}`,
      { kind: SpanKind.CLIENT, attributes: rpcAttributes(req.method, system) },
      parent,
    );
    const active = trace.setSpan(parent, span);
    propagator.inject(active, req.header, metadataSetter);
    let res: Awaited<ReturnType<typeof next>>;
    try {
      res = await context.with(active, next, undefined, req);
    } catch (e) {
      endSpan(span, SpanKind.CLIENT, RpcError.from(e));
      throw e;
    }
    if (!res.stream) {
      endSpan(span, SpanKind.CLIENT, undefined);
      return res;
    }
    res.message = traceStream(res.message, span, SpanKind.CLIENT, active);
    return res;
  };
}
