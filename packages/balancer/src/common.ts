import type { PickNone, PickOk, Picker, SubchannelInfo } from "./types.js";

/** @internal The reason every built-in picker gives when the ready set is empty. */
export const NO_READY_REASON = "no ready endpoints";

/** @internal A picker that always answers `none` with `reason`. */
export function createNonePicker(reason: string = NO_READY_REASON): Picker {
  const result: PickNone = Object.freeze({ t: "none", reason });
  return { pick: () => result };
}

/** @internal One frozen result per subchannel, so picks allocate nothing. */
export function pickResults(ready: readonly SubchannelInfo[]): PickOk[] {
  const out = new Array<PickOk>(ready.length);
  for (let i = 0; i < ready.length; i++) out[i] = Object.freeze({ t: "pick", subchannel: ready[i]! });
  return out;
}

/** @internal Checks `build`'s ready argument. */
export function checkReady(policy: string, ready: readonly SubchannelInfo[]): void {
  if (!Array.isArray(ready)) throw new TypeError(`${policy}: ready must be an array of SubchannelInfo`);
  for (let i = 0; i < ready.length; i++) {
    const s = ready[i];
    if (s === null || typeof s !== "object" || s.endpoint === null || typeof s.endpoint !== "object" || typeof s.stats !== "object") {
      throw new TypeError(`${policy}: ready[${i}] is not a SubchannelInfo ({ endpoint, stats })`);
    }
  }
}

/** @internal Random index in [0, n). */
export function randomIndex(random: () => number, n: number): number {
  const i = Math.floor(random() * n);
  // Guard against a custom source returning exactly 1.
  return i < n ? i : n - 1;
}
