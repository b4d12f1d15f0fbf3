import { createNativeClientTransport, type ConnectableTransport, type NativeTransportOptions } from "@petrel/protocol-native";
import { createDefaultGrpcCompressions } from "./grpc-compression.js";
import { createTlsDialer } from "./native-tls.js";
import { tcpDialer } from "./tcp-channel.js";
import type { ClientTlsOptions } from "./tls-options.js";

/** Options of `createNativeTransport`: the protocol's options without the dialer. */
export type NativeTcpTransportOptions = Omit<NativeTransportOptions, "dial"> & {
  dial?: NativeTransportOptions["dial"];
  /**
   * Speak TLS (ALPN `petrel/1`), optionally mutual TLS with `cert`/`key`. The server certificate
   * is always verified (against `ca`, default Node's root CAs). Default: cleartext TCP.
   * Ignored when `dial` is given.
   */
  tls?: ClientTlsOptions;
  /**
   * Compressions the client reads in responses (advertised in COMPRESSIONS) and may use for
   * requests (see `compression` and the request header `x-petrel-compress`). Default
   * `createDefaultGrpcCompressions()`: gzip and deflate (and whatever else it holds).
   */
  compressions?: NativeTransportOptions["compressions"];
};

/**
 * A petrel/1 client over TCP: `createClient(Service, createNativeTransport({ address: "127.0.0.1:7000" }))`.
 * Frames are flushed once per event-loop turn (setImmediate), so concurrent calls share writes.
 * `connect()` dials ahead of calls (resolves when a connection is ready, rejects with UNAVAILABLE).
 */
export function createNativeTransport(options: NativeTcpTransportOptions): ConnectableTransport {
  const { tls, ...rest } = options;
  const dial = rest.dial ?? (tls === undefined ? tcpDialer : createTlsDialer(tls));
  const compressions = rest.compressions ?? createDefaultGrpcCompressions();
  return createNativeClientTransport({ schedule: setImmediate, ...rest, compressions, dial });
}
