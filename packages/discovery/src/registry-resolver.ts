import { createClient } from "@petrel/core";
import { RetryBackoff, type RetryBackoffOptions } from "./backoff.js";
import { Registry } from "./gen/petrel/registry/v1/registry_pb.js";
import { asError, checkRegistryAddress, type RegistryTransportFactory } from "./registry-client.js";
import { sameEndpoint, toEndpoint } from "./registry-instance.js";
import { systemClock, type Endpoint, type Resolver, type ResolverFactory } from "./types.js";

/** Options of `createRegistryResolverFactory`. */
export interface RegistryResolverOptions {
  /** Makes the transport to a registry (one per resolver, closed with it when it has `close`). */
  transport: RegistryTransportFactory;
  /** The URL scheme. Default `petrel`. */
  scheme?: string;
  /** Delays between reconnection attempts. Default 1 s growing to 30 s. */
  backoff?: RetryBackoffOptions;
}

/**
 * A resolver factory for the embedded registry: `petrel://host:port/service` watches `service`
 * at the registry `host:port`. Each snapshot becomes an `onUpdate`; when the watch fails or ends
 * (registry down or restarting) it calls `onError`, keeps quiet (the owner keeps its list) and
 * reconnects with backoff, or at once on `resolveNow`. While a restarted registry warms up, its
 * incomplete snapshots only add or update endpoints, never remove them.
 */
export function createRegistryResolverFactory(options: RegistryResolverOptions): ResolverFactory {
  const scheme = options.scheme ?? "petrel";
  return {
    scheme,
    build(target, listener, buildOptions): Resolver {
      if (target.authority === "")
        throw new TypeError(`invalid ${scheme} target "${target.raw}": expected "${scheme}://host:port/service"`);
      checkRegistryAddress(`${scheme} resolver`, target.authority);
      const service = target.path;
      if (service.includes("/")) throw new TypeError(`invalid ${scheme} target "${target.raw}": the service name contains "/"`);
      const clock = buildOptions?.clock ?? systemClock;
      const transport = options.transport(target.authority);
      const client = createClient(Registry, transport);
      const backoff = new RetryBackoff(options.backoff);
      let closed = false;
      let call: AbortController | undefined;
      let timer: unknown;
      let wake: (() => void) | undefined;
      let last: Endpoint[] | undefined;

      const deliver = (endpoints: Endpoint[], complete: boolean): void => {
        let next = endpoints;
        if (!complete && last !== undefined) {
          // Warm-up: instances may not have re-registered yet; keep the ones we knew.
          const ids = new Set(endpoints.map((e) => e.id));
          next = [...endpoints, ...last.filter((e) => !ids.has(e.id))].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
        }
        if (last !== undefined && next.length === last.length && next.every((e, i) => sameEndpoint(e, (last as Endpoint[])[i] as Endpoint)))
          return;
        last = next;
        listener.onUpdate(next);
      };

      const sleep = (ms: number): Promise<void> =>
        new Promise((resolve) => {
          wake = () => {
            wake = undefined;
            if (timer !== undefined) clock.clearTimeout(timer);
            timer = undefined;
            resolve();
          };
          timer = clock.setTimeout(() => wake?.(), ms);
        });

      const run = async (): Promise<void> => {
        while (!closed) {
          const ac = new AbortController();
          call = ac;
          let error: Error;
          try {
            for await (const snap of client.watch({ service }, { signal: ac.signal })) {
              backoff.reset();
              deliver(snap.instances.map(toEndpoint), snap.complete);
            }
            error = new Error(`registry ${target.authority}: watch of "${service}" ended`);
          } catch (e) {
            error = asError(e);
          }
          if (closed) return;
          listener.onError(error);
          await sleep(backoff.next());
        }
      };

      void run();
      return {
        resolveNow() {
          wake?.();
        },
        close() {
          if (closed) return;
          closed = true;
          call?.abort();
          wake?.();
          void transport.close?.().catch(() => {});
        },
      };
    },
  };
}
