import { boolField, readConfig } from "./config.js";
import { checkReady, createNonePicker, randomIndex } from "./common.js";
import type { BalancerPolicy, BuildOptions, Picker, PickOk, SubchannelInfo } from "./types.js";

/** Config of `pick_first`. */
export interface PickFirstConfig {
  /** Start from a random ready endpoint instead of the first, so many clients spread out; default false. */
  shuffle?: boolean;
}

class PickFirstPicker implements Picker {
  constructor(readonly result: PickOk) {}
  pick(): PickOk {
    return this.result;
  }
}

/**
 * `pick_first`: every call goes to one endpoint, the first ready one (or a random one with
 * `shuffle`). Sticky: when rebuilt while its endpoint is still ready it keeps it, even if an
 * earlier one came back, so connections do not flap; when its endpoint leaves, it fails over.
 */
export const pickFirst: BalancerPolicy = {
  name: "pick_first",
  build(ready: readonly SubchannelInfo[], config?: unknown, options?: BuildOptions): Picker {
    checkReady("pick_first", ready);
    const shuffle = boolField("pick_first", readConfig("pick_first", config, ["shuffle"]), "shuffle", false);
    if (ready.length === 0) return createNonePicker();
    const prev = options?.previous;
    if (prev instanceof PickFirstPicker) {
      const id = prev.result.subchannel.endpoint.id;
      for (const s of ready) if (s.endpoint.id === id) return new PickFirstPicker(Object.freeze({ t: "pick", subchannel: s }));
    }
    const i = shuffle ? randomIndex(options?.random ?? Math.random, ready.length) : 0;
    return new PickFirstPicker(Object.freeze({ t: "pick", subchannel: ready[i]! }));
  },
};
