import { endpointWeight, readConfig, stringField } from "./config.js";
import { checkReady, createNonePicker, pickResults } from "./common.js";
import type { BalancerPolicy, BuildOptions, Picker, PickOk, SubchannelInfo } from "./types.js";

/** Config of `weighted_round_robin`. */
export interface WeightedRoundRobinConfig {
  /** Metadata key holding the weight when `endpoint.weight` is absent; default `"weight"`. */
  weightKey?: string;
}

/**
 * Earliest-deadline-first scheduler (as Envoy and grpc-go's WRR use): endpoint i is due every
 * 1/w_i; each pick takes the earliest deadline from a binary heap and pushes it back by 1/w_i.
 * O(log N) per pick (nginx's smooth WRR is O(N), too slow for 1,000 backends), and after any T
 * picks each endpoint's count is within 1 of T * w_i / sum(w).
 */
class EdfPicker implements Picker {
  readonly #results: PickOk[];
  readonly #step: Float64Array;
  readonly #deadline: Float64Array;
  readonly #heap: Int32Array;

  constructor(results: PickOk[], weights: number[], random: () => number) {
    const n = results.length;
    this.#results = results;
    this.#step = new Float64Array(n);
    this.#deadline = new Float64Array(n);
    this.#heap = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      this.#step[i] = 1 / weights[i]!;
      // Random phase in [0, step): clients built at the same moment do not pick in lockstep.
      this.#deadline[i] = random() * this.#step[i]!;
      this.#heap[i] = i;
    }
    for (let i = (n >> 1) - 1; i >= 0; i--) this.#down(i);
  }

  pick(): PickOk {
    const top = this.#heap[0]!;
    this.#deadline[top]! += this.#step[top]!;
    this.#down(0);
    return this.#results[top]!;
  }

  #less(a: number, b: number): boolean {
    const d = this.#deadline;
    return d[a]! < d[b]! || (d[a] === d[b] && a < b);
  }

  #down(i: number): void {
    const h = this.#heap;
    const n = h.length;
    const x = h[i]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && this.#less(h[c + 1]!, h[c]!)) c++;
      if (!this.#less(h[c]!, x)) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = x;
  }
}

/**
 * `weighted_round_robin`: each endpoint gets a share of calls proportional to its weight
 * (`endpoint.weight`, else `metadata[weightKey]`, else 1), interleaved smoothly by an EDF
 * schedule. Weight-0 endpoints get no calls unless every weight is 0 (then all are equal);
 * invalid weights (negative, NaN) count as 1.
 */
export const weightedRoundRobin: BalancerPolicy = {
  name: "weighted_round_robin",
  build(ready: readonly SubchannelInfo[], config?: unknown, options?: BuildOptions): Picker {
    checkReady("weighted_round_robin", ready);
    const c = readConfig("weighted_round_robin", config, ["weightKey"]);
    const weightKey = stringField("weighted_round_robin", c, "weightKey") ?? "weight";
    if (ready.length === 0) return createNonePicker();
    let chosen: SubchannelInfo[] = [];
    const weights: number[] = [];
    for (const s of ready) {
      const w = endpointWeight(s.endpoint, weightKey);
      if (w > 0) {
        chosen.push(s);
        weights.push(w);
      }
    }
    if (chosen.length === 0) {
      chosen = ready.slice();
      for (let i = 0; i < chosen.length; i++) weights[i] = 1;
    }
    return new EdfPicker(pickResults(chosen), weights, options?.random ?? Math.random);
  },
};
