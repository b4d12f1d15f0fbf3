import type { HandlerContext } from "./handler-context.js";

/**
 * Where the handler context of the call being served lives while its handler runs, so that
 * clients called from inside a handler inherit its deadline and cancellation by default.
 * The core stays runtime-neutral: `@petrel/node` installs an AsyncLocalStorage-based storage;
 * without one, propagation needs the explicit `parent` call option.
 */
export interface ContextStorage {
  run<R>(ctx: HandlerContext, fn: () => R): R;
  get(): HandlerContext | undefined;
}

let storage: ContextStorage | undefined;

/** Installs the process-wide context storage (last call wins). @internal */
export function setContextStorage(s: ContextStorage | undefined): void {
  storage = s;
}

/** The installed storage, if any. @internal */
export function getContextStorage(): ContextStorage | undefined {
  return storage;
}

/** The handler context of the call currently being served, if known. */
export function currentHandlerContext(): HandlerContext | undefined {
  return storage?.get();
}
