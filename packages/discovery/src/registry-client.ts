import type { Transport } from "@petrel/core";
import { parseHostPort } from "./address.js";

/** Makes the transport a registry client talks over, e.g. `(address) => createNativeTransport({ address })`. */
export type RegistryTransportFactory = (address: string) => Transport & { close?(): Promise<void> };

/** @internal Validates a registry address (`host:port`), naming the caller in the error. */
export function checkRegistryAddress(who: string, address: string): void {
  try {
    parseHostPort(address);
  } catch (e) {
    throw new TypeError(`${who}: invalid registry address: ${(e as Error).message}`);
  }
}

/** @internal Turns anything thrown into an Error for `onError`. */
export function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
