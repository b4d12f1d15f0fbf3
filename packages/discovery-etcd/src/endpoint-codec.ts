import { decodeEndpoint as decodeEndpointJson, type Endpoint, validateEndpoint } from "@petrel/discovery";

/** The stored JSON value: every Endpoint field that is set. @internal */
export { encodeEndpoint } from "@petrel/discovery";

/** The default key prefix: keys are `<prefix>/<service>/<instance-id>`. */
export const DEFAULT_ETCD_PREFIX = "/petrel/services";

/** Normalizes a prefix: leading slash kept as given, no trailing slash. @internal */
export function normalizePrefix(prefix: string | undefined): string {
  const p = prefix ?? DEFAULT_ETCD_PREFIX;
  if (typeof p !== "string") throw new TypeError("etcd: prefix must be a string");
  return p.replace(/\/+$/, "");
}

/** Rejects names that would break the key layout (`/` splits service and instance). @internal */
export function checkName(kind: "service" | "instance id", name: unknown): string {
  if (typeof name !== "string" || name.length === 0) throw new TypeError(`etcd: ${kind} must be a non-empty string`);
  if (name.includes("/")) throw new TypeError(`etcd: ${kind} "${name}" must not contain "/"`);
  return name;
}

/** Validates an endpoint before it is written; throws a clear TypeError. @internal */
export function checkEndpoint(e: Endpoint): Endpoint {
  return validateEndpoint(e, "etcd", (id) => checkName("instance id", id));
}

/**
 * Parses a stored value. `id` falls back to the key's last segment, so values written by other
 * tools (just `{"address": ...}`) still resolve. Returns an Error for a malformed value.
 * @internal
 */
export function decodeEndpoint(key: string, value: string): Endpoint | Error {
  const e = decodeEndpointJson(value, `etcd: value of ${key}`);
  if (e instanceof Error) return e;
  const { id = key.slice(key.lastIndexOf("/") + 1), ...fields } = e;
  return { id, ...fields };
}
