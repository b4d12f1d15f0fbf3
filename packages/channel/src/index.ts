/**
 * @petrel/channel: a client channel over every live instance of a service — resolver, one
 * subchannel per endpoint with gRPC's connectivity state machine and connection backoff,
 * balancer pickers, grpc.health.v1 health checking and outlier ejection — behind the core
 * `Transport` interface, so `createClient(Service, createChannel({ … }))` works on every protocol.
 * Runtime-neutral.
 */
export { createChannel, type Channel, type SubchannelSnapshot } from "./channel.js";
export type { ChannelOptions } from "./channel-options.js";
export type { ChannelEvent } from "./channel-events.js";
export type { ChannelTransport, ConnectivityState, HealthState } from "./subchannel.js";
export type { ConnectBackoffOptions } from "./connect-backoff.js";
export type { OutlierDetectionOptions, SuccessRateEjectionOptions } from "./outlier-detection.js";
export { AVOID_HEADER, WAIT_FOR_READY_HEADER, avoidEndpoints, pickedEndpoint } from "./pick-hints.js";
export {
  createEndpointHintInterceptor,
  createResilientChannel,
  type ResilientChannel,
  type ResilientChannelOptions,
} from "./channel-resilience.js";
