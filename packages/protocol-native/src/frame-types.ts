/**
 * Wire constants of petrel/1 and the shape of a decoded frame.
 *
 * Everything here mirrors docs/protocol-native.md; change both together. The constants are
 * plain numbers (not enums) so the hot paths compare small integers and nothing is looked up
 * at run time.
 */

/** The protocol version this implementation speaks (the preface's version byte). */
export const PROTOCOL_VERSION = 1;

/** Size of the connection preface: "PETREL", u8 version, u8 reserved. */
export const PREFACE_SIZE = 8;

/** The six magic bytes every preface starts with: ASCII "PETREL". */
export const PREFACE_MAGIC: readonly number[] = Object.freeze([0x50, 0x45, 0x54, 0x52, 0x45, 0x4c]);

/** Size of every frame header: u32 payloadLength, u8 type, u8 flags, u32 streamId. */
export const FRAME_HEADER_SIZE = 10;

/** Frame types (the header's `type` byte). Any other value is a connection PROTOCOL_ERROR. */
export const FrameType = {
  SETTINGS: 0x0,
  HEADERS: 0x1,
  MESSAGE: 0x2,
  TRAILERS: 0x3,
  HALF_CLOSE: 0x4,
  CANCEL: 0x5,
  WINDOW_UPDATE: 0x6,
  PING: 0x7,
  GOAWAY: 0x8,
} as const;

/** A known frame type value. */
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** The highest frame type petrel/1 defines; the reader rejects anything above. */
export const MAX_FRAME_TYPE = 0x8;

/**
 * Frame flags. Bits mean different things per frame type, hence the aliases sharing values;
 * bits a type does not define are sent as 0 and ignored on receipt.
 */
export const FrameFlag = {
  /** SETTINGS, PING: this frame acknowledges the peer's. */
  ACK: 0x1,
  /** HEADERS (client), MESSAGE: the sender sends nothing more on this stream. */
  END_STREAM: 0x1,
  /** HEADERS (client): the timeoutMs field is meaningful. */
  HAS_TIMEOUT: 0x2,
  /** MESSAGE: more chunks of the same message follow. */
  CONTINUED: 0x2,
  /** MESSAGE: the message is compressed (spec §4.3.1; only valid if the receiver advertised a compression). */
  COMPRESSED: 0x4,
} as const;

/** GOAWAY error codes (also the `code` of a {@link ProtocolError}). */
export const ErrorCode = {
  NO_ERROR: 0,
  PROTOCOL_ERROR: 1,
  INTERNAL_ERROR: 2,
  FLOW_CONTROL_ERROR: 3,
  FRAME_SIZE_ERROR: 4,
  UNSUPPORTED_VERSION: 5,
  ENHANCE_YOUR_CALM: 6,
  IDLE_TIMEOUT: 7,
  HEADER_TOO_LARGE: 8,
} as const;

/** A GOAWAY error code. Unknown codes may arrive from newer peers; treat them as INTERNAL_ERROR. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const errorCodeNames: readonly string[] = Object.keys(ErrorCode);

/** `"FRAME_SIZE_ERROR"` for 4, `"ERROR(n)"` for codes this version does not define. */
export function errorCodeName(code: number): string {
  return errorCodeNames[code] ?? `ERROR(${code})`;
}

const frameTypeNames: readonly string[] = Object.keys(FrameType);

/** `"MESSAGE"` for 2, `"TYPE(n)"` for unknown types; for logs and error messages. */
export function frameTypeName(type: number): string {
  return frameTypeNames[type] ?? `TYPE(${type})`;
}

/** SETTINGS entry ids. Unknown ids are skipped on receipt so later versions can add more. */
export const SettingId = {
  MAX_FRAME_SIZE: 1,
  INITIAL_STREAM_WINDOW: 2,
  INITIAL_CONNECTION_WINDOW: 3,
  MAX_CONCURRENT_STREAMS: 4,
  MAX_HEADER_BYTES: 5,
  MAX_MESSAGE_SIZE: 6,
  CODECS: 7,
  COMPRESSIONS: 8,
  KEEPALIVE_MS: 9,
} as const;

/** Largest payload a peer may send before it has seen our SETTINGS. */
export const DEFAULT_MAX_FRAME_SIZE = 65_536;
/** Smallest MAX_FRAME_SIZE a peer may advertise. */
export const MIN_MAX_FRAME_SIZE = 16_384;
/** Largest MAX_FRAME_SIZE a peer may advertise (16 MiB). */
export const MAX_MAX_FRAME_SIZE = 16 * 1024 * 1024;
/** Default per-stream flow-control window (1 MiB). */
export const DEFAULT_INITIAL_STREAM_WINDOW = 1024 * 1024;
/** Default connection flow-control window (16 MiB). */
export const DEFAULT_INITIAL_CONNECTION_WINDOW = 16 * 1024 * 1024;
/** Default cap on streams the client may have open at once. */
export const DEFAULT_MAX_CONCURRENT_STREAMS = 1000;
/** Default cap on one encoded metadata block. */
export const DEFAULT_MAX_HEADER_BYTES = 16_384;
/** Default cap on one reassembled message (4 MiB). */
export const DEFAULT_MAX_MESSAGE_SIZE = 4 * 1024 * 1024;
/** Largest flow-control window and WINDOW_UPDATE increment (2^31-1), as in HTTP/2. */
export const MAX_WINDOW = 0x7fff_ffff;
/** Largest stream id; a client that used it opens a new connection. */
export const MAX_STREAM_ID = 0xffff_ffff;
/** Largest status code a TRAILERS or CANCEL frame may carry (the gRPC codes are 0..16). */
export const MAX_STATUS_CODE = 16;

/**
 * One decoded frame. The reader does not allocate these (it calls {@link FrameHandler.onFrame}
 * with the fields), but tests and tools that collect frames use this shape.
 */
export interface Frame {
  /** A {@link FrameType}. */
  type: number;
  /** Bitwise OR of {@link FrameFlag} values. */
  flags: number;
  /** 0 for the connection, otherwise the stream. */
  streamId: number;
  /** The payload; see {@link FrameHandler.onFrame} for how long it stays valid. */
  payload: Uint8Array;
}

/** Receives what a {@link FrameReader} decodes. One object per connection; no per-frame closures. */
export interface FrameHandler {
  /** The peer's preface arrived (only when the reader expects one). `version` is unchecked. */
  onPreface?(version: number): void;
  /**
   * One complete, header-validated frame. `payload` is a view into the pushed chunk when the
   * frame lay inside one chunk, or a fresh copy when it was split; the reader never writes into
   * it afterwards, so it stays valid as long as the caller does not reuse the chunks it pushed.
   */
  onFrame(type: number, flags: number, streamId: number, payload: Uint8Array): void;
}

/** The message a server sends in its GOAWAY UNSUPPORTED_VERSION when it cannot speak `requested`. */
export function unsupportedVersionMessage(requested: number, spoken: number = PROTOCOL_VERSION): string {
  return `petrel: unsupported protocol version ${requested}; this server speaks ${spoken}`;
}
