// Helpers for the request headers createGrpcTransport (grpc-transport.ts) builds per call: the
// per-call compression override, and reuse of the last call's headers when nothing changed.
import type { Metadata, MetadataValue } from "@petrel/core";
import type { Compression } from "@petrel/protocol-grpc";
import { COMPRESS_HEADER } from "@petrel/protocol-native";

/**
 * The `x-petrel-compress` value of request metadata, if any (a scan, no allocation).
 * @internal
 */
export function compressOverride(md: Metadata): string | undefined {
  const f = md.flat;
  for (let i = 0; i < f.length; i += 2) {
    if (f[i] === COMPRESS_HEADER) {
      const v = f[i + 1];
      return typeof v === "string" ? v : undefined;
    }
  }
  return undefined;
}

/**
 * The request headers of the last call and what they were built from.
 * @internal
 */
export interface LastHeaders {
  base: Record<string, string>;
  timeout: string | undefined;
  compression: Compression | undefined;
  flat: Array<string | MetadataValue>;
  headers: Record<string, string | string[]>;
}

/**
 * Whether two flat metadata arrays hold the same keys and string values. A binary value never
 * matches: its bytes may have changed since the last call.
 * @internal
 */
export function sameFlat(a: Array<string | MetadataValue>, b: Array<string | MetadataValue>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (v !== b[i] || typeof v !== "string") return false;
  }
  return true;
}
