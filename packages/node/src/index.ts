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
export { createDefaultGrpcCompressions, deflateCompression, gzipCompression } from "./grpc-compression.js";
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
