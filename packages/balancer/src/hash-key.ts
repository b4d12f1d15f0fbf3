import { enumField, stringField } from "./config.js";
import { xxhash32, xxhash32Bytes } from "./hash.js";
import type { PickInfo } from "./types.js";

/** Config fields shared by the hashing policies (`ring_hash`, `maglev`). */
export interface HashKeyConfig {
  /** Header whose value is the affinity key when `PickInfo.hashKey` is absent, e.g. `"x-user-id"`. */
  hashHeader?: string;
  /**
   * Computes the key from the call (not JSON: for programmatic configs). Consulted after
   * `PickInfo.hashKey` and before `hashHeader`; return undefined for "no key".
   */
  hashKey?: (info: PickInfo) => string | number | undefined;
  /** A call without a key: `"random"` spreads it at random (gRPC's behaviour), `"fail"` picks none; default `"random"`. */
  onMissingKey?: "random" | "fail";
}

/** @internal Resolves a call's key to a 32-bit hash, or -1 when there is none and `onMissingKey` is "fail". */
export type KeyHasher = (info: PickInfo) => number;

/** @internal Validates the key fields of `c` and returns the hasher. */
export function createKeyHasher(policy: string, c: Record<string, unknown>, random: () => number): KeyHasher {
  const header = stringField(policy, c, "hashHeader")?.toLowerCase();
  const fn = c.hashKey;
  if (fn !== undefined && typeof fn !== "function")
    throw new TypeError(`${policy}: hashKey must be a function (info) => string | number | undefined`);
  const keyFn = fn as HashKeyConfig["hashKey"];
  const missing = enumField(policy, c, "onMissingKey", ["random", "fail"], "random");
  return (info) => {
    let key = info.hashKey;
    if (key === undefined && keyFn !== undefined) key = keyFn(info);
    if (key !== undefined) return typeof key === "string" ? xxhash32(key) : xxhash32(String(key));
    if (header !== undefined && info.headers !== undefined) {
      const v = info.headers.get(header);
      if (typeof v === "string") return xxhash32(v);
      if (v !== undefined) return xxhash32Bytes(v);
    }
    return missing === "random" ? Math.floor(random() * 4294967296) >>> 0 : -1;
  };
}

/** @internal The reason hashing pickers give for a call without a key under `onMissingKey: "fail"`. */
export const MISSING_KEY_REASON = "no hash key: set PickInfo.hashKey, the configured header, or onMissingKey: random";
