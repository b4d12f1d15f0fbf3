/** The registry of real fuzz targets, by name. A worker loads a target through {@link createTarget}. */
import { grpcTargets } from "./targets-grpc.js";
import { jsonrpcTargets } from "./targets-jsonrpc.js";
import { miscTargets } from "./targets-misc.js";
import { nativeTargets } from "./targets-native.js";
import type { FuzzTarget } from "./target.js";

const factories = [...nativeTargets, ...grpcTargets, ...jsonrpcTargets, ...miscTargets];

/** Every target name, in run order. */
export const targetNames: string[] = factories.map((f) => f().name);

/** Creates a fresh target by name, or undefined. */
export function createTarget(name: string): FuzzTarget | undefined {
  for (const f of factories) {
    const t = f();
    if (t.name === name) return t;
  }
  return undefined;
}
