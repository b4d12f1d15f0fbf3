import { Code, codeName, isCode } from "./code.js";
import { Metadata, type MetadataInit } from "./metadata.js";
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";

/**
 * One error detail, as carried in `google.rpc.Status.details` (a `google.protobuf.Any`):
 * the fully-qualified message type name and its protobuf binary encoding.
 */
export interface ErrorDetail {
  /** Fully-qualified protobuf type name, e.g. `google.rpc.RetryInfo`. */
  readonly typeName: string;
  /** The message's protobuf binary encoding. */
  readonly value: Uint8Array;
}

/** Branding survives two copies of the package in one process (see undici). */
const brand = Symbol.for("petrel.RpcError");

/**
 * The one error type of Petrel: a status code from the closed set of 16 gRPC codes, a message,
 * optional structured details and metadata (trailers). Every protocol maps its failures onto it.
 */
export class RpcError extends Error {
  /** The status code. */
  readonly code: Code;
  /** The message without the `[code]` prefix that `message` carries. */
  readonly rawMessage: string;
  /** Structured details (google.rpc.Status details). */
  readonly details: ErrorDetail[];
  /** Metadata that came with the error (response trailers, or headers for a failed call). */
  readonly metadata: Metadata;
  /** The original error when this one wraps another; never sent to a peer. */
  override readonly cause: unknown;

  constructor(code: Code, message = "", options: { details?: ErrorDetail[]; metadata?: MetadataInit; cause?: unknown } = {}) {
    super(message === "" ? `[${codeName(code).toLowerCase()}]` : `[${codeName(code).toLowerCase()}] ${message}`);
    this.name = "RpcError";
    this.code = isCode(code) ? code : Code.UNKNOWN;
    this.rawMessage = message;
    this.details = options.details ?? [];
    this.metadata = options.metadata instanceof Metadata ? options.metadata : new Metadata(options.metadata);
    this.cause = options.cause;
    (this as unknown as Record<symbol, boolean>)[brand] = true;
  }

  /** Works across copies of the package. */
  static override [Symbol.hasInstance](v: unknown): boolean {
    return typeof v === "object" && v !== null && (v as Record<symbol, unknown>)[brand] === true;
  }

  /**
   * Converts anything thrown into an RpcError. RpcErrors pass through; an `AbortError` becomes
   * CANCELLED (or DEADLINE_EXCEEDED for a `TimeoutError`); anything else becomes `code`
   * (default UNKNOWN) with the original kept as `cause` — never sent to a peer.
   */
  static from(reason: unknown, code: Code = Code.UNKNOWN): RpcError {
    if (reason instanceof RpcError) return reason;
    if (reason instanceof Error) {
      if (reason.name === "AbortError") return new RpcError(Code.CANCELLED, reason.message, { cause: reason });
      if (reason.name === "TimeoutError") return new RpcError(Code.DEADLINE_EXCEEDED, reason.message, { cause: reason });
      return new RpcError(code, reason.message, { cause: reason });
    }
    return new RpcError(code, String(reason), { cause: reason });
  }

  /** Adds a typed detail message. */
  addDetail<Desc extends DescMessage>(schema: Desc, message: MessageInitShape<Desc>): this {
    const msg = create(schema, message);
    this.details.push({ typeName: schema.typeName, value: toBinary(schema, msg) });
    return this;
  }

  /** Decodes the details of the given type. */
  findDetails<Desc extends DescMessage>(schema: Desc): MessageShape<Desc>[] {
    const out: MessageShape<Desc>[] = [];
    for (const d of this.details) if (d.typeName === schema.typeName) out.push(fromBinary(schema, d.value));
    return out;
  }
}

/**
 * What a server sends for an error thrown by a handler: RpcErrors as they are; anything else
 * becomes INTERNAL with a fixed message, so stacks and internal messages never reach the peer.
 */
export function toWireError(reason: unknown): RpcError {
  if (reason instanceof RpcError) return reason;
  return new RpcError(Code.INTERNAL, "internal error", { cause: reason });
}

/**
 * Marks a transport sets on an `RpcError` for retry policies (gRFC A6), as `Symbol.for` keys so
 * every copy of the packages agrees: UNPROCESSED — the server application never saw the call
 * (REFUSED_STREAM, a GOAWAY before the stream, a refused connection), so it is safe to retry even
 * a non-idempotent call; COMMITTED — the server had already sent response headers, so a retry
 * policy must not retry it.
 */
export const UNPROCESSED: unique symbol = Symbol.for("petrel.rpc.unprocessed") as never;
export const COMMITTED: unique symbol = Symbol.for("petrel.rpc.committed") as never;

/**
 * The endpoint (its id, e.g. `10.0.0.7:50051`) a failed call went to, set by a balancing channel
 * on the error it rejects with, so a retry policy can prefer another endpoint without any
 * per-call bookkeeping on the happy path.
 */
export const ENDPOINT: unique symbol = Symbol.for("petrel.rpc.endpoint") as never;

/** Records on an error the endpoint its call went to ({@link ENDPOINT}) and returns the error. */
export function setErrorEndpoint<E extends object>(err: E, endpoint: string): E {
  (err as Record<symbol, unknown>)[ENDPOINT] = endpoint;
  return err;
}

/** The endpoint recorded on an error by {@link setErrorEndpoint}, if any. */
export function errorEndpoint(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const ep = (err as Record<symbol, unknown>)[ENDPOINT];
  return typeof ep === "string" ? ep : undefined;
}

/** Sets a retry mark on an error and returns it. */
export function markRpcError<E extends object>(err: E, mark: typeof UNPROCESSED | typeof COMMITTED): E {
  (err as Record<symbol, unknown>)[mark] = true;
  return err;
}
