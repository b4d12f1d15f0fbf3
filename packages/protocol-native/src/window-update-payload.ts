/** WINDOW_UPDATE payload: `u32 increment`, 1..2^31-1. */
import { ErrorCode, FRAME_HEADER_SIZE, MAX_WINDOW } from "./frame-types.js";
import { ProtocolError } from "./protocol-error.js";

/** Size of a WINDOW_UPDATE payload. */
export const WINDOW_UPDATE_SIZE = 4;

/** Size of a whole WINDOW_UPDATE frame; flow-control code sizes its batches with it. */
export const WINDOW_UPDATE_FRAME_SIZE = FRAME_HEADER_SIZE + WINDOW_UPDATE_SIZE;

/**
 * Reads the increment. FRAME_SIZE_ERROR unless the payload is 4 bytes (the reader already checks
 * this; repeated so the function is safe on its own); PROTOCOL_ERROR for 0 or above 2^31-1.
 */
export function parseWindowUpdate(payload: Uint8Array): number {
  if (payload.length !== WINDOW_UPDATE_SIZE)
    throw new ProtocolError(ErrorCode.FRAME_SIZE_ERROR, "petrel: WINDOW_UPDATE payload must be 4 bytes");
  const v =
    (((payload[0] as number) << 24) | ((payload[1] as number) << 16) | ((payload[2] as number) << 8) | (payload[3] as number)) >>> 0;
  if (v === 0 || v > MAX_WINDOW)
    throw new ProtocolError(ErrorCode.PROTOCOL_ERROR, `petrel: WINDOW_UPDATE increment ${v} outside 1..2^31-1`);
  return v;
}
