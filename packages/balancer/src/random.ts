import { readConfig } from "./config.js";
import { checkReady, createNonePicker, pickResults, randomIndex } from "./common.js";
import type { BalancerPolicy, BuildOptions, Picker, PickOk, SubchannelInfo } from "./types.js";

/** `random`: a uniformly random ready endpoint per call. Stateless, no coordination; no config. */
export const randomPolicy: BalancerPolicy = {
  name: "random",
  build(ready: readonly SubchannelInfo[], config?: unknown, options?: BuildOptions): Picker {
    checkReady("random", ready);
    readConfig("random", config, []);
    if (ready.length === 0) return createNonePicker();
    const results = pickResults(ready);
    const random = options?.random ?? Math.random;
    return { pick: (): PickOk => results[randomIndex(random, results.length)]! };
  },
};
