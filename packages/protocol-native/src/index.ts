/**
 * @petrel/protocol-native: the petrel/1 native protocol (spec: docs/protocol-native.md).
 * Runtime-neutral: Uint8Array, DataView-free integer code and TextEncoder/TextDecoder only.
 */
export * from "./frame-types.js";
export * from "./protocol-error.js";
export * from "./frame-writer.js";
export * from "./frame-reader.js";
export * from "./settings-payload.js";
export * from "./headers-payload.js";
export * from "./metadata-block.js";
export * from "./trailers-payload.js";
export * from "./cancel-payload.js";
export * from "./goaway-payload.js";
export * from "./window-update-payload.js";
export { checkStatusCode } from "./status-code.js";
export { ByteSink } from "./byte-sink.js";
export { EMPTY_BYTES } from "./payload-cursor.js";
export * from "./channel.js";
export {
  COMPRESS_HEADER,
  DEFAULT_COMPRESS_MIN_BYTES,
  IDENTITY_COMPRESSION,
  type MessageCompression,
  type MessageCompressionRegistry,
} from "./compression.js";
export { Backoff, type BackoffOptions } from "./backoff.js";
export { StreamTable } from "./stream-table.js";
export { ConnectionBase, type ConnectionOptions } from "./connection-base.js";
export { ServerConnection, type ServerConnectionOptions } from "./server-connection.js";
export { ClientConnection, type ClientConnectionListener } from "./client-connection.js";
export {
  createNativeClientTransport,
  type ClosableTransport,
  type ConnectableTransport,
  type NativeTransportOptions,
} from "./native-transport.js";
