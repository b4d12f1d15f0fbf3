/**
 * TRAILERS payload, the server's last frame on a stream:
 * `u8 statusCode | u16 messageLen | message (UTF-8) | u32 detailsLen | details | metadata block`.
 */
import type { ByteSink } from "./byte-sink.js";
import { type MetadataFlat, readMetadataBlock, writeMetadataBlock } from "./metadata-block.js";
import { EMPTY_BYTES, PayloadCursor } from "./payload-cursor.js";
import { checkStatusCode, readStatusCode } from "./status-code.js";

/** A decoded TRAILERS payload. */
export interface Trailers {
  /** The call's status code, 0..16. */
  code: number;
  /** The status message ("" for OK). */
  message: string;
  /** Opaque serialized google.rpc.Status-like details; empty when there are none. A copy. */
  details: Uint8Array;
  /** Trailing metadata. */
  metadata: MetadataFlat;
}

/**
 * Appends a TRAILERS payload. A message over 65535 UTF-8 bytes is truncated at a character
 * boundary: it is human text, and failing the call over its length would be worse.
 */
export function writeTrailersPayload(
  sink: ByteSink,
  code: number,
  message: string,
  details: Uint8Array,
  metadata: ReadonlyArray<string | Uint8Array>,
): void {
  checkStatusCode(code);
  sink.u8(code);
  const at = sink.pos;
  sink.u16(0);
  sink.patchU16(at, sink.utf8(message, 0xffff));
  sink.u32(details.length);
  sink.bytes(details);
  writeMetadataBlock(sink, metadata);
}

const cursor = new PayloadCursor();

/**
 * Parses a TRAILERS payload. PROTOCOL_ERROR for a status code above 16 or any malformation;
 * HEADER_TOO_LARGE if the metadata block exceeds `maxHeaderBytes`.
 */
export function parseTrailers(payload: Uint8Array, maxHeaderBytes: number = Number.POSITIVE_INFINITY): Trailers {
  const cur = cursor.reset(payload, "TRAILERS");
  const code = readStatusCode(cur);
  const message = cur.utf8(cur.u16());
  const dl = cur.u32();
  const details = dl === 0 ? EMPTY_BYTES : cur.copy(dl);
  const metadata = readMetadataBlock(cur, maxHeaderBytes);
  return { code, message, details, metadata };
}
