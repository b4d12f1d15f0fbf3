import { connect } from "node:tls";
import type { Dialer } from "@petrel/protocol-native";
import { bindSocket, parseHostPort } from "./tcp-channel.js";
import { type ClientTlsOptions, tlsConnectOptions } from "./tls-options.js";

/** The ALPN protocol id of petrel/1 over TLS. */
export const NATIVE_ALPN = "petrel/1";

/**
 * A petrel/1 Dialer over TLS (ALPN `petrel/1`): the connection opens once the handshake, and with
 * it the server certificate check, succeeded; a failed handshake closes it with that error.
 * Options are checked here, so bad ones throw at transport creation rather than on first call.
 */
export function createTlsDialer(options: ClientTlsOptions): Dialer {
  // Validate once, with a placeholder host; each dial fills in its own.
  tlsConnectOptions(options, "localhost", 0, "petrel/1", [NATIVE_ALPN]);
  return (address, events) => {
    const { host, port } = parseHostPort(address);
    const socket = connect(tlsConnectOptions(options, host, port, "petrel/1", [NATIVE_ALPN]));
    socket.once("secureConnect", () => events.onOpen());
    return bindSocket(socket, events);
  };
}
