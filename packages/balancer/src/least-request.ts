import { numberField, readConfig } from "./config.js";
import { checkReady, createNonePicker, pickResults, randomIndex } from "./common.js";
import type { BalancerPolicy, BuildOptions, Picker, PickOk, SubchannelInfo } from "./types.js";

/** Config of `least_request`. */
export interface LeastRequestConfig {
  /** Candidates sampled per pick (power of d choices); default 2, range 2..10. */
  choiceCount?: number;
}

/**
 * `least_request`: samples `choiceCount` endpoints at random (the first two always distinct) and
 * takes the one with the fewest calls in flight (Envoy's / gRPC's least-request, P2C by default).
 * Sampling instead of scanning keeps picks O(1) and avoids every client herding onto the one
 * globally least-loaded endpoint.
 */
export const leastRequest: BalancerPolicy = {
  name: "least_request",
  build(ready: readonly SubchannelInfo[], config?: unknown, options?: BuildOptions): Picker {
    checkReady("least_request", ready);
    const c = readConfig("least_request", config, ["choiceCount"]);
    const choices = numberField("least_request", c, "choiceCount", 2, 2, 10, true);
    if (ready.length === 0) return createNonePicker();
    const results = pickResults(ready);
    const random = options?.random ?? Math.random;
    const n = results.length;
    if (n === 1) return { pick: () => results[0]! };
    return {
      pick(): PickOk {
        const first = randomIndex(random, n);
        let best = first;
        let bestLoad = ready[first]!.stats.inflight;
        for (let k = 1; k < choices; k++) {
          let j = randomIndex(random, n - 1);
          if (j >= first) j++;
          const load = ready[j]!.stats.inflight;
          if (load < bestLoad) {
            best = j;
            bestLoad = load;
          }
        }
        return results[best]!;
      },
    };
  },
};
