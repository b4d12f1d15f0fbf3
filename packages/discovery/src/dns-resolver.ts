import { formatHostPort, isIpLiteral, parseHostPort } from "./address.js";
import { systemClock, type Endpoint, type Resolver, type ResolverFactory, type ResolverTarget } from "./types.js";

/** An SRV record, as `node:dns` returns it. */
export interface SrvRecord {
  readonly name: string;
  readonly port: number;
  readonly priority: number;
  readonly weight: number;
}

/**
 * The DNS queries the resolver needs (the shape of `node:dns`'s `Resolver` promises API), so the
 * resolution logic is runtime-neutral and tests can inject answers. A name with no records of a
 * type rejects with an error whose `code` is `ENODATA` or `ENOTFOUND`.
 */
export interface DnsLookup {
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
  resolveSrv(name: string): Promise<SrvRecord[]>;
}

/** Options of `createDnsResolverFactory`. */
export interface DnsResolverOptions {
  /**
   * Makes the lookup functions for a target's authority: `undefined` for the system's servers,
   * else the DNS server `host:port` of `dns://host:port/name:port`.
   */
  lookup: (server: string | undefined) => DnsLookup;
  /** Periodic re-resolution interval. Default 30000 ms. */
  refreshMs?: number;
  /** Least time between two resolutions started by `resolveNow`. Default 5000 ms. */
  minResolveIntervalMs?: number;
}

const NO_DATA = new Set(["ENODATA", "ENOTFOUND", "NODATA", "NOTFOUND"]);

function isNoData(e: unknown): boolean {
  return NO_DATA.has(String((e as { code?: unknown })?.code ?? ""));
}

/** What a `dns:` path asks for. */
type Query = { t: "addr"; host: string; port: number } | { t: "srv"; name: string } | { t: "literal"; address: string };

function parseQuery(target: ResolverTarget): Query {
  const path = target.path.trim();
  if (path.startsWith("_")) {
    // SRV names carry their own ports; `_grpc._tcp.svc` (a `:port` suffix makes no sense here).
    if (path.includes(":")) throw new TypeError(`invalid dns target "${target.raw}": an SRV name takes no port`);
    parseHostPort(`${path}:1`); // validates the name
    return { t: "srv", name: path };
  }
  let hp: { host: string; port: number };
  try {
    hp = parseHostPort(path);
  } catch (e) {
    throw new TypeError(
      `invalid dns target "${target.raw}": expected "dns:///name:port" or "dns:///_service._tcp.name" (${(e as Error).message})`,
    );
  }
  if (isIpLiteral(hp.host)) return { t: "literal", address: formatHostPort(hp.host, hp.port) };
  return { t: "addr", host: hp.host, port: hp.port };
}

async function resolveAddresses(lookup: DnsLookup, host: string): Promise<string[]> {
  if (isIpLiteral(host)) return [host];
  const [v4, v6] = await Promise.allSettled([lookup.resolve4(host), lookup.resolve6(host)]);
  const out: string[] = [];
  const errors: unknown[] = [];
  for (const r of [v4, v6]) {
    if (r.status === "fulfilled") out.push(...r.value);
    else if (!isNoData(r.reason)) errors.push(r.reason);
  }
  // A failing family (timeout, refused) must not shrink the list: the whole resolution fails.
  if (errors.length > 0) throw errors[0];
  return out;
}

/**
 * Resolves a query once. SRV: only the records of the lowest priority value (RFC 2782: the others
 * are backups), each target resolved to A/AAAA, with the SRV weight as `Endpoint.weight` (a
 * weight of 0 counts as 1, since weighted policies need positive weights).
 */
async function resolveOnce(lookup: DnsLookup, q: Query): Promise<Endpoint[]> {
  if (q.t === "literal") return [{ id: q.address, address: q.address }];
  if (q.t === "addr") {
    return (await resolveAddresses(lookup, q.host)).map((ip) => {
      const address = formatHostPort(ip, q.port);
      return { id: address, address };
    });
  }
  const records = await lookup.resolveSrv(q.name);
  if (records.length === 0) return [];
  const top = Math.min(...records.map((r) => r.priority));
  const byAddress = new Map<string, Endpoint>();
  for (const r of records.filter((x) => x.priority === top)) {
    for (const ip of await resolveAddresses(lookup, r.name)) {
      const address = formatHostPort(ip, r.port);
      const weight = Math.max(1, r.weight) + (byAddress.get(address)?.weight ?? 0);
      byAddress.set(address, {
        id: address,
        address,
        weight,
        metadata: { "srv.target": r.name, "srv.priority": String(r.priority) },
      });
    }
  }
  return [...byAddress.values()];
}

/**
 * A `dns:` resolver factory: `dns:///name:port` (A and AAAA), `dns:///_svc._tcp.name` (SRV), and
 * `dns://server:port/...` to ask a given DNS server. Re-resolves every `refreshMs` and on
 * `resolveNow` (at most once per `minResolveIntervalMs`). A failed or empty resolution calls
 * `onError` and the owner keeps its last good list.
 */
export function createDnsResolverFactory(options: DnsResolverOptions): ResolverFactory {
  const refreshMs = options.refreshMs ?? 30_000;
  const minInterval = options.minResolveIntervalMs ?? 5_000;
  if (!(refreshMs > 0) || !(minInterval >= 0)) throw new TypeError("dns resolver: refreshMs must be > 0 and minResolveIntervalMs >= 0");
  return {
    scheme: "dns",
    build(target, listener, buildOptions): Resolver {
      const q = parseQuery(target);
      const server = target.authority === "" ? undefined : target.authority;
      if (server !== undefined) parseHostPort(server, 53);
      const lookup = options.lookup(server);
      const clock = buildOptions?.clock ?? systemClock;
      const what = q.t === "srv" ? q.name : q.t === "addr" ? `${q.host}` : q.address;
      let closed = false;
      let running = false;
      let timer: unknown;
      let lastStart = Number.NEGATIVE_INFINITY;

      const schedule = (ms: number): void => {
        if (timer !== undefined) clock.clearTimeout(timer);
        timer = clock.setTimeout(() => {
          timer = undefined;
          run();
        }, ms);
      };

      const run = (): void => {
        if (closed || running) return;
        running = true;
        lastStart = clock.now();
        resolveOnce(lookup, q).then(
          (endpoints) => {
            running = false;
            if (closed) return;
            if (endpoints.length === 0) listener.onError(new Error(`dns: no addresses for "${what}"`));
            else listener.onUpdate(endpoints);
            schedule(refreshMs);
          },
          (e: unknown) => {
            running = false;
            if (closed) return;
            const code = (e as { code?: unknown })?.code;
            listener.onError(
              new Error(
                `dns: cannot resolve "${what}": ${code !== undefined ? `${String(code)} ` : ""}${(e as Error)?.message ?? String(e)}`,
              ),
            );
            schedule(refreshMs);
          },
        );
      };

      queueMicrotask(run);
      return {
        resolveNow() {
          if (closed || running) return;
          const wait = lastStart + minInterval - clock.now();
          if (wait <= 0) run();
          else schedule(wait);
        },
        close() {
          closed = true;
          if (timer !== undefined) clock.clearTimeout(timer);
          timer = undefined;
        },
      };
    },
  };
}
