/**
 * `createNodeChannel`: `createChannel` from @petrel/channel with a @petrel/node transport per
 * endpoint and the resolver schemes a Node process can serve registered (static, dns, petrel,
 * etcd, zk).
 */
import { createChannel, type Channel, type ChannelOptions, type ChannelTransport } from "@petrel/channel";
import {
  createRegistryResolverFactory,
  getResolver,
  registerResolver,
  type Endpoint,
  type Resolver,
  type ResolverFactory,
} from "@petrel/discovery";
import { createGrpcTransport, type GrpcTransportOptions } from "./grpc-transport.js";
import { createJsonRpcTransport, type JsonRpcTransportOptions } from "./jsonrpc-transport.js";
import { createNativeTransport, type NativeTcpTransportOptions } from "./native-transport.js";

/** Wire protocols a node channel speaks to each endpoint. */
export type NodeChannelProtocol = "petrel/1" | "grpc" | "jsonrpc";

const PROTOCOLS: readonly NodeChannelProtocol[] = ["petrel/1", "grpc", "jsonrpc"];

/** Options of {@link createNodeChannel}: those of `createChannel` minus the transport factory, plus the protocol. */
export interface NodeChannelOptions extends Omit<ChannelOptions, "transportFactory" | "healthCheck"> {
  /**
   * Protocol spoken to every endpoint: `"petrel/1"` (TCP), `"grpc"` (h2c, `http://address`) or
   * `"jsonrpc"` (JSON-RPC 2.0 over HTTP POST to `http://address/jsonrpc`). Default `"petrel/1"`.
   */
  protocol?: NodeChannelProtocol;
  /**
   * grpc.health.v1 Watch on every READY subchannel, or false. Default `{ service: "" }` for
   * petrel/1 and gRPC; off for JSON-RPC, which has no streams to watch over.
   */
  healthCheck?: { service?: string } | false;
  /** Extra petrel/1 transport options (backoff, pool size, codecs …); `address` comes from the endpoint. */
  native?: Omit<NativeTcpTransportOptions, "address">;
  /** Extra gRPC transport options (TLS, keepalive …); `baseUrl` comes from the endpoint. */
  grpc?: Omit<GrpcTransportOptions, "baseUrl">;
  /** Extra JSON-RPC transport options; the URL comes from the endpoint and `jsonRpcPath`. */
  jsonrpc?: Omit<JsonRpcTransportOptions, "url" | "protocol" | "host" | "port">;
  /** HTTP path of the JSON-RPC endpoint. Default `/jsonrpc`. */
  jsonRpcPath?: string;
  /** Opens an endpoint's transport instead of the protocol's default (then `protocol` only picks the health default). */
  transportFactory?: ChannelOptions["transportFactory"];
}

/**
 * A channel over every instance of a service with @petrel/node transports:
 * `createClient(Svc, createNodeChannel({ target: "petrel://127.0.0.1:7000/inventory" }))`.
 * Registers the node resolver schemes first ({@link registerNodeResolvers}). Throws a TypeError
 * for bad options; an unknown scheme is an Error naming the registered ones.
 */
export function createNodeChannel(options: NodeChannelOptions): Channel {
  if (options === null || typeof options !== "object") throw new TypeError("createNodeChannel: options must be an object");
  const { protocol = "petrel/1", healthCheck, native, grpc, jsonrpc, jsonRpcPath = "/jsonrpc", transportFactory, ...rest } = options;
  if (!PROTOCOLS.includes(protocol)) {
    throw new TypeError(`createNodeChannel: protocol must be one of ${PROTOCOLS.join(", ")}, got ${JSON.stringify(protocol)}`);
  }
  if (typeof jsonRpcPath !== "string" || !jsonRpcPath.startsWith("/")) {
    throw new TypeError(`createNodeChannel: jsonRpcPath must start with "/", got ${JSON.stringify(jsonRpcPath)}`);
  }
  if (healthCheck !== undefined && healthCheck !== false && (healthCheck === null || typeof healthCheck !== "object")) {
    throw new TypeError("createNodeChannel: healthCheck must be an object or false");
  }
  registerNodeResolvers();
  const factory: (endpoint: Endpoint) => ChannelTransport =
    transportFactory ??
    ((ep) => {
      if (protocol === "grpc") return createGrpcTransport({ ...grpc, baseUrl: `http://${ep.address}` });
      if (protocol === "jsonrpc") return createJsonRpcTransport({ ...jsonrpc, url: `http://${ep.address}${jsonRpcPath}` });
      return createNativeTransport({ ...native, address: ep.address });
    });
  const health = healthCheck === false ? undefined : (healthCheck ?? (protocol === "jsonrpc" ? undefined : {}));
  return createChannel({ ...rest, transportFactory: factory, ...(health === undefined ? {} : { healthCheck: health }) });
}

/**
 * Registers, for every scheme that has no factory yet (a user's own registration is kept):
 * `petrel:` (the embedded registry over petrel/1), `etcd:` and `zk:`. `static:` and `dns:` come
 * with @petrel/discovery. The etcd and ZooKeeper packages are imported on the first target of
 * their scheme, so a process without them never loads etcd3 or node-zookeeper-client.
 * Idempotent.
 */
export function registerNodeResolvers(): void {
  if (getResolver("petrel") === undefined) {
    registerResolver(createRegistryResolverFactory({ transport: (address) => createNativeTransport({ address }) }));
  }
  if (getResolver("etcd") === undefined) {
    registerResolver(
      lazyResolverFactory("etcd", "@petrel/discovery-etcd", async () => (await import("@petrel/discovery-etcd")).etcdResolverFactory),
    );
  }
  if (getResolver("zk") === undefined) {
    registerResolver(
      lazyResolverFactory("zk", "@petrel/discovery-zk", async () => (await import("@petrel/discovery-zk")).zkResolverFactory),
    );
  }
}

/**
 * A factory that loads the real one on first use. `build` must answer synchronously, so it
 * returns a proxy resolver; a failed import or build is reported through `onError` (the channel
 * keeps waiting for endpoints and emits `resolver_error`).
 */
function lazyResolverFactory(scheme: string, pkg: string, load: () => Promise<ResolverFactory>): ResolverFactory {
  let loading: Promise<ResolverFactory> | undefined;
  return {
    scheme,
    build(target, listener, options): Resolver {
      // Catch the obvious mistakes now, as the eager factories do; the real one checks the rest.
      if (target.authority === "" || target.path.replace(/^\/+/, "") === "") {
        throw new TypeError(`invalid ${scheme} target "${target.raw}": expected "${scheme}://host:port/service"`);
      }
      let inner: Resolver | undefined;
      let closed = false;
      loading ??= load();
      loading.then(
        (factory) => {
          if (closed) return;
          try {
            inner = factory.build(target, listener, options);
          } catch (e) {
            listener.onError(e instanceof Error ? e : new Error(String(e)));
          }
        },
        (e: unknown) => {
          if (closed) return;
          const why = e instanceof Error ? e.message : String(e);
          listener.onError(new Error(`${scheme}: cannot load ${pkg} (${why}); install it to resolve ${scheme}:// targets`));
        },
      );
      return {
        resolveNow: () => inner?.resolveNow?.(),
        close() {
          closed = true;
          inner?.close();
        },
      };
    },
  };
}
