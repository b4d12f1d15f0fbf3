/**
 * @petrel/health: the standard gRPC health service (`grpc.health.v1.Health`) as a Petrel
 * service. Register it next to the application's services; it works on every protocol.
 */
export { createHealthService, type HealthService, type HealthServiceOptions, type HealthStatus } from "./health-service.js";
export {
  Health,
  HealthCheckRequestSchema,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponse_ServingStatusSchema,
  file_grpc_health_v1_health,
  type HealthCheckRequest,
  type HealthCheckResponse,
} from "./gen/grpc/health/v1/health_pb.js";
