import { readConfig } from "./config.js";
import { checkReady, createNonePicker, pickResults, randomIndex } from "./common.js";
import type { BalancerPolicy, BuildOptions, Picker, PickOk, SubchannelInfo } from "./types.js";

/**
 * `p2c_peak_ewma`: power of two choices on Finagle's load, `peak-EWMA latency x (in-flight + 1)`
 * (see `EndpointStats.load`). Reacts to a slow endpoint within one call (peak sensitivity) and
 * to queueing through the in-flight factor; endpoints without samples are probed one call at a
 * time. The decay constant tau belongs to the stats (`EndpointStats` option `tauMs`). No config.
 */
export const p2cPeakEwma: BalancerPolicy = {
  name: "p2c_peak_ewma",
  build(ready: readonly SubchannelInfo[], config?: unknown, options?: BuildOptions): Picker {
    checkReady("p2c_peak_ewma", ready);
    readConfig("p2c_peak_ewma", config, []);
    if (ready.length === 0) return createNonePicker();
    const results = pickResults(ready);
    const random = options?.random ?? Math.random;
    const n = results.length;
    if (n === 1) return { pick: () => results[0]! };
    return {
      pick(): PickOk {
        const i = randomIndex(random, n);
        let j = randomIndex(random, n - 1);
        if (j >= i) j++;
        const a = ready[i]!.stats;
        const b = ready[j]!.stats;
        return results[a.load() <= b.load() ? i : j]!;
      },
    };
  },
};
