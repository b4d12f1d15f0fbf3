import { AsyncLocalStorage } from "node:async_hooks";
import { setContextStorage, type HandlerContext } from "@petrel/core";

const als = new AsyncLocalStorage<HandlerContext>();

/**
 * Installs AsyncLocalStorage as Petrel's context storage, so a client call made while a handler
 * runs inherits that call's deadline and cancellation without passing `parent` by hand.
 * Importing `@petrel/node` does this once; calling it again is harmless.
 */
export function installAsyncContext(): void {
  setContextStorage({
    run: (ctx, fn) => als.run(ctx, fn),
    get: () => als.getStore(),
  });
}
