// The JSON form of an Endpoint, as registries that store opaque values (etcd keys, ZooKeeper
// znodes) hold it. Shared so every such plugin validates, writes and reads the same shape.
import type { Endpoint } from "./types.js";

/**
 * Validates an endpoint before it is written; throws a clear TypeError prefixed with `prefix`
 * (e.g. `"etcd"`). `checkId` lets a registry apply its own naming rules to the id (it must throw
 * on a bad one); by default the id must be a non-empty string.
 */
export function validateEndpoint(e: Endpoint, prefix: string, checkId?: (id: unknown) => void): Endpoint {
  if (e === null || typeof e !== "object") throw new TypeError(`${prefix}: endpoint must be an object`);
  if (checkId) checkId(e.id);
  else if (typeof e.id !== "string" || e.id.length === 0) throw new TypeError(`${prefix}: instance id must be a non-empty string`);
  if (typeof e.address !== "string" || e.address.length === 0) {
    throw new TypeError(`${prefix}: endpoint "${e.id}" needs an address (host:port)`);
  }
  if (e.weight !== undefined && !(Number.isFinite(e.weight) && e.weight >= 0)) {
    throw new TypeError(`${prefix}: endpoint "${e.id}" weight must be a finite number >= 0`);
  }
  if (e.protocols !== undefined && !(Array.isArray(e.protocols) && e.protocols.every((p) => typeof p === "string"))) {
    throw new TypeError(`${prefix}: endpoint "${e.id}" protocols must be an array of strings`);
  }
  if (e.metadata !== undefined) {
    if (e.metadata === null || typeof e.metadata !== "object") {
      throw new TypeError(`${prefix}: endpoint "${e.id}" metadata must be an object of strings`);
    }
    for (const [k, v] of Object.entries(e.metadata)) {
      if (typeof v !== "string") throw new TypeError(`${prefix}: endpoint "${e.id}" metadata "${k}" must be a string`);
    }
  }
  return e;
}

/** Every Endpoint field that is set, as JSON (unknown extra properties are not written). */
export function encodeEndpoint(e: Endpoint): string {
  const { id, address, protocols, weight, zone, version, metadata } = e;
  return JSON.stringify({ id, address, protocols, weight, zone, version, metadata });
}

/** A decoded endpoint whose `id` is present only if the stored JSON had a non-empty one. */
export type DecodedEndpoint = Omit<Endpoint, "id"> & { readonly id?: string };

/**
 * Parses a stored endpoint. Only `address` is required, so values written by other tools (just
 * `{"address": ...}`) still resolve; malformed optional fields are dropped rather than failing the
 * whole value. The caller decides the id when none is stored (e.g. the key's last segment).
 * Returns an Error for a malformed value, its message starting with `source` (e.g.
 * `"etcd: value of /petrel/services/a/i1"`), so one bad entry never throws out of a watch.
 */
export function decodeEndpoint(text: string, source: string): DecodedEndpoint | Error {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return new Error(`${source} is not JSON`);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return new Error(`${source} is not an object`);
  const o = raw as Record<string, unknown>;
  if (typeof o.address !== "string" || o.address === "") return new Error(`${source} has no address`);
  const e: { -readonly [K in keyof DecodedEndpoint]: DecodedEndpoint[K] } =
    typeof o.id === "string" && o.id ? { id: o.id, address: o.address } : { address: o.address };
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
