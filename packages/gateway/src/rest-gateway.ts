// The in-process REST gateway: HTTP/JSON in, the router's handlers called directly.
import type { DescMessage, DescService, MessageShape } from "@bufbuild/protobuf";
import { Code, RpcError, ServerContext, methodPath, type Router } from "@petrel/core";
import type { HttpHandler } from "@petrel/node";
import { type CallInvoker, type TranscoderOptions, createTranscoder } from "./transcoder.js";

/** Options of {@link createRestGateway}. */
export interface RestGatewayOptions extends TranscoderOptions {
  /** The router whose handlers serve the calls. */
  router: Router;
  /** Services to expose. Default: every service registered on the router (those without google.api.http rules add no routes). */
  services?: readonly DescService[];
}

async function* one<T>(m: T): AsyncGenerator<T> {
  yield m;
}

/**
 * An HttpHandler that transcodes HTTP/JSON requests to the router's methods following their
 * `google.api.http` annotations (as grpc-gateway and Envoy's gRPC-JSON transcoder do), and serves
 * an OpenAPI 3.1 document at `/openapi.json`. It returns false for requests no route matches, so
 * it chains with other protocols on one port (`chainHttpHandlers`). Throws `HttpRuleError` for an
 * annotation it cannot serve.
 */
export function createRestGateway(options: RestGatewayOptions): HttpHandler {
  const router = options.router;
  const services = options.services ?? router.services();
  const invoke: CallInvoker = async (call) => {
    const { route } = call;
    const handler = router.lookup(methodPath(route.method));
    if (handler === undefined)
      throw new RpcError(Code.UNIMPLEMENTED, `method ${route.method.parent.typeName}.${route.method.name} is not served`);
    const ctx = new ServerContext(
      route.service,
      route.method,
      call.header,
      call.deadline,
      call.peer ?? { address: call.peerAddress, protocol: "rest" },
    );
    const onAbort = (): void => ctx.abort(call.signal.reason as RpcError);
    if (call.signal.aborted) onAbort();
    else call.signal.addEventListener("abort", onAbort, { once: true });
    const header = () => ctx.peekResponseHeader();
    const trailer = () => ctx.peekResponseTrailer();
    if (route.method.methodKind === "unary") {
      const res = await handler.invoke({ stream: false, method: route.method, ctx, message: call.message });
      if (res.stream) throw new RpcError(Code.INTERNAL, "handler returned a stream for a unary method");
      return { stream: false, message: res.message, header, trailer };
    }
    const res = await handler.invoke({ stream: true, method: route.method, ctx, message: one(call.message as MessageShape<DescMessage>) });
    if (!res.stream) throw new RpcError(Code.INTERNAL, "handler returned one message for a streaming method");
    return { stream: true, message: res.message, header, trailer };
  };
  return createTranscoder(services, invoke, options);
}
