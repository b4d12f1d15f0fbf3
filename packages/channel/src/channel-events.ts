import type { RpcError } from "@petrel/core";
import type { ConnectivityState, HealthState } from "./subchannel.js";

/** What `Channel.onEvent` reports (a tagged union on `t`). */
export type ChannelEvent =
  /** A subchannel changed connectivity state. */
  | {
      readonly t: "state";
      readonly id: string;
      readonly from: ConnectivityState;
      readonly to: ConnectivityState;
      readonly error?: RpcError;
    }
  /** The health watch changed a subchannel's serving status. */
  | { readonly t: "health"; readonly id: string; readonly status: HealthState; readonly reason: string }
  /** Outlier detection ejected a subchannel for `durationMs`. */
  | { readonly t: "eject"; readonly id: string; readonly reason: string; readonly durationMs: number }
  /** An ejection ended. */
  | { readonly t: "uneject"; readonly id: string }
  /** A new picker over these endpoint ids. */
  | { readonly t: "picker"; readonly ready: readonly string[] }
  /** The resolver delivered a list (ids of the valid endpoints in it). */
  | { readonly t: "resolved"; readonly ids: readonly string[] }
  /** The resolver failed (the last good list stays in use) or delivered a bad entry. */
  | { readonly t: "resolver_error"; readonly error: Error };
