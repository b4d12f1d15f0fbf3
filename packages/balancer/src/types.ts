// The picker model every balancer implements (grpc-go's Balancer/Picker split). Runtime-neutral.
import type { Metadata } from "@petrel/core";
import type { Endpoint } from "@petrel/discovery";
import type { EndpointStats } from "./endpoint-stats.js";

/** A ready connection to one endpoint, as a picker sees it. */
export interface SubchannelInfo {
  readonly endpoint: Endpoint;
  /** Live stats (in-flight count, peak-EWMA latency) that the channel updates around every call. */
  readonly stats: EndpointStats;
}

/** What a picker may look at to choose a subchannel for one call. */
export interface PickInfo {
  /** Full method path, e.g. `/inventory.v1.Stock/Get`. */
  readonly method: string;
  readonly headers?: Metadata;
  /** Affinity key for hashing policies (ring_hash, maglev); takes precedence over a configured header. */
  readonly hashKey?: string | number;
}

/** Outcome of one call, fed back through `PickResult.done` and `EndpointStats.onDone`. */
export interface DoneInfo {
  readonly ok: boolean;
  readonly latencyMs: number;
}

/** A subchannel was chosen. Built-in pickers return preallocated results (no allocation per pick). */
export interface PickOk {
  readonly t: "pick";
  readonly subchannel: SubchannelInfo;
  /** Optional per-call feedback for custom policies; the channel calls it once when the call ends. */
  readonly done?: (info: DoneInfo) => void;
}

/** Nothing can be picked now (e.g. no ready endpoint); the channel queues or fails the call. */
export interface PickNone {
  readonly t: "none";
  readonly reason: string;
}

export type PickResult = PickOk | PickNone;

/**
 * An immutable snapshot of the ready set. `pick` is synchronous and never awaits; the channel
 * builds a new picker whenever the ready set changes.
 *
 * Contract with the channel: after a `"pick"` result it calls `subchannel.stats.onStart()` when the
 * call starts and `subchannel.stats.onDone(info)` (then `result.done?.(info)`) when it ends.
 */
export interface Picker {
  pick(info: PickInfo): PickResult;
}

/** Non-JSON inputs to `build`: randomness (seeded in tests) and the picker being replaced. */
export interface BuildOptions {
  /** Uniform in [0, 1); default `Math.random`. */
  readonly random?: () => number;
  /** The picker this one replaces, so policies can keep state across rebuilds (pick_first stickiness). */
  readonly previous?: Picker;
}

/** A load-balancing policy, registered by name with `registerBalancer`. */
export interface BalancerPolicy {
  readonly name: string;
  /**
   * Validates `config` (JSON-able; throws a `TypeError` naming the bad field) and returns a picker
   * over `ready`. Called on every ready-set change, so it should be cheap.
   */
  build(ready: readonly SubchannelInfo[], config?: unknown, options?: BuildOptions): Picker;
}
