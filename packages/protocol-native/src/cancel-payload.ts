/** CANCEL payload, which ends a stream from either side: `u8 statusCode | u16 reasonLen | reason (UTF-8)`. */
import type { ByteSink } from "./byte-sink.js";
import { PayloadCursor } from "./payload-cursor.js";
import { checkStatusCode, readStatusCode } from "./status-code.js";

/** A decoded CANCEL payload. */
export interface Cancel {
  /** Status code the stream ends with, usually CANCELLED (1) or DEADLINE_EXCEEDED (4). */
  code: number;
  /** Human-readable reason; may be empty. */
  reason: string;
}

/** Appends a CANCEL payload; a reason over 65535 UTF-8 bytes is truncated at a character boundary. */
export function writeCancelPayload(sink: ByteSink, code: number, reason: string): void {
  checkStatusCode(code);
  sink.u8(code);
  const at = sink.pos;
  sink.u16(0);
  sink.patchU16(at, sink.utf8(reason, 0xffff));
}

const cursor = new PayloadCursor();

/** Parses a CANCEL payload; PROTOCOL_ERROR for a status code above 16 or any malformation. */
export function parseCancel(payload: Uint8Array): Cancel {
  const cur = cursor.reset(payload, "CANCEL");
  const code = readStatusCode(cur);
  const reason = cur.utf8(cur.u16());
  cur.finish();
  return { code, reason };
}
