import { readConfig } from "./config.js";
import { checkReady, createNonePicker, pickResults, randomIndex } from "./common.js";
import type { BalancerPolicy, BuildOptions, Picker, PickOk, SubchannelInfo } from "./types.js";

class RoundRobinPicker implements Picker {
  readonly #results: PickOk[];
  #next: number;
  constructor(results: PickOk[], start: number) {
    this.#results = results;
    this.#next = start;
  }
  pick(): PickOk {
    const i = this.#next;
    this.#next = i + 1 === this.#results.length ? 0 : i + 1;
    return this.#results[i]!;
  }
}

/**
 * `round_robin`: cycles through the ready endpoints in order, so over k*N picks each gets exactly
 * k. Each picker starts at a random offset, so many clients (or rebuilds) do not all hit the
 * first endpoint together. No config.
 */
export const roundRobin: BalancerPolicy = {
  name: "round_robin",
  build(ready: readonly SubchannelInfo[], config?: unknown, options?: BuildOptions): Picker {
    checkReady("round_robin", ready);
    readConfig("round_robin", config, []);
    if (ready.length === 0) return createNonePicker();
    return new RoundRobinPicker(pickResults(ready), randomIndex(options?.random ?? Math.random, ready.length));
  },
};
