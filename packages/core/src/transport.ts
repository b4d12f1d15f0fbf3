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
