// @petrel/balancer: client-side load-balancing policies behind a register/get table. Runtime-neutral.
export type { BalancerPolicy, BuildOptions, DoneInfo, PickInfo, PickNone, PickOk, PickResult, Picker, SubchannelInfo } from "./types.js";
export { EndpointStats, LoadGroup, UNMEASURED_PENALTY, createSubchannelInfo, type EndpointStatsOptions } from "./endpoint-stats.js";
export { builtinBalancers, getBalancer, listBalancers, registerBalancer } from "./registry.js";
export { pickFirst, type PickFirstConfig } from "./pick-first.js";
export { roundRobin } from "./round-robin.js";
export { weightedRoundRobin, type WeightedRoundRobinConfig } from "./weighted-round-robin.js";
export { randomPolicy } from "./random.js";
export { leastRequest, type LeastRequestConfig } from "./least-request.js";
export { p2cPeakEwma } from "./peak-ewma.js";
export { ringHash, type RingHashConfig } from "./ring-hash.js";
export { maglev, type MaglevConfig } from "./maglev.js";
export type { HashKeyConfig } from "./hash-key.js";
export { xxhash32, xxhash32Bytes } from "./hash.js";
export { NO_READY_REASON } from "./common.js";
