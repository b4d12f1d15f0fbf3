import { createNativeClientTransport, type ClosableTransport, type NativeTransportOptions } from "@petrel/protocol-native";
import { tcpDialer } from "./tcp-channel.js";

/** Options of `createNativeTransport`: the protocol's options without the dialer. */
export type NativeTcpTransportOptions = Omit<NativeTransportOptions, "dial"> & { dial?: NativeTransportOptions["dial"] };

/**
 * A petrel/1 client over TCP: `createClient(Service, createNativeTransport({ address: "127.0.0.1:7000" }))`.
 * Frames are flushed once per event-loop turn (setImmediate), so concurrent calls share writes.
 */
export function createNativeTransport(options: NativeTcpTransportOptions): ClosableTransport {
  return createNativeClientTransport({ schedule: setImmediate, dial: tcpDialer, ...options });
}
