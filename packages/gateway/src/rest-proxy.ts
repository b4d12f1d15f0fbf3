// The standalone REST gateway: HTTP/JSON in, calls forwarded to a remote backend through any
// Petrel Transport (gRPC, petrel/1, in-memory).
import type { DescMessage, DescService, MessageShape } from "@bufbuild/protobuf";
import { methodPath, type Transport } from "@petrel/core";
import type { HttpHandler } from "@petrel/node";
import { type CallInvoker, type TranscoderOptions, createTranscoder } from "./transcoder.js";

/** Options of {@link createRestProxy}. */
export interface RestProxyOptions extends TranscoderOptions {
  /** Services to expose (their descriptors carry the google.api.http rules). */
  services: readonly DescService[];
  /** How calls reach the backend, e.g. `createGrpcTransport({baseUrl})` from @petrel/node. */
  transport: Transport;
}

async function* one<T>(m: T): AsyncGenerator<T> {
  yield m;
}

/**
 * An HttpHandler that transcodes HTTP/JSON to calls on a remote backend. Same HTTP behaviour as
 * `createRestGateway`, except that unmatched requests get a 404 JSON answer by default
 * (`passUnmatched: false`), since a proxy usually owns its port.
 */
export function createRestProxy(options: RestProxyOptions): HttpHandler {
  const transport = options.transport;
  const invoke: CallInvoker = async (call) => {
    const common = {
      service: call.route.service,
      method: call.route.method,
      path: methodPath(call.route.method),
      header: call.header,
      deadline: call.deadline,
      signal: call.signal,
      codec: undefined,
    };
    if (call.route.method.methodKind === "unary") {
      const res = await transport.unary({ ...common, stream: false, message: call.message });
      return { stream: false, message: res.message, header: () => res.header, trailer: () => res.trailer };
    }
    const res = await transport.stream({ ...common, stream: true, message: one(call.message as MessageShape<DescMessage>) });
    return { stream: true, message: res.message, header: () => res.header, trailer: () => res.trailer };
  };
  return createTranscoder(options.services, invoke, { passUnmatched: false, ...options });
}
