import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Code } from "./code.js";
import { Metadata } from "./metadata.js";
import { RpcError } from "./rpc-error.js";

/** Who is calling. */
export interface PeerInfo {
  /** e.g. `127.0.0.1:51234`, `in-memory`. */
  readonly address: string;
  /** Protocol name, e.g. `petrel/1`. */
  readonly protocol: string;
}

/**
 * What a server handler gets besides the request: headers, deadline, cancellation, peer and a
 * place for response headers and trailers. Protocol adapters create one per call.
 */
export interface HandlerContext {
  readonly service: DescService;
  readonly method: DescMethod;
  readonly requestHeader: Metadata;
  /** Response headers; sent before the first response message (or with the trailers). */
  readonly responseHeader: Metadata;
  /** Response trailers; sent when the call ends, also on error. */
  readonly responseTrailer: Metadata;
  /** Absolute deadline in epoch ms, or undefined. */
  readonly deadline: number | undefined;
  /** Aborted when the client cancels, the deadline passes, or the connection dies. */
  readonly signal: AbortSignal;
  readonly peer: PeerInfo;
  /** Milliseconds left until the deadline (may be <= 0), or undefined without a deadline. */
  timeRemaining(): number | undefined;
}

/**
 * The standard HandlerContext implementation. The AbortSignal is created lazily: most unary
 * handlers never look at it, and an AbortController per call was measurable on the hot path.
 * @internal protocols construct it; handlers see the HandlerContext interface.
 */
export class ServerContext implements HandlerContext {
  private ac: AbortController | undefined = undefined;
  private abortReason: RpcError | undefined = undefined;
  private resHeader: Metadata | undefined = undefined;
  private resTrailer: Metadata | undefined = undefined;

  constructor(
    readonly service: DescService,
    readonly method: DescMethod,
    readonly requestHeader: Metadata,
    readonly deadline: number | undefined,
    readonly peer: PeerInfo,
  ) {}

  get responseHeader(): Metadata {
    if (this.resHeader === undefined) this.resHeader = new Metadata();
    return this.resHeader;
  }

  get responseTrailer(): Metadata {
    if (this.resTrailer === undefined) this.resTrailer = new Metadata();
    return this.resTrailer;
  }

  /** Response headers if any were set, without allocating. @internal */
  peekResponseHeader(): Metadata | undefined {
    return this.resHeader;
  }

  /** Response trailers if any were set, without allocating. @internal */
  peekResponseTrailer(): Metadata | undefined {
    return this.resTrailer;
  }

  get signal(): AbortSignal {
    if (this.ac === undefined) {
      this.ac = new AbortController();
      if (this.abortReason !== undefined) this.ac.abort(this.abortReason);
    }
    return this.ac.signal;
  }

  /** Whether the call was aborted. */
  get aborted(): boolean {
    return this.abortReason !== undefined;
  }

  /** The abort reason, if aborted. */
  get reason(): RpcError | undefined {
    return this.abortReason;
  }

  timeRemaining(): number | undefined {
    return this.deadline === undefined ? undefined : this.deadline - Date.now();
  }

  /** Aborts the call (first reason wins). @internal */
  abort(reason: RpcError = new RpcError(Code.CANCELLED, "call cancelled")): void {
    if (this.abortReason !== undefined) return;
    this.abortReason = reason;
    this.ac?.abort(reason);
  }
}
