// Znode layout and the JSON an instance's znode holds.
import type { Endpoint } from "@petrel/discovery";

/** The default root: instances live at `<root>/<service>/providers/<instance-id>`. */
export const DEFAULT_ZK_ROOT = "/petrel";

/** Validates and normalizes a root path: absolute, no trailing slash. @internal */
export function normalizeRoot(root: string | undefined): string {
  const r = root ?? DEFAULT_ZK_ROOT;
  if (typeof r !== "string" || !r.startsWith("/")) throw new TypeError(`zk: root must be an absolute path, got ${String(r)}`);
  const out = r.replace(/\/+$/, "");
  if (out === "" || out.includes("//")) throw new TypeError(`zk: invalid root "${r}"`);
  return out;
}

/** Validates a connect string `host:port[,host:port]`; throws a clear TypeError. @internal */
export function checkConnect(connect: unknown): string {
  if (typeof connect !== "string" || connect.trim() === "") throw new TypeError("zk: connect must be a non-empty host:port list");
  for (const hp of connect.split(",")) {
    if (!/^(\[[0-9a-fA-F:.]+\]|[^\s/:,[\]]+):\d{1,5}$/.test(hp.trim())) {
      throw new TypeError(`zk: "${hp}" in connect "${connect}" is not host:port`);
    }
  }
  return connect
    .split(",")
    .map((s) => s.trim())
    .join(",");
}

/** Rejects names that would break the znode layout. @internal */
export function checkName(kind: "service" | "instance id", name: unknown): string {
  if (typeof name !== "string" || name.length === 0) throw new TypeError(`zk: ${kind} must be a non-empty string`);
  if (name.includes("/") || name === "." || name === ".." || hasControlChar(name)) {
    throw new TypeError(`zk: ${kind} "${name}" must not contain "/" or control characters, nor be "." or ".."`);
  }
  return name;
}

function hasControlChar(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) < 0x20 || s.charCodeAt(i) === 0x7f) return true;
  return false;
}

/** `<root>/<service>/providers`. @internal */
export function providersPath(root: string, service: string): string {
  return `${root}/${checkName("service", service)}/providers`;
}

/** Validates an endpoint before it is written; throws a clear TypeError. @internal */
export function checkEndpoint(e: Endpoint): Endpoint {
  if (e === null || typeof e !== "object") throw new TypeError("zk: endpoint must be an object");
  checkName("instance id", e.id);
  if (typeof e.address !== "string" || e.address.length === 0) {
    throw new TypeError(`zk: endpoint "${e.id}" needs an address (host:port)`);
  }
  if (e.weight !== undefined && !(Number.isFinite(e.weight) && e.weight >= 0)) {
    throw new TypeError(`zk: endpoint "${e.id}" weight must be a finite number >= 0`);
  }
  if (e.protocols !== undefined && !(Array.isArray(e.protocols) && e.protocols.every((p) => typeof p === "string"))) {
    throw new TypeError(`zk: endpoint "${e.id}" protocols must be an array of strings`);
  }
  if (e.metadata !== undefined) {
    if (e.metadata === null || typeof e.metadata !== "object") {
      throw new TypeError(`zk: endpoint "${e.id}" metadata must be an object of strings`);
    }
    for (const [k, v] of Object.entries(e.metadata)) {
      if (typeof v !== "string") throw new TypeError(`zk: endpoint "${e.id}" metadata "${k}" must be a string`);
    }
  }
  return e;
}

/** The znode data: the endpoint's set fields as JSON. @internal */
export function encodeEndpoint(e: Endpoint): Buffer {
  const { id, address, protocols, weight, zone, version, metadata } = e;
  return Buffer.from(JSON.stringify({ id, address, protocols, weight, zone, version, metadata }));
}

/**
 * Parses znode data. The id is the znode's name (unique by construction), so data written by
 * other tools (just `{"address": ...}`) still resolves. Returns an Error for malformed data.
 * @internal
 */
export function decodeEndpoint(path: string, data: Buffer | undefined): Endpoint | Error {
  const id = path.slice(path.lastIndexOf("/") + 1);
  let raw: unknown;
  try {
    raw = JSON.parse(data?.toString("utf8") ?? "");
  } catch {
    return new Error(`zk: data of ${path} is not JSON`);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return new Error(`zk: data of ${path} is not an object`);
  const o = raw as Record<string, unknown>;
  if (typeof o.address !== "string" || o.address === "") return new Error(`zk: data of ${path} has no address`);
  const e: { -readonly [K in keyof Endpoint]: Endpoint[K] } = { id, address: o.address };
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
