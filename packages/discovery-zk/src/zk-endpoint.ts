// Znode layout and the JSON an instance's znode holds.
import {
  decodeEndpoint as decodeEndpointJson,
  encodeEndpoint as encodeEndpointJson,
  type Endpoint,
  validateEndpoint,
} from "@petrel/discovery";

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
  return validateEndpoint(e, "zk", (id) => checkName("instance id", id));
}

/** The znode data: the endpoint's set fields as JSON. @internal */
export function encodeEndpoint(e: Endpoint): Buffer {
  return Buffer.from(encodeEndpointJson(e));
}

/**
 * Parses znode data. The id is the znode's name (unique by construction), so data written by
 * other tools (just `{"address": ...}`) still resolves. Returns an Error for malformed data.
 * @internal
 */
export function decodeEndpoint(path: string, data: Buffer | undefined): Endpoint | Error {
  const e = decodeEndpointJson(data?.toString("utf8") ?? "", `zk: data of ${path}`);
  if (e instanceof Error) return e;
  // A stored id is ignored: the znode name is authoritative.
  const { id: _stored, ...fields } = e;
  return { id: path.slice(path.lastIndexOf("/") + 1), ...fields };
}
