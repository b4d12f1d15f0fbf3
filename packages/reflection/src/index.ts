/**
 * @petrel/reflection: gRPC server reflection (`grpc.reflection.v1.ServerReflection` and the
 * older `grpc.reflection.v1alpha.ServerReflection`) as a Petrel service, so tools like grpcurl,
 * grpc_cli, Postman or Python/Go reflection clients can discover services and their schemas.
 *
 * ```ts
 * const router = createRouter().service(AppService, impl);
 * createReflectionService({ router }).register(router); // exposes every service on the router
 * ```
 */
export { createReflectionService, type ReflectionService, type ReflectionServiceOptions } from "./reflection-service.js";
export {
  ServerReflection,
  ServerReflectionRequestSchema,
  ServerReflectionResponseSchema,
  file_grpc_reflection_v1_reflection,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
} from "./gen/grpc/reflection/v1/reflection_pb.js";
export {
  ServerReflection as ServerReflectionV1alpha,
  file_grpc_reflection_v1alpha_reflection,
} from "./gen/grpc/reflection/v1alpha/reflection_pb.js";
/** Every generated v1 message schema and type. */
export * as v1 from "./gen/grpc/reflection/v1/reflection_pb.js";
/** Every generated v1alpha message schema and type (deprecated upstream; kept for older clients). */
export * as v1alpha from "./gen/grpc/reflection/v1alpha/reflection_pb.js";
