/**
 * @petrel/node: Node.js adapters for Petrel. Importing it installs AsyncLocalStorage as the
 * context storage, so calls made inside a handler inherit its deadline and cancellation.
 */
import { installAsyncContext } from "./async-context.js";

installAsyncContext();

export { installAsyncContext } from "./async-context.js";
export { createNativeServer, handlerErrorChannel, type NativeServer, type NativeServerOptions } from "./native-server.js";
export { createNativeTransport, type NativeTcpTransportOptions } from "./native-transport.js";
export { bindSocket, parseHostPort, tcpDialer } from "./tcp-channel.js";
export {
  COMPRESS_HEADER,
  createGrpcServer,
  grpcHandlerErrorChannel,
  type GrpcServer,
  type GrpcServerOptions,
} from "./grpc-server.js";
export {
  brotliCompression,
  createDefaultGrpcCompressions,
  DEFAULT_COMPRESS_MIN_BYTES,
  deflateCompression,
  gzipCompression,
} from "./grpc-compression.js";
export { createGrpcTransport, type GrpcTransportOptions } from "./grpc-transport.js";
export {
  getTlsPeer,
  type GrpcClientTlsOptions,
  type GrpcPeerInfo,
  type GrpcServerTlsOptions,
  type Pem,
  type TlsPeerCertificate,
  type TlsPeerInfo,
} from "./grpc-tls.js";
export { grpcConnectionChannel, PingEnforcer, type GrpcConnectionEvent, type PingPolicy } from "./grpc-keepalive.js";
export {
  chainHttpHandlers,
  readBody,
  DEFAULT_MAX_BODY_BYTES,
  type HttpHandler,
  type HttpRequest,
  type HttpResponse,
} from "./http-handler.js";
export { createGrpcWebHandler, parseGrpcWebContentType, GRPC_WEB_TRAILER_FLAG, type GrpcWebHandlerOptions } from "./grpc-web.js";
export { createConnectHandler, parseConnectContentType, CONNECT_END_STREAM_FLAG, type ConnectHandlerOptions } from "./connect-protocol.js";
export { webHandlerErrorChannel } from "./connect-http-call.js";
export { createJsonRpcHttpHandler, type JsonRpcHttpOptions } from "./jsonrpc-http.js";
export {
  createHttpContentEncoding,
  decodeRequestBody,
  encodeResponseBody,
  requestCodings,
  responseCoding,
  DEFAULT_PREFERRED_ENCODINGS,
  type HttpContentEncoding,
  type HttpContentEncodingOptions,
  type RequestCodings,
} from "./http-content-encoding.js";
export {
  createJsonRpcTcpServer,
  serveJsonRpcSocket,
  type JsonRpcTcpServer,
  type JsonRpcTcpServerOptions,
  type JsonRpcSocketOptions,
} from "./jsonrpc-tcp.js";
export { createJsonRpcWsHandler, type JsonRpcWsHandler, type JsonRpcWsOptions } from "./jsonrpc-ws.js";
export {
  createJsonRpcTransport,
  type JsonRpcTransport,
  type JsonRpcTransportOptions,
  type JsonRpcBatchCall,
  type JsonRpcBatchOptions,
} from "./jsonrpc-transport.js";
export { JSONRPC_TIMEOUT_HEADER, jsonRpcHandlerErrorChannel } from "./jsonrpc-server-common.js";
export { createPetrelServer, detectProtocol, type DetectedProtocol, type PetrelServer, type PetrelServerOptions } from "./server.js";
export {
  createGobRpcServer,
  serveGobRpcSocket,
  type GobRpcServer,
  type GobRpcServerOptions,
  type GobRpcSocketOptions,
} from "./netrpc-gob-server.js";
export { createGobRpcTransport, type GobRpcTransport, type GobRpcTransportOptions } from "./netrpc-gob-transport.js";
export { createNodeChannel, registerNodeResolvers, type NodeChannelOptions, type NodeChannelProtocol } from "./node-channel.js";
export { createTlsDialer, NATIVE_ALPN } from "./native-tls.js";
export type { ClientTlsOptions, ServerTlsOptions } from "./tls-options.js";
export { peerInfoOf, parseSubjectAltNames, type TlsAwarePeerInfo, type TlsSubjectAltName } from "./tls-peer.js";
export { watchTlsFiles, type TlsFilePaths, type TlsFiles, type TlsFileWatcher, type WatchTlsFilesOptions } from "./tls-watch.js";
