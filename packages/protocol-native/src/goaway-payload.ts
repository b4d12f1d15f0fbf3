/** GOAWAY payload: `u32 lastStreamId | u8 errorCode | u16 debugLen | debug (UTF-8)`. */
import type { ByteSink } from "./byte-sink.js";
import { PayloadCursor } from "./payload-cursor.js";

/** A decoded GOAWAY payload. */
export interface GoAway {
  /** Streams up to and including this id may complete; later ones were never processed. */
  lastStreamId: number;
  /** An {@link ErrorCode}; codes this version does not know are kept as is (treat as INTERNAL_ERROR). */
  errorCode: number;
  /** Human-readable diagnostics; may be empty. */
  debug: string;
}

/** Appends a GOAWAY payload; debug text over 65535 UTF-8 bytes is truncated at a character boundary. */
export function writeGoAwayPayload(sink: ByteSink, lastStreamId: number, errorCode: number, debug: string): void {
  if (!Number.isInteger(errorCode) || errorCode < 0 || errorCode > 0xff)
    throw new RangeError(`petrel: invalid GOAWAY error code ${errorCode}`);
  sink.u32(lastStreamId);
  sink.u8(errorCode);
  const at = sink.pos;
  sink.u16(0);
  sink.patchU16(at, sink.utf8(debug, 0xffff));
}

const cursor = new PayloadCursor();

/** Parses a GOAWAY payload; PROTOCOL_ERROR if truncated, with trailing bytes or invalid UTF-8. */
export function parseGoAway(payload: Uint8Array): GoAway {
  const cur = cursor.reset(payload, "GOAWAY");
  const lastStreamId = cur.u32();
  const errorCode = cur.u8();
  const debug = cur.utf8(cur.u16());
  cur.finish();
  return { lastStreamId, errorCode, debug };
}
