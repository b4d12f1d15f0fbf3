/**
 * The status code byte of TRAILERS and CANCEL: one of the 17 gRPC codes (0..16), so a status
 * means the same thing on every Petrel protocol.
 */
import { ErrorCode, MAX_STATUS_CODE } from "./frame-types.js";
import type { PayloadCursor } from "./payload-cursor.js";
import { ProtocolError } from "./protocol-error.js";

/** Throws a RangeError for a status code the peer would reject (a sender-side programming error). */
export function checkStatusCode(code: number): void {
  if (!Number.isInteger(code) || code < 0 || code > MAX_STATUS_CODE) throw new RangeError(`petrel: invalid status code ${code}`);
}

/** Reads the status code byte; PROTOCOL_ERROR above 16. */
export function readStatusCode(cur: PayloadCursor): number {
  const code = cur.u8();
  if (code > MAX_STATUS_CODE) throw new ProtocolError(ErrorCode.PROTOCOL_ERROR, `petrel: invalid status code ${code} in ${cur.what}`);
  return code;
}
