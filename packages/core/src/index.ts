export { Code, codeName, isCode, parseCode } from "./code.js";
export {
  COMMITTED,
  ENDPOINT,
  errorEndpoint,
  markRpcError,
  RpcError,
  setErrorEndpoint,
  toWireError,
  UNPROCESSED,
  type ErrorDetail,
} from "./rpc-error.js";
export { encodeStatusDetails, decodeStatusDetails } from "./status-details.js";
export { Metadata, isBinaryKey, isValidMetadataPair, validateMetadataPair, type MetadataInit, type MetadataValue } from "./metadata.js";
export { createCodecRegistry, type Codec, type CodecRegistry } from "./codec.js";
export { protoBinaryCodec, protoEsBinaryCodec, protoJsonCodec, createDefaultCodecRegistry } from "./codec-protobuf.js";
export { protoFastCodec } from "./codec-protobuf-fast.js";
export type { CallOptions } from "./call-options.js";
export { methodPath, type Client, type ClientMethod, type MethodImpl, type ServiceImpl } from "./method-types.js";
export {
  applyInterceptors,
  type AnyFn,
  type AnyRequest,
  type AnyResponse,
  type Interceptor,
  type StreamRequest,
  type StreamResponse,
  type Transport,
  type UnaryRequest,
  type UnaryResponse,
  type UnarySettle,
  type UnarySettledFn,
  settleFailure,
  settleError,
  settleOk,
  settleUnary,
  unarySettledOf,
} from "./transport.js";
export { createClient, type ClientOptions } from "./client.js";
export {
  createRouter,
  type MethodHandler,
  type Router,
  type RouterOptions,
  type ServerFn,
  type ServerInterceptor,
  type ServerRequest,
  type ServerResponse,
  type ServerStreamRequest,
  type ServerUnaryRequest,
} from "./router.js";
export { ServerContext, type HandlerContext, type PeerInfo } from "./handler-context.js";
export { setContextStorage, getContextStorage, currentHandlerContext, type ContextStorage } from "./context-storage.js";
export { AsyncQueue } from "./async-queue.js";
export { createInMemoryTransport, type InMemoryTransportOptions } from "./in-memory-transport.js";
export { markReceivedCompressed, messageCompressionHint, setMessageCompression, wasCompressed } from "./message-flags.js";
export { admissionOutcome, OVERLOAD_MESSAGE, type AdmissionController, type AdmissionOutcome, type AdmissionPermit } from "./admission.js";
