import type { DescMessage, DescMethod, DescService, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { CallOptions } from "./call-options.js";
import type { HandlerContext } from "./handler-context.js";

type MethodOf<S extends DescService> = S["method"];
type In<M> = M extends { input: infer I extends DescMessage } ? I : never;
type Out<M> = M extends { output: infer O extends DescMessage } ? O : never;

/** The typed client method for one protobuf method, chosen by its kind. */
export type ClientMethod<M extends Pick<DescMethod, "methodKind" | "input" | "output">> = M extends {
  methodKind: "unary";
}
  ? (request: MessageInitShape<In<M>>, options?: CallOptions) => Promise<MessageShape<Out<M>>>
  : M extends { methodKind: "server_streaming" }
    ? (request: MessageInitShape<In<M>>, options?: CallOptions) => AsyncIterable<MessageShape<Out<M>>>
    : M extends { methodKind: "client_streaming" }
      ? (requests: AsyncIterable<MessageInitShape<In<M>>>, options?: CallOptions) => Promise<MessageShape<Out<M>>>
      : M extends { methodKind: "bidi_streaming" }
        ? (requests: AsyncIterable<MessageInitShape<In<M>>>, options?: CallOptions) => AsyncIterable<MessageShape<Out<M>>>
        : never;

/** A typed client for a service: one method per RPC, named by its `localName`. */
export type Client<S extends DescService> = {
  [P in keyof MethodOf<S>]: ClientMethod<MethodOf<S>[P]>;
};

type MaybePromise<T> = T | Promise<T>;

/** The implementation signature of one method, chosen by its kind. */
export type MethodImpl<M extends Pick<DescMethod, "methodKind" | "input" | "output">> = M extends {
  methodKind: "unary";
}
  ? (request: MessageShape<In<M>>, ctx: HandlerContext) => MaybePromise<MessageInitShape<Out<M>>>
  : M extends { methodKind: "server_streaming" }
    ? (request: MessageShape<In<M>>, ctx: HandlerContext) => AsyncIterable<MessageInitShape<Out<M>>>
    : M extends { methodKind: "client_streaming" }
      ? (requests: AsyncIterable<MessageShape<In<M>>>, ctx: HandlerContext) => MaybePromise<MessageInitShape<Out<M>>>
      : M extends { methodKind: "bidi_streaming" }
        ? (requests: AsyncIterable<MessageShape<In<M>>>, ctx: HandlerContext) => AsyncIterable<MessageInitShape<Out<M>>>
        : never;

/** A service implementation: every method of the service. */
export type ServiceImpl<S extends DescService> = {
  [P in keyof MethodOf<S>]: MethodImpl<MethodOf<S>[P]>;
};

/** `/package.Service/Method` for a method descriptor. */
export function methodPath(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}
