import { leastRequest } from "./least-request.js";
import { maglev } from "./maglev.js";
import { p2cPeakEwma } from "./peak-ewma.js";
import { pickFirst } from "./pick-first.js";
import { randomPolicy } from "./random.js";
import { ringHash } from "./ring-hash.js";
import { roundRobin } from "./round-robin.js";
import type { BalancerPolicy } from "./types.js";
import { weightedRoundRobin } from "./weighted-round-robin.js";

const policies = new Map<string, BalancerPolicy>();

/** Registers (or replaces: last registration wins) a policy under `policy.name`. */
export function registerBalancer(policy: BalancerPolicy): void {
  if (policy === null || typeof policy !== "object" || typeof policy.build !== "function") {
    throw new TypeError("registerBalancer: policy must be an object with a name and a build(ready, config) method");
  }
  if (typeof policy.name !== "string" || !/^[a-z][a-z0-9_.-]*$/.test(policy.name)) {
    throw new TypeError(`registerBalancer: policy name must match /^[a-z][a-z0-9_.-]*$/, got ${JSON.stringify(policy.name)}`);
  }
  policies.set(policy.name, policy);
}

/** The policy registered as `name`, or undefined. */
export function getBalancer(name: string): BalancerPolicy | undefined {
  return policies.get(name);
}

/** Names of every registered policy, sorted. */
export function listBalancers(): string[] {
  return [...policies.keys()].sort();
}

/** The built-in policies, in the order the docs list them. */
export const builtinBalancers: readonly BalancerPolicy[] = [
  pickFirst,
  roundRobin,
  weightedRoundRobin,
  randomPolicy,
  leastRequest,
  p2cPeakEwma,
  ringHash,
  maglev,
];

for (const p of builtinBalancers) registerBalancer(p);
