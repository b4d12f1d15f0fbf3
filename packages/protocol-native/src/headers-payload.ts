/**
 * HEADERS payloads. The client's HEADERS opens a stream:
 * `u8 codecLen | codec | u16 pathLen | path (UTF-8) | u32 timeoutMs | metadata block`.
 * The server's response HEADERS is a bare metadata block (see metadata-block.ts).
 */
import type { ByteSink } from "./byte-sink.js";
import { FrameFlag } from "./frame-types.js";
import { type MetadataFlat, readMetadataBlock, writeMetadataBlock } from "./metadata-block.js";
import { PayloadCursor } from "./payload-cursor.js";
import { checkToken, readToken, writeAscii } from "./token.js";
import { utf8Length } from "./utf8.js";

/** A decoded request HEADERS payload. */
export interface RequestHeaders {
  /** Codec of the stream's messages, e.g. "proto". */
  codec: string;
  /** The method, "/pkg.Service/Method". Not checked here; an unknown path is UNIMPLEMENTED. */
  path: string;
  /** Time the client grants the call, relative to receipt, in ms; undefined = no deadline. */
  timeoutMs: number | undefined;
  /** Request metadata. */
  metadata: MetadataFlat;
}

/**
 * Converts a remaining time to the wire's u32 milliseconds: rounded up (so a call with 0.4 ms
 * left is not reported as already expired), negatives are 0, and anything past ~49 days clamps.
 */
export function encodeTimeout(timeoutMs: number): number {
  if (!(timeoutMs > 0)) return 0;
  return timeoutMs >= 0xffff_ffff ? 0xffff_ffff : Math.ceil(timeoutMs);
}

/**
 * Appends a request HEADERS payload. The caller sets HAS_TIMEOUT iff `timeoutMs` is defined.
 * Throws TypeError/RangeError for an invalid codec name, a path over 65535 bytes or bad metadata.
 */
export function writeRequestHeadersPayload(
  sink: ByteSink,
  codec: string,
  path: string,
  timeoutMs: number | undefined,
  metadata: ReadonlyArray<string | Uint8Array>,
): void {
  checkToken(codec, "codec name");
  if (codec.length > 0xff) throw new RangeError("petrel: codec name longer than 255 bytes");
  sink.u8(codec.length);
  writeAscii(sink, codec);
  // Only long paths can overflow the u16; measure them rather than silently truncating a route.
  if (path.length * 3 > 0xffff && utf8Length(path) > 0xffff) throw new RangeError("petrel: path longer than 65535 bytes");
  const at = sink.pos;
  sink.u16(0);
  sink.patchU16(at, sink.utf8(path, 0xffff));
  sink.u32(timeoutMs === undefined ? 0 : encodeTimeout(timeoutMs));
  writeMetadataBlock(sink, metadata);
}

const cursor = new PayloadCursor();

/**
 * Parses a request HEADERS payload; `flags` are the frame's (HAS_TIMEOUT decides whether
 * timeoutMs counts). PROTOCOL_ERROR on any malformation (empty or invalid codec name, invalid
 * UTF-8, truncation, trailing bytes); HEADER_TOO_LARGE if the metadata block exceeds
 * `maxHeaderBytes` (a stream error: the caller answers with TRAILERS RESOURCE_EXHAUSTED).
 */
export function parseRequestHeaders(payload: Uint8Array, flags: number, maxHeaderBytes: number = Number.POSITIVE_INFINITY): RequestHeaders {
  const cur = cursor.reset(payload, "request HEADERS");
  const codec = readToken(cur, cur.u8());
  const path = cur.utf8(cur.u16());
  const timeout = cur.u32();
  const metadata = readMetadataBlock(cur, maxHeaderBytes);
  return { codec, path, timeoutMs: (flags & FrameFlag.HAS_TIMEOUT) !== 0 ? timeout : undefined, metadata };
}
