import { parseAddressList } from "./address.js";
import type { Endpoint, Resolver, ResolverFactory } from "./types.js";

/**
 * `static:///h1:p1,h2:p2` (or a bare `h1:p1,h2:p2`): a fixed list, reported once. Endpoint ids
 * are the addresses. Build throws a TypeError for a bad list.
 */
export const staticResolverFactory: ResolverFactory = {
  scheme: "static",
  build(target, listener): Resolver {
    if (target.authority !== "") throw new TypeError(`invalid static target "${target.raw}": write "static:///h1:p1,h2:p2"`);
    const endpoints: Endpoint[] = parseAddressList(target.path).map((address) => ({ id: address, address }));
    let closed = false;
    // Reported on a microtask, so the caller holds the Resolver before its listener runs.
    queueMicrotask(() => {
      if (!closed) listener.onUpdate(endpoints);
    });
    return {
      close() {
        closed = true;
      },
    };
  },
};
