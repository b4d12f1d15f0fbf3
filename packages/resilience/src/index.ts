// @petrel/resilience: deadlines, retries and hedging (gRFC A6), service config; runtime-neutral.
export { type Clock, FakeClock, sleep, systemClock, turnClock } from "./clock.js";
export { type BackoffOptions, ExponentialBackoff, backoffCeiling, validateBackoffOptions } from "./backoff.js";
export { RetryThrottle, type RetryThrottleEvent, type RetryThrottleOptions, validateRetryThrottleOptions } from "./retry-throttle.js";
export {
  type AttemptInfo,
  COMMITTED,
  PREVIOUS_ATTEMPTS_KEY,
  PUSHBACK_KEY,
  type Pushback,
  UNPROCESSED,
  attemptInfo,
  hasMark,
  markError,
  noteAttemptEndpoint,
  readPushback,
} from "./retry-signals.js";
export {
  type RetryEvent,
  type RetryGiveUpReason,
  type RetryInterceptorOptions,
  type RetryPolicy,
  createRetryInterceptor,
  validateRetryPolicy,
} from "./retry.js";
export {
  type HedgingEvent,
  type HedgingInterceptorOptions,
  type HedgingPolicy,
  createHedgingInterceptor,
  validateHedgingPolicy,
} from "./hedging.js";
export { type DeadlineEvent, type DeadlineInterceptorOptions, createDeadlineInterceptor, createTimeoutInterceptor } from "./deadline.js";
export {
  type MethodConfig,
  type MethodName,
  type ParseServiceConfigOptions,
  type PolicyContext,
  type PolicyRegistration,
  type ServiceConfig,
  ServiceConfigError,
  findMethodConfig,
  parseDuration,
  parseHedgingPolicy,
  parseRetryPolicy,
  parseServiceConfig,
  registerPolicyParser,
} from "./service-config.js";
export { type ResilienceInterceptorsOptions, createResilienceInterceptors } from "./service-config-interceptors.js";
export {
  CircuitBreaker,
  DEFAULT_FAILURE_CODES,
  validateCircuitBreakerOptions,
  type BreakerEvent,
  type BreakerState,
  type BreakerStateName,
  type CircuitBreakerOptions,
} from "./breaker.js";
export {
  createBreakerRegistry,
  createCircuitBreakerInterceptor,
  type BreakerRegistry,
  type BreakerRegistryOptions,
  type CircuitBreakerInterceptorOptions,
} from "./breaker-registry.js";
export { parseCircuitBreakerConfig } from "./breaker-config.js";
export {
  AdaptiveThrottle,
  createAdaptiveThrottle,
  createAdaptiveThrottleInterceptor,
  type AdaptiveThrottleOptions,
  type AdaptiveThrottleInterceptorOptions,
  type ThrottleEvent,
} from "./throttle.js";
export { parseAdaptiveThrottlingConfig } from "./throttle-config.js";
export {
  createTokenBucket,
  createSlidingWindowLimiter,
  type RateLimiter,
  type TokenBucketOptions,
  type SlidingWindowOptions,
} from "./rate-limit.js";
export {
  createRateLimitServerInterceptor,
  createRateLimitInterceptor,
  keyByHeader,
  keyByPeerHost,
  type CallerKeyFn,
  type RateLimiterFactory,
  type RateLimitServerOptions,
  type RateLimitClientOptions,
} from "./rate-limit-interceptor.js";
export { retryInfoSchema, retryInfoDetail, retryableRejection, retryDelayOf, type RetryInfo } from "./rate-limit-retry-info.js";
export {
  createBulkhead,
  overloadError,
  type Bulkhead,
  type BulkheadOptions,
  type BulkheadEvent,
  type ConcurrencyLimiter,
  type Permit,
  type PermitOutcome,
} from "./concurrency.js";
export {
  createAdaptiveLimiter,
  type AdaptiveLimiter,
  type AdaptiveLimiterOptions,
  type AdaptiveLimiterEvent,
} from "./concurrency-adaptive.js";
export { createConcurrencyLimitInterceptor, createConcurrencyLimitClientInterceptor } from "./concurrency-interceptor.js";
export {
  createFaultInjector,
  validateFaultConfig,
  type FaultConfig,
  type FaultRule,
  type FaultEvent,
  type FaultInjector,
  type FaultInjectorOptions,
} from "./fault.js";
export { parseFaultInjectionConfig } from "./fault-config.js";
export {
  type ConcurrencyLimitConfig,
  type RateLimitConfig,
  parseConcurrencyLimitConfig,
  parseRateLimitConfig,
} from "./limits-config.js";
