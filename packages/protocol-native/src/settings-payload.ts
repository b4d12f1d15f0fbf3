/**
 * SETTINGS payload: a sequence of `u16 id | u16 len | value[len]` entries. Each side sends one
 * SETTINGS as its first frame; an absent entry means the default below.
 */
import type { ByteSink } from "./byte-sink.js";
import {
  DEFAULT_INITIAL_CONNECTION_WINDOW,
  DEFAULT_INITIAL_STREAM_WINDOW,
  DEFAULT_MAX_CONCURRENT_STREAMS,
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_MAX_HEADER_BYTES,
  DEFAULT_MAX_MESSAGE_SIZE,
  ErrorCode,
  MAX_MAX_FRAME_SIZE,
  MAX_WINDOW,
  MIN_MAX_FRAME_SIZE,
  SettingId,
} from "./frame-types.js";
import { PayloadCursor } from "./payload-cursor.js";
import { ProtocolError } from "./protocol-error.js";
import { checkToken, readTokenList, writeAscii } from "./token.js";

/** The values one side advertises. Every field is what the *sender* accepts from its peer. */
export interface Settings {
  /** Largest frame payload the sender accepts (16 KiB .. 16 MiB). */
  maxFrameSize: number;
  /** Initial flow-control window of every stream, for MESSAGE bytes the sender receives. */
  initialStreamWindow: number;
  /** Initial flow-control window of the connection. */
  initialConnectionWindow: number;
  /** Streams the client may have open at once (meaningful when sent by the server). */
  maxConcurrentStreams: number;
  /** Largest encoded metadata block the sender accepts. */
  maxHeaderBytes: number;
  /** Largest reassembled message the sender accepts. */
  maxMessageSize: number;
  /** Codec names the sender accepts, e.g. ["proto", "json"]. */
  codecs: string[];
  /** Compression names the sender can decompress, e.g. ["identity", "gzip"] (spec §4.3.1). */
  compressions: string[];
  /** How often the sender intends to PING when idle, in ms; 0 = not stated. Informative only. */
  keepaliveMs: number;
}

/** What applies for an entry the peer did not send (and before its SETTINGS arrives). */
export const DEFAULT_SETTINGS: Readonly<Settings> = Object.freeze({
  maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
  initialStreamWindow: DEFAULT_INITIAL_STREAM_WINDOW,
  initialConnectionWindow: DEFAULT_INITIAL_CONNECTION_WINDOW,
  maxConcurrentStreams: DEFAULT_MAX_CONCURRENT_STREAMS,
  maxHeaderBytes: DEFAULT_MAX_HEADER_BYTES,
  maxMessageSize: DEFAULT_MAX_MESSAGE_SIZE,
  codecs: Object.freeze(["proto"]) as string[],
  compressions: Object.freeze(["identity"]) as string[],
  keepaliveMs: 0,
});

function writeU32Entry(sink: ByteSink, id: number, value: number | undefined, min: number, max: number, what: string): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`petrel: setting ${what} out of range: ${value}`);
  sink.u16(id);
  sink.u16(4);
  sink.u32(value);
}

function writeListEntry(sink: ByteSink, id: number, list: readonly string[] | undefined, what: string): void {
  if (list === undefined) return;
  for (let i = 0; i < list.length; i++) checkToken(list[i] as string, what);
  const joined = list.join(",");
  if (joined.length > 0xffff) throw new RangeError(`petrel: setting ${what} longer than 65535 bytes`);
  sink.u16(id);
  sink.u16(joined.length);
  writeAscii(sink, joined);
}

/**
 * Appends the entries for the fields present in `s`, in id order. Throws a RangeError/TypeError
 * for a value the peer would reject, since the peer would answer with a connection error.
 */
export function writeSettingsPayload(sink: ByteSink, s: Partial<Settings>): void {
  writeU32Entry(sink, SettingId.MAX_FRAME_SIZE, s.maxFrameSize, MIN_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE, "maxFrameSize");
  writeU32Entry(sink, SettingId.INITIAL_STREAM_WINDOW, s.initialStreamWindow, 0, MAX_WINDOW, "initialStreamWindow");
  writeU32Entry(sink, SettingId.INITIAL_CONNECTION_WINDOW, s.initialConnectionWindow, 0, MAX_WINDOW, "initialConnectionWindow");
  writeU32Entry(sink, SettingId.MAX_CONCURRENT_STREAMS, s.maxConcurrentStreams, 0, 0xffff_ffff, "maxConcurrentStreams");
  writeU32Entry(sink, SettingId.MAX_HEADER_BYTES, s.maxHeaderBytes, 0, 0xffff_ffff, "maxHeaderBytes");
  writeU32Entry(sink, SettingId.MAX_MESSAGE_SIZE, s.maxMessageSize, 0, 0xffff_ffff, "maxMessageSize");
  writeListEntry(sink, SettingId.CODECS, s.codecs, "codec name");
  writeListEntry(sink, SettingId.COMPRESSIONS, s.compressions, "compression name");
  writeU32Entry(sink, SettingId.KEEPALIVE_MS, s.keepaliveMs, 0, 0xffff_ffff, "keepaliveMs");
}

const cursor = new PayloadCursor();

function u32Value(cur: PayloadCursor, len: number): number {
  if (len !== 4) throw new ProtocolError(ErrorCode.PROTOCOL_ERROR, "petrel: SETTINGS entry with a u32 value must be 4 bytes long");
  return cur.u32();
}

function windowValue(cur: PayloadCursor, len: number): number {
  const v = u32Value(cur, len);
  if (v > MAX_WINDOW) throw new ProtocolError(ErrorCode.FLOW_CONTROL_ERROR, `petrel: SETTINGS window ${v} exceeds 2^31-1`);
  return v;
}

/**
 * Parses a (non-ACK) SETTINGS payload into a full {@link Settings}, defaults filled in. Unknown
 * ids are skipped; a repeated id takes its last value. Errors: PROTOCOL_ERROR for a truncated
 * entry, a u32 entry whose len is not 4, MAX_FRAME_SIZE out of range, or a malformed name list;
 * FLOW_CONTROL_ERROR for a window above 2^31-1.
 */
export function parseSettings(payload: Uint8Array): Settings {
  const cur = cursor.reset(payload, "SETTINGS");
  // Fresh arrays: the defaults' are frozen and the caller may want to edit what it gets.
  const s: Settings = { ...DEFAULT_SETTINGS, codecs: DEFAULT_SETTINGS.codecs.slice(), compressions: DEFAULT_SETTINGS.compressions.slice() };
  while (cur.remaining > 0) {
    const id = cur.u16();
    const len = cur.u16();
    cur.need(len);
    switch (id) {
      case SettingId.MAX_FRAME_SIZE: {
        const v = u32Value(cur, len);
        if (v < MIN_MAX_FRAME_SIZE || v > MAX_MAX_FRAME_SIZE)
          throw new ProtocolError(ErrorCode.PROTOCOL_ERROR, `petrel: SETTINGS MAX_FRAME_SIZE ${v} out of range`);
        s.maxFrameSize = v;
        break;
      }
      case SettingId.INITIAL_STREAM_WINDOW:
        s.initialStreamWindow = windowValue(cur, len);
        break;
      case SettingId.INITIAL_CONNECTION_WINDOW:
        s.initialConnectionWindow = windowValue(cur, len);
        break;
      case SettingId.MAX_CONCURRENT_STREAMS:
        s.maxConcurrentStreams = u32Value(cur, len);
        break;
      case SettingId.MAX_HEADER_BYTES:
        s.maxHeaderBytes = u32Value(cur, len);
        break;
      case SettingId.MAX_MESSAGE_SIZE:
        s.maxMessageSize = u32Value(cur, len);
        break;
      case SettingId.CODECS:
        s.codecs = readTokenList(cur, len);
        break;
      case SettingId.COMPRESSIONS:
        s.compressions = readTokenList(cur, len);
        break;
      case SettingId.KEEPALIVE_MS:
        s.keepaliveMs = u32Value(cur, len);
        break;
      default:
        // Forward compatibility: a later version's setting is skipped, not an error.
        cur.pos += len;
    }
  }
  return s;
}
