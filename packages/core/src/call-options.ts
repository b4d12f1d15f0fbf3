import type { HandlerContext } from "./handler-context.js";
import type { Metadata, MetadataInit } from "./metadata.js";

/** Per-call options of a client method. Every field is optional. */
export interface CallOptions {
  /** Relative timeout in milliseconds. Combined with `deadline` and the parent's: the earliest wins. */
  timeoutMs?: number;
  /** Absolute deadline (epoch ms or Date). */
  deadline?: number | Date;
  /** Cancels the call when aborted. */
  signal?: AbortSignal;
  /** Request headers. */
  headers?: MetadataInit;
  /** Codec name for this call (default: the transport's, usually `proto`). */
  codec?: string;
  /** Called with the response headers when they arrive. */
  onHeader?: (header: Metadata) => void;
  /** Called with the response trailers when the call ends, also on error. */
  onTrailer?: (trailer: Metadata) => void;
  /**
   * The inbound call whose deadline and cancellation this call inherits. Default: the handler
   * context of the call being served (with `@petrel/node`'s context storage). `null` disables it.
   */
  parent?: HandlerContext | null;
}
