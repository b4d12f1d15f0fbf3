import { create, isMessage, type DescMessage, type DescMethod, type DescService, type MessageShape } from "@bufbuild/protobuf";
import { Code } from "./code.js";
import type { CodecRegistry } from "./codec.js";
import { createDefaultCodecRegistry } from "./codec-protobuf.js";
import { getContextStorage } from "./context-storage.js";
import type { HandlerContext } from "./handler-context.js";
import type { ServiceImpl } from "./method-types.js";
import { methodPath } from "./method-types.js";
import { RpcError } from "./rpc-error.js";
import { applyInterceptors } from "./transport.js";
import { carryMessageHints } from "./message-flags.js";

/** A unary call as a server interceptor sees it. */
export interface ServerUnaryRequest {
  readonly stream: false;
  readonly method: DescMethod;
  readonly ctx: HandlerContext;
  message: MessageShape<DescMessage>;
}

/** A streaming call (server, client or bidi) as a server interceptor sees it. */
export interface ServerStreamRequest {
  readonly stream: true;
  readonly method: DescMethod;
  readonly ctx: HandlerContext;
  message: AsyncIterable<MessageShape<DescMessage>>;
}

export type ServerRequest = ServerUnaryRequest | ServerStreamRequest;

/** What a handler produced: one message (unary) or a stream of messages. */
export type ServerResponse =
  | { readonly stream: false; message: MessageShape<DescMessage> }
  | { readonly stream: true; message: AsyncIterable<MessageShape<DescMessage>> };

/** The function a server interceptor wraps. */
export type ServerFn = (req: ServerRequest) => Promise<ServerResponse>;

/**
 * A server interceptor, `(next) => (req) => …`, first = outermost. It can read and change
 * `ctx.responseHeader`/`responseTrailer`, wrap the message streams, and see the outcome.
 */
export type ServerInterceptor = (next: ServerFn) => ServerFn;

/** One registered method, ready for a protocol to invoke. */
export interface MethodHandler {
  readonly service: DescService;
  readonly method: DescMethod;
  readonly path: string;
  /** The handler with the router's interceptors applied. */
  readonly invoke: ServerFn;
}

/** Options of `createRouter`. */
export interface RouterOptions {
  /** Server interceptors, first = outermost. Default: none. */
  interceptors?: ServerInterceptor[];
  /** Codecs the server accepts. Default: `proto` and `json`. */
  codecs?: CodecRegistry;
}

/** A table of services that every protocol serves from. */
export interface Router {
  /** Registers a service implementation; every method of the service must be implemented. */
  service<S extends DescService>(service: S, impl: ServiceImpl<S>): Router;
  /** Finds a method by `/package.Service/Method`. */
  lookup(path: string): MethodHandler | undefined;
  /** Whether a service of that fully-qualified name is registered (to tell unknown service from unknown method). */
  hasService(typeName: string): boolean;
  /** Registered services. */
  services(): DescService[];
  readonly codecs: CodecRegistry;
}

/** Creates a router. */
export function createRouter(options: RouterOptions = {}): Router {
  const handlers = new Map<string, MethodHandler>();
  const services = new Map<string, DescService>();
  const router: Router = {
    codecs: options.codecs ?? createDefaultCodecRegistry(),
    service(service, impl) {
      for (const method of service.methods) {
        const fn = (impl as Record<string, unknown>)[method.localName];
        if (typeof fn !== "function") {
          throw new TypeError(`service ${service.typeName}: method ${method.localName} is not implemented`);
        }
        const inner = innerFn(method, fn.bind(impl) as ImplFn);
        const path = methodPath(method);
        handlers.set(path, { service, method, path, invoke: applyInterceptors(inner, options.interceptors) });
      }
      services.set(service.typeName, service);
      return router;
    },
    lookup: (path) => handlers.get(path),
    hasService: (typeName) => services.has(typeName),
    services: () => [...services.values()],
  };
  return router;
}

type ImplFn = (req: unknown, ctx: HandlerContext) => unknown;

function toOutput(schema: DescMessage, v: unknown): MessageShape<DescMessage> {
  if (v === null || typeof v !== "object") {
    throw new RpcError(Code.INTERNAL, "handler returned no message");
  }
  return isMessage(v, schema) ? v : carryMessageHints(v, create(schema, v as never));
}

/** Runs `fn` inside the context storage, so outbound calls inherit deadline and cancellation. */
function runInContext<R>(ctx: HandlerContext, fn: () => R): R {
  const storage = getContextStorage();
  return storage === undefined ? fn() : storage.run(ctx, fn);
}

async function first<T>(it: AsyncIterable<T>): Promise<T> {
  for await (const m of it) return m;
  throw new RpcError(Code.INVALID_ARGUMENT, "protocol error: missing request message");
}

async function* mapOutput(
  schema: DescMessage,
  ctx: HandlerContext,
  out: AsyncIterable<unknown>,
): AsyncGenerator<MessageShape<DescMessage>> {
  const it = runInContext(ctx, () => out[Symbol.asyncIterator]());
  const storage = getContextStorage();
  try {
    for (;;) {
      // Each step runs in the handler's context: an async generator body runs in the context of
      // whoever calls next(), which here is the protocol, not the handler.
      const r = storage === undefined ? await it.next() : await storage.run(ctx, () => it.next());
      if (r.done) return;
      yield toOutput(schema, r.value);
    }
  } finally {
    await it.return?.();
  }
}

function innerFn(method: DescMethod, impl: ImplFn): ServerFn {
  const output = method.output;
  switch (method.methodKind) {
    case "unary": {
      // Per method, not per call: the unary path creates no closure unless context storage is on.
      const respond = (v: unknown): ServerResponse => ({ stream: false, message: toOutput(output, v) });
      return (req) => {
        try {
          const storage = getContextStorage();
          const r = storage === undefined ? impl(req.message, req.ctx) : storage.run(req.ctx, () => impl(req.message, req.ctx));
          if (r instanceof Promise) return r.then(respond);
          return Promise.resolve(respond(r));
        } catch (e) {
          return Promise.reject(e);
        }
      };
    }
    case "server_streaming":
      return async (req) => {
        const msg = await first(req.message as AsyncIterable<unknown>);
        const out = runInContext(req.ctx, () => impl(msg, req.ctx)) as AsyncIterable<unknown>;
        return { stream: true, message: mapOutput(output, req.ctx, out) };
      };
    case "client_streaming":
      return async (req) => {
        const v = await runInContext(req.ctx, () => impl(req.message, req.ctx));
        return { stream: true, message: oneMessage(toOutput(output, v)) };
      };
    case "bidi_streaming":
      return async (req) => {
        const out = runInContext(req.ctx, () => impl(req.message, req.ctx)) as AsyncIterable<unknown>;
        return { stream: true, message: mapOutput(output, req.ctx, out) };
      };
  }
}

async function* oneMessage<T>(m: T): AsyncGenerator<T> {
  yield m;
}
