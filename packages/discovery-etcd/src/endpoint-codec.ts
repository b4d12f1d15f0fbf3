import type { Endpoint } from "@petrel/discovery";

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
  if (e === null || typeof e !== "object") throw new TypeError("etcd: endpoint must be an object");
  checkName("instance id", e.id);
  if (typeof e.address !== "string" || e.address.length === 0) {
    throw new TypeError(`etcd: endpoint "${e.id}" needs an address (host:port)`);
  }
  if (e.weight !== undefined && !(Number.isFinite(e.weight) && e.weight >= 0)) {
    throw new TypeError(`etcd: endpoint "${e.id}" weight must be a finite number >= 0`);
  }
  if (e.protocols !== undefined && !(Array.isArray(e.protocols) && e.protocols.every((p) => typeof p === "string"))) {
    throw new TypeError(`etcd: endpoint "${e.id}" protocols must be an array of strings`);
  }
  if (e.metadata !== undefined) {
    if (e.metadata === null || typeof e.metadata !== "object") {
      throw new TypeError(`etcd: endpoint "${e.id}" metadata must be an object of strings`);
    }
    for (const [k, v] of Object.entries(e.metadata)) {
      if (typeof v !== "string") throw new TypeError(`etcd: endpoint "${e.id}" metadata "${k}" must be a string`);
    }
  }
  return e;
}

/** The stored JSON value: every Endpoint field that is set. @internal */
export function encodeEndpoint(e: Endpoint): string {
  const { id, address, protocols, weight, zone, version, metadata } = e;
  return JSON.stringify({ id, address, protocols, weight, zone, version, metadata });
}

/**
 * Parses a stored value. `id` falls back to the key's last segment, so values written by other
 * tools (just `{"address": ...}`) still resolve. Returns an Error for a malformed value.
 * @internal
 */
export function decodeEndpoint(key: string, value: string): Endpoint | Error {
  const id = key.slice(key.lastIndexOf("/") + 1);
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    return new Error(`etcd: value of ${key} is not JSON`);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return new Error(`etcd: value of ${key} is not an object`);
  const o = raw as Record<string, unknown>;
  if (typeof o.address !== "string" || o.address === "") return new Error(`etcd: value of ${key} has no address`);
  const e: { -readonly [K in keyof Endpoint]: Endpoint[K] } = { id: typeof o.id === "string" && o.id ? o.id : id, address: o.address };
  if (Array.isArray(o.protocols)) e.protocols = o.protocols.filter((p): p is string => typeof p === "string");
  if (typeof o.weight === "number" && Number.isFinite(o.weight) && o.weight >= 0) e.weight = o.weight;
  if (typeof o.zone === "string") e.zone = o.zone;
  if (typeof o.version === "string") e.version = o.version;
  if (o.metadata && typeof o.metadata === "object" && !Array.isArray(o.metadata)) {
    const md: Record<string, string> = {};
    for (const [k, v] of Object.entries(o.metadata)) if (typeof v === "string") md[k] = v;
    e.metadata = md;
  }
  return e;
}
