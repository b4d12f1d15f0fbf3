import { create, isMessage, type DescMessage, type DescMethod, type DescService, type MessageShape } from "@bufbuild/protobuf";
import type { CallOptions } from "./call-options.js";
import { Code } from "./code.js";
import { currentHandlerContext, noteClientCreated } from "./context-storage.js";
import { Metadata } from "./metadata.js";
import type { Client } from "./method-types.js";
import { methodPath } from "./method-types.js";
import { RpcError } from "./rpc-error.js";
import {
  applyInterceptors,
  type AnyFn,
  type Interceptor,
  type StreamRequest,
  type StreamResponse,
  type Transport,
  type UnaryRequest,
  transportUnaryFn,
  type UnaryResponse,
} from "./transport.js";
import { carryMessageHints } from "./message-flags.js";

/** Options of `createClient`. */
export interface ClientOptions {
  /** Client interceptors, first = outermost. Default: none. */
  interceptors?: Interceptor[];
}

/**
 * Creates a typed client for a protobuf-es v2 service descriptor over any transport.
 *
 * - unary: `(req, opts?) => Promise<Res>`
 * - server streaming: `(req, opts?) => AsyncIterable<Res>` (the call starts on first iteration)
 * - client streaming: `(reqs: AsyncIterable<Req>, opts?) => Promise<Res>`
 * - bidi streaming: `(reqs: AsyncIterable<Req>, opts?) => AsyncIterable<Res>`
 *
 * Calls made while serving another call inherit its deadline and cancellation (see CallOptions.parent).
 */
export function createClient<S extends DescService>(service: S, transport: Transport, options: ClientOptions = {}): Client<S> {
  noteClientCreated();
  const client: Record<string, unknown> = {};
  const unaryNext = applyInterceptors<AnyFn>(transportUnaryFn(transport), options.interceptors);
  const streamNext = applyInterceptors<AnyFn>((req) => transport.stream(req as StreamRequest), options.interceptors);
  for (const method of service.methods) {
    switch (method.methodKind) {
      case "unary":
        client[method.localName] = createUnaryMethod(method, unaryNext);
        break;
      case "server_streaming":
        client[method.localName] = createServerStreamMethod(method, streamNext);
        break;
      case "client_streaming":
        client[method.localName] = createClientStreamMethod(method, streamNext);
        break;
      case "bidi_streaming":
        client[method.localName] = createBidiMethod(method, streamNext);
        break;
    }
  }
  return client as Client<S>;
}

function toMessage<D extends DescMessage>(schema: D, input: unknown): MessageShape<D> {
  return isMessage(input, schema) ? input : carryMessageHints(input as object, create(schema, input as never));
}

/** Fills deadline and signal of a request from the call options and the parent call. */
function applyScope(req: UnaryRequest | StreamRequest, opts: CallOptions | undefined): void {
  let deadline: number | undefined;
  let signal: AbortSignal | undefined;
  let parent = currentHandlerContext();
  if (opts !== undefined) {
    if (opts.timeoutMs !== undefined) deadline = Date.now() + opts.timeoutMs;
    if (opts.deadline !== undefined) {
      const d = typeof opts.deadline === "number" ? opts.deadline : opts.deadline.getTime();
      deadline = deadline === undefined ? d : Math.min(deadline, d);
    }
    signal = opts.signal;
    if (opts.parent !== undefined) parent = opts.parent ?? undefined;
    if (opts.codec !== undefined) req.codec = opts.codec;
  }
  if (parent !== undefined) {
    if (parent.deadline !== undefined) deadline = deadline === undefined ? parent.deadline : Math.min(deadline, parent.deadline);
    signal = signal === undefined ? parent.signal : AbortSignal.any([signal, parent.signal]);
  }
  req.deadline = deadline;
  req.signal = signal;
}

function newRequest(method: DescMethod, path: string, stream: boolean, message: unknown, opts: CallOptions | undefined) {
  const req = {
    stream,
    service: method.parent as DescService,
    method,
    path,
    header: opts?.headers !== undefined ? new Metadata(opts.headers) : new Metadata(),
    deadline: undefined as number | undefined,
    signal: undefined as AbortSignal | undefined,
    codec: undefined as string | undefined,
    message,
  };
  applyScope(req as UnaryRequest, opts);
  return req;
}

function rethrow(e: unknown): never {
  throw RpcError.from(e);
}

function unaryMessage(res: unknown): unknown {
  return (res as UnaryResponse).message;
}

function createUnaryMethod(method: DescMethod, next: AnyFn) {
  const path = methodPath(method);
  return (input: unknown, opts?: CallOptions): Promise<unknown> => {
    let req: UnaryRequest;
    try {
      req = newRequest(method, path, false, toMessage(method.input, input), opts) as UnaryRequest;
    } catch (e) {
      return Promise.reject(RpcError.from(e, Code.INVALID_ARGUMENT));
    }
    const p = next(req);
    if (opts?.onHeader === undefined && opts?.onTrailer === undefined) return p.then(unaryMessage, rethrow);
    return p.then(
      (res) => {
        opts.onHeader?.(res.header);
        opts.onTrailer?.(res.trailer);
        return res.message;
      },
      (e) => {
        const err = RpcError.from(e);
        opts.onTrailer?.(err.metadata);
        throw err;
      },
    );
  };
}

async function* mapInput(schema: DescMessage, input: AsyncIterable<unknown>): AsyncGenerator<MessageShape<DescMessage>> {
  for await (const m of input) yield toMessage(schema, m);
}

async function* singleton<T>(value: T): AsyncGenerator<T> {
  yield value;
}

async function* readStream(next: AnyFn, req: StreamRequest, opts: CallOptions | undefined): AsyncGenerator<unknown> {
  let res: StreamResponse;
  try {
    res = (await next(req)) as StreamResponse;
  } catch (e) {
    const err = RpcError.from(e);
    opts?.onTrailer?.(err.metadata);
    throw err;
  }
  opts?.onHeader?.(res.header);
  try {
    for await (const m of res.message) yield m;
  } catch (e) {
    const err = RpcError.from(e);
    opts?.onTrailer?.(err.metadata);
    throw err;
  }
  opts?.onTrailer?.(res.trailer);
}

function createServerStreamMethod(method: DescMethod, next: AnyFn) {
  const path = methodPath(method);
  return (input: unknown, opts?: CallOptions): AsyncIterable<unknown> => ({
    [Symbol.asyncIterator]() {
      const req = newRequest(method, path, true, singleton(toMessage(method.input, input)), opts) as StreamRequest;
      return readStream(next, req, opts);
    },
  });
}

function createBidiMethod(method: DescMethod, next: AnyFn) {
  const path = methodPath(method);
  return (input: AsyncIterable<unknown>, opts?: CallOptions): AsyncIterable<unknown> => ({
    [Symbol.asyncIterator]() {
      const req = newRequest(method, path, true, mapInput(method.input, input), opts) as StreamRequest;
      return readStream(next, req, opts);
    },
  });
}

function createClientStreamMethod(method: DescMethod, next: AnyFn) {
  const path = methodPath(method);
  return async (input: AsyncIterable<unknown>, opts?: CallOptions): Promise<unknown> => {
    const req = newRequest(method, path, true, mapInput(method.input, input), opts) as StreamRequest;
    let result: unknown;
    let count = 0;
    for await (const m of readStream(next, req, opts)) {
      result = m;
      count++;
    }
    if (count !== 1) {
      throw new RpcError(Code.INTERNAL, `protocol error: client streaming call got ${count} response messages, want 1`);
    }
    return result;
  };
}
