/**
 * @petrel/observability: Prometheus metrics after OpenTelemetry's RPC semantic conventions,
 * structured access logs with pino, and W3C trace context with the OpenTelemetry API.
 */

// ---- metrics ----
export {
  createMetrics,
  DEFAULT_COUNT_BUCKETS,
  DEFAULT_DURATION_BUCKETS,
  DEFAULT_SIZE_BUCKETS,
  type Metrics,
  type MetricsHttpHandler,
  type MetricsOptions,
} from "./metrics.js";
export {
  METRIC_NAMES,
  observeBalancerPicks,
  observeBreakers,
  observeChannel,
  observeGrpcConnections,
  observeLimiter,
  observeServer,
  type BreakerEventLike,
  type ChannelLike,
  type LimiterEventLike,
  type ObserveAdapters,
  type ServerLike,
} from "./metrics-adapters.js";
export { rpcSystemOf } from "./metrics-labels.js";
export { metricValue, parseMetricsText, type MetricSample } from "./metrics-text.js";

// ---- logging ----
export { createAccessLog, defaultAccessLogLevel, type AccessLog, type AccessLogOptions } from "./logging.js";
export { createHeaderRedactor, DEFAULT_REDACTED_HEADERS, REDACTED, type HeaderRedactor } from "./logging-redact.js";

export {
  createTracingClientInterceptor,
  createTracingServerInterceptor,
  TRACER_NAME,
  type TracingClientOptions,
  type TracingOptions,
} from "./tracing.js";
export {
  createW3CTraceContextPropagator,
  formatTraceParent,
  metadataGetter,
  metadataSetter,
  parseTraceParent,
  TRACEPARENT_HEADER,
  TRACESTATE_HEADER,
  type TraceParent,
} from "./tracing-propagation.js";
