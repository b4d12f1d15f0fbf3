import { createNativeClientTransport, type ConnectableTransport, type NativeTransportOptions } from "@petrel/protocol-native";
import { tcpDialer } from "./tcp-channel.js";

/** Options of `createNativeTransport`: the protocol's options without the dialer. */
export type NativeTcpTransportOptions = Omit<NativeTransportOptions, "dial"> & { dial?: NativeTransportOptions["dial"] };

/**
 * A petrel/1 client over TCP: `createClient(Service, createNativeTransport({ address: "127.0.0.1:7000" }))`.
 * Frames are flushed once per event-loop turn (setImmediate), so concurrent calls share writes.
 * `connect()` dials ahead of calls (resolves when a connection is ready, rejects with UNAVAILABLE).
 */
export function createNativeTransport(options: NativeTcpTransportOptions): ConnectableTransport {
  return createNativeClientTransport({ schedule: setImmediate, dial: tcpDialer, ...options });
}
