// Parsing of `host:port` / `[v6]:port` addresses, shared by the static and DNS resolvers and the registry.

/** A parsed `host:port`; `host` is bare (no brackets) for IPv6. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
/** Loose, but enough to tell an IPv6 literal from a name: hex groups and colons, maybe a dotted tail or zone. */
const IPV6 = /^[0-9a-f:]*:[0-9a-f:.]*(%[\w.-]+)?$/i;
/** RFC 1123 host names, plus `_` for SRV-style labels. */
const HOSTNAME = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/i;

/** Whether `host` is an IPv4 or IPv6 literal (IPv6 without brackets). */
export function isIpLiteral(host: string): boolean {
  return IPV4.test(host) || IPV6.test(host);
}

/**
 * Parses `host:port` or `[v6]:port`. With `defaultPort`, the port may be omitted. Throws a
 * TypeError naming the input for anything else (no port, port out of range, bad host).
 */
export function parseHostPort(input: string, defaultPort?: number): HostPort {
  const s = input.trim();
  let host: string;
  let port: string | undefined;
  if (s.startsWith("[")) {
    const end = s.indexOf("]");
    if (end < 0) throw new TypeError(`invalid address "${input}": missing "]"`);
    host = s.slice(1, end);
    const rest = s.slice(end + 1);
    if (rest !== "" && !rest.startsWith(":")) throw new TypeError(`invalid address "${input}": expected ":port" after "]"`);
    port = rest === "" ? undefined : rest.slice(1);
    if (!IPV6.test(host)) throw new TypeError(`invalid address "${input}": "${host}" is not an IPv6 address`);
  } else {
    const colon = s.lastIndexOf(":");
    if (colon >= 0 && s.indexOf(":") !== colon) {
      throw new TypeError(`invalid address "${input}": write IPv6 addresses in brackets, e.g. "[::1]:50051"`);
    }
    host = colon < 0 ? s : s.slice(0, colon);
    port = colon < 0 ? undefined : s.slice(colon + 1);
    if (!IPV4.test(host) && !HOSTNAME.test(host)) throw new TypeError(`invalid address "${input}": bad host "${host}"`);
  }
  if (port === undefined) {
    if (defaultPort === undefined) throw new TypeError(`invalid address "${input}": missing ":port"`);
    return { host, port: defaultPort };
  }
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    throw new TypeError(`invalid address "${input}": port must be 1..65535`);
  }
  return { host, port: Number(port) };
}

/** Formats a host and port as an address, bracketing IPv6. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Parses a comma-separated address list (`h1:p1,h2:p2`) into normalized addresses, duplicates removed. */
export function parseAddressList(input: string): string[] {
  const parts = input.split(",").map((p) => p.trim());
  if (parts.some((p) => p === "")) throw new TypeError(`invalid address list "${input}": empty entry`);
  const out = new Set<string>();
  for (const p of parts) {
    const { host, port } = parseHostPort(p);
    out.add(formatHostPort(host, port));
  }
  return [...out];
}
