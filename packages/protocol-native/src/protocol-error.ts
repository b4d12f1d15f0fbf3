import { errorCodeName } from "./frame-types.js";

/** Branding survives two copies of the package in one process (same trick as RpcError). */
const brand = Symbol.for("petrel.ProtocolError");

/**
 * A violation of the petrel/1 wire rules. `code` is the GOAWAY error code the connection should
 * close with (or, for HEADER_TOO_LARGE from a payload parser, the hint that only the stream
 * failed). The framing layer throws nothing else for any input bytes.
 */
export class ProtocolError extends Error {
  /** A GOAWAY {@link ErrorCode}. */
  readonly code: number;

  constructor(code: number, message: string) {
    super(message);
    this.name = "ProtocolError";
    this.code = code;
    (this as unknown as Record<symbol, boolean>)[brand] = true;
  }

  /** Works across copies of the package. */
  static override [Symbol.hasInstance](v: unknown): boolean {
    return typeof v === "object" && v !== null && (v as Record<symbol, unknown>)[brand] === true;
  }

  /** `"FRAME_SIZE_ERROR"` etc.; for logs. */
  get codeName(): string {
    return errorCodeName(this.code);
  }
}
