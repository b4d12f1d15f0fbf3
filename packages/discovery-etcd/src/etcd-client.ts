import { Etcd3, type IOptions } from "etcd3";

/** Connection settings shared by the etcd resolver and registrar. */
export interface EtcdConnectionOptions {
  /**
   * etcd client endpoints: `host:port` (plain HTTP/2) or full `http(s)://host:port` URLs; a string
   * may list several separated by commas.
   */
  hosts: string | readonly string[];
  /** Extra etcd3 client options (credentials, auth, ...), merged over Petrel's defaults. */
  client?: Omit<IOptions, "hosts">;
}

/** Splits and validates a host list; throws a clear error on bad input. @internal */
export function parseEtcdHosts(hosts: string | readonly string[]): string[] {
  const list = (typeof hosts === "string" ? hosts.split(",") : [...hosts]).map((h) => String(h).trim()).filter(Boolean);
  if (list.length === 0) throw new Error("etcd: no hosts given (expected host:port[,host:port])");
  return list.map((h) => {
    const url = /^[a-z]+:\/\//i.test(h) ? h : `http://${h}`;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new Error(`etcd: invalid host "${h}" (expected host:port)`);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw new Error(`etcd: unsupported scheme in host "${h}" (use http:// or https://)`);
    }
    if (!parsed.hostname || !parsed.port) throw new Error(`etcd: host "${h}" needs a port (host:port)`);
    return `${parsed.protocol}//${parsed.host}`;
  });
}

/**
 * Builds an etcd3 client tuned for discovery. grpc-js backs off reconnects up to 120 s by default,
 * which would leave a registry that restarts invisible for minutes; we cap it at 2 s.
 * @internal
 */
export function createEtcdClient(options: EtcdConnectionOptions): Etcd3 {
  const hosts = parseEtcdHosts(options.hosts);
  return new Etcd3({
    dialTimeout: 5_000,
    ...options.client,
    hosts,
    grpcOptions: {
      "grpc.initial_reconnect_backoff_ms": 200,
      "grpc.max_reconnect_backoff_ms": 2_000,
      ...options.client?.grpcOptions,
    },
  });
}
