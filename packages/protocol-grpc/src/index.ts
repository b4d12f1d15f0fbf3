/**
 * @petrel/protocol-grpc: the runtime-neutral pieces of gRPC over HTTP/2 — message framing,
 * `grpc-timeout`, metadata headers, status trailers and content types. The Node http2 server
 * and client in @petrel/node build on these.
 */
export { GRPC_FRAME_HEADER_SIZE, MessageDeframer, frameMessage, type MessageDeframerOptions } from "./message-framer.js";
export { encodeGrpcTimeout, parseGrpcTimeout } from "./timeout.js";
export { decodeBase64, encodeBase64 } from "./base64.js";
export { headersToMetadata, isReservedHeader, metadataToHeaders } from "./metadata-headers.js";
export {
  codeFromHttpStatus,
  decodeGrpcMessage,
  encodeGrpcMessage,
  grpcContentType,
  parseGrpcContentType,
  readGrpcStatus,
  writeGrpcStatus,
  type GrpcStatus,
} from "./status.js";
export {
  IDENTITY_ENCODING,
  createCompressionRegistry,
  parseAcceptEncoding,
  type Compression,
  type CompressionRegistry,
} from "./compression.js";
