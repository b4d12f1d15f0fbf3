import { Code } from "./code.js";
import { RpcError as RpcErrorClass, type RpcError } from "./rpc-error.js";
import type { DescMessage, DescMethod, DescService, MessageShape } from "@bufbuild/protobuf";
import type { Metadata } from "./metadata.js";

/**
 * The universal client boundary. Every protocol (petrel/1, gRPC, …) implements `Transport`;
 * every client interceptor sees these shapes, whatever wire is underneath. The shape follows
 * connect-es: a unary fast path and one streaming path for the three streaming kinds.
 */
interface RequestCommon {
  /** The service descriptor (protobuf-es v2). */
  readonly service: DescService;
  /** The method descriptor. */
  readonly method: DescMethod;
  /** `/package.Service/Method`. */
  readonly path: string;
  /** Request headers; interceptors may change them before calling `next`. */
  readonly header: Metadata;
  /** Absolute deadline in epoch milliseconds, or undefined for none. */
  deadline: number | undefined;
  /** Cancels the call when aborted. */
  signal: AbortSignal | undefined;
  /** Codec name to use for this call (default: the transport's default, usually `proto`). */
  codec: string | undefined;
}

/** A unary request: exactly one message in, one out. */
export interface UnaryRequest<I extends DescMessage = DescMessage> extends RequestCommon {
  readonly stream: false;
  message: MessageShape<I>;
}

/** A streaming request (server, client or bidi streaming). Server streaming carries one message. */
export interface StreamRequest<I extends DescMessage = DescMessage> extends RequestCommon {
  readonly stream: true;
  message: AsyncIterable<MessageShape<I>>;
}

/** A unary response. Errors are thrown as RpcError instead. */
export interface UnaryResponse<O extends DescMessage = DescMessage> {
  readonly stream: false;
  readonly service: DescService;
  readonly method: DescMethod;
  readonly header: Metadata;
  readonly trailer: Metadata;
  message: MessageShape<O>;
}

/**
 * A streaming response. `trailer` is filled in by the time `message` is exhausted; a failing
 * stream throws an RpcError from the iterator.
 */
export interface StreamResponse<O extends DescMessage = DescMessage> {
  readonly stream: true;
  readonly service: DescService;
  readonly method: DescMethod;
  readonly header: Metadata;
  readonly trailer: Metadata;
  message: AsyncIterable<MessageShape<O>>;
}

/** A protocol client. Implementations reject/throw only `RpcError`. */
export interface Transport {
  unary<I extends DescMessage, O extends DescMessage>(req: UnaryRequest<I>): Promise<UnaryResponse<O>>;
  stream<I extends DescMessage, O extends DescMessage>(req: StreamRequest<I>): Promise<StreamResponse<O>>;
  /**
   * Optional fast path: `unary(req).then(settle.ok, settle.fail)` without the second promise —
   * the transport hands the outcome to `settle` and its own promise takes what `settle` returns.
   * Interceptors directly above the transport reach it through {@link unarySettledOf}; with Node
   * 20's AsyncLocalStorage active, every promise costs a hook call, and this one was most of what
   * retry + breaker + limiter added to a call (bench/src/micro/resilience-overhead.ts).
   * Like `unary`, it must not change `req.header` (a retry above re-sends the header it saw).
   */
  unarySettled?(req: UnaryRequest, settle: UnarySettle): Promise<UnaryResponse>;
}

/** What a unary call's outcome passes through in {@link Transport.unarySettled}. */
export interface UnarySettle {
  /** The call succeeded: return the result (or a promise of it); throwing fails the call. */
  ok(res: UnaryResponse): UnaryResponse | Promise<UnaryResponse>;
  /** The call failed with `err`: return a result (or a promise), or throw to fail the call. */
  fail(err: RpcError): UnaryResponse | Promise<UnaryResponse>;
}

/** A transport's `unarySettled`, when `next` is the transport's own unary function. */
export type UnarySettledFn = (req: UnaryRequest, settle: UnarySettle) => Promise<UnaryResponse>;

const UNARY_SETTLED = Symbol.for("petrel.unarySettled");

/**
 * The {@link Transport.unarySettled} behind `next`, if `next` is a client's innermost function
 * (no interceptor between the caller and the transport) and the transport has one. @internal
 */
export function unarySettledOf(next: AnyFn): UnarySettledFn | undefined {
  return (next as unknown as Record<symbol, UnarySettledFn | undefined>)[UNARY_SETTLED];
}

/** The innermost unary function of a client over `transport`, marked for {@link unarySettledOf}. @internal */
export function transportUnaryFn(transport: Transport): AnyFn {
  const fn: AnyFn = (req) => transport.unary(req as UnaryRequest);
  const settled = transport.unarySettled;
  if (settled !== undefined) {
    (fn as unknown as Record<symbol, UnarySettledFn>)[UNARY_SETTLED] = settled.bind(transport);
  }
  return fn;
}

/** Either request shape. */
export type AnyRequest = UnaryRequest | StreamRequest;
/** Either response shape. */
export type AnyResponse = UnaryResponse | StreamResponse;
/** The function an interceptor wraps. */
export type AnyFn = (req: AnyRequest) => Promise<AnyResponse>;

/**
 * A client interceptor: `(next) => (req) => …`. Interceptors compose like an onion: the first
 * in the list is the outermost. They can change `req.header`, wrap `req.message` (for streams),
 * wrap `res.message`, and see the outcome (a resolved response or a thrown RpcError).
 */
export type Interceptor = (next: AnyFn) => AnyFn;

/** Composes interceptors around `fn`, first = outermost. */
export function applyInterceptors<F>(fn: F, interceptors: readonly ((next: F) => F)[] | undefined): F {
  if (interceptors === undefined) return fn;
  let out = fn;
  for (let i = interceptors.length - 1; i >= 0; i--) out = (interceptors[i] as (next: F) => F)(out);
  return out;
}

/**
 * Resolves a unary call through its settle hook: `ok` for a response, `fail` for an RpcError;
 * whatever the hook returns (a value or a promise) becomes the call's result, a throw rejects it.
 * `ok` runs at once; `fail` runs in a microtask, because it may start a retry, and a failure can
 * arrive while a transport walks its calls (a connection closing) — no new call may start there.
 * For transports implementing {@link Transport.unarySettled}. @internal
 */
export function settleUnary(
  settle: UnarySettle,
  outcome: UnaryResponse | RpcError,
  resolve: (v: UnaryResponse) => void,
  reject: (e: unknown) => void,
): void {
  if (outcome instanceof RpcErrorClass) settleError(settle, outcome, resolve, reject);
  else settleOk(settle, outcome, resolve, reject);
}

/** {@link settleUnary} for a response (no type test: `instanceof RpcError` is a brand lookup). @internal */
export function settleOk(settle: UnarySettle, res: UnaryResponse, resolve: (v: UnaryResponse) => void, reject: (e: unknown) => void): void {
  try {
    resolve(settle.ok(res) as UnaryResponse);
  } catch (e) {
    reject(e);
  }
}

/** {@link settleUnary} for an error: `fail` runs in a microtask (see there). @internal */
export function settleError(settle: UnarySettle, err: RpcError, resolve: (v: UnaryResponse) => void, reject: (e: unknown) => void): void {
  queueMicrotask(() => {
    try {
      resolve(settle.fail(err) as UnaryResponse);
    } catch (e) {
      reject(e);
    }
  });
}

/** A unary call that failed before it started, through its settle hook. @internal */
export function settleFailure(settle: UnarySettle, e: unknown, code: Code = Code.UNAVAILABLE): Promise<UnaryResponse> {
  return new Promise((resolve, reject) => settleUnary(settle, RpcErrorClass.from(e, code), resolve, reject));
}
