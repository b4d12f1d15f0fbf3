// The protocol-neutral half of one RPC served over Node's http / http2-compat request objects,
// shared by the gRPC-Web (grpc-web.ts) and Connect (connect-protocol.ts) handlers: deadline timer,
// cancellation on client disconnect, request message streams, invoking the router's handler and
// pumping its response into a protocol-specific sink.
import { channel as diagnosticsChannel } from "node:diagnostics_channel";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import {
  Code,
  markReceivedCompressed,
  RpcError,
  toWireError,
  type Codec,
  type HandlerContext,
  type MethodHandler,
  type ServerContext,
  type ServerResponse,
} from "@petrel/core";
import { type Compression, MessageDeframer } from "@petrel/protocol-grpc";
import type { HttpRequest, HttpResponse } from "./http-handler.js";
import { peerInfoOf, type TlsAwarePeerInfo } from "./tls-peer.js";

/**
 * Handler failures of the gRPC-Web and Connect handlers (non-RpcErrors, INTERNAL and UNKNOWN),
 * published as `{ error, ctx }` when no `onHandlerError` option is given.
 */
export const webHandlerErrorChannel = diagnosticsChannel("petrel:web:handler-error");

/** The longest delay setTimeout honours; a deadline further out is treated as none (as grpc-js does). */
const MAX_TIMER_MS = 0x7fff_ffff;

type Message = MessageShape<DescMessage>;

/** Settings shared by the calls of one handler. @internal */
export interface WebCallConfig {
  maxRecv: number;
  maxSend: number;
  onHandlerError: (error: unknown, ctx: HandlerContext) => void;
}

/** The default `onHandlerError`: publish on {@link webHandlerErrorChannel}. @internal */
export function publishHandlerError(error: unknown, ctx: HandlerContext): void {
  if (webHandlerErrorChannel.hasSubscribers) webHandlerErrorChannel.publish({ error, ctx });
}

/** The caller as the handler sees it. @internal */
export function peerOf(req: HttpRequest, protocol: string): TlsAwarePeerInfo {
  return peerInfoOf(req.socket, protocol);
}

/**
 * Copies request headers without the ones a protocol owns (its `prefixes`, and the exact `names`),
 * so they do not surface as application metadata. `headersToMetadata` drops the rest of the
 * reserved set (pseudo-headers, `grpc-*`, content-type …).
 * @internal
 */
export function stripHeaders(
  headers: Record<string, string | string[] | undefined>,
  prefixes: readonly string[],
  names: ReadonlySet<string>,
): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = {};
  outer: for (const k in headers) {
    if (names.has(k)) continue;
    for (const p of prefixes) if (k.startsWith(p)) continue outer;
    out[k] = headers[k];
  }
  return out;
}

/**
 * Decodes request bytes of an enveloped stream (gRPC-Web and Connect streaming share the
 * 5-byte Length-Prefixed-Message layout for requests) into messages.
 * @internal
 */
export async function* envelopedMessages(
  chunks: AsyncIterable<Uint8Array>,
  codec: Codec,
  schema: DescMessage,
  maxRecv: number,
  compression: Compression | undefined,
): AsyncGenerator<Message> {
  const deframer = new MessageDeframer({ maxMessageSize: maxRecv });
  const pending: Array<{ bytes: Uint8Array; compressed: boolean }> = [];
  for await (const chunk of chunks) {
    deframer.push(chunk, (bytes, compressed) => {
      // The deframer's views point into `chunk`, which we do not reuse: safe to keep.
      pending.push({ bytes, compressed });
    });
    while (pending.length > 0) {
      const m = pending.shift() as { bytes: Uint8Array; compressed: boolean };
      yield await decodeMessage(codec, schema, m.bytes, m.compressed, compression, maxRecv);
    }
  }
  deframer.end();
}

/** Decompresses (when flagged) and decodes one request message. @internal */
export async function decodeMessage(
  codec: Codec,
  schema: DescMessage,
  bytes: Uint8Array,
  compressed: boolean,
  compression: Compression | undefined,
  maxRecv: number,
): Promise<Message> {
  if (compressed) {
    if (compression === undefined) throw new RpcError(Code.INTERNAL, "protocol error: compressed message without an encoding");
    bytes = await compression.decompress(bytes, maxRecv);
  }
  let message: Message;
  try {
    message = codec.decode(schema, bytes);
  } catch (e) {
    throw new RpcError(Code.INVALID_ARGUMENT, `cannot decode request ${schema.typeName}: ${(e as Error).message}`);
  }
  if (compressed) markReceivedCompressed(message);
  return message;
}

/**
 * The request body as chunks, without destroying the request when the consumer stops early
 * (destroying an HTTP/1.1 request would kill the socket and the response with it).
 * @internal
 */
export function bodyChunks(req: HttpRequest): AsyncIterable<Uint8Array> {
  return (req as unknown as { iterator(o: { destroyOnReturn: boolean }): AsyncIterable<Uint8Array> }).iterator({
    destroyOnReturn: false,
  });
}

/**
 * One call over HTTP: owns the deadline timer and the disconnect watch, runs the handler and
 * feeds its outcome to the protocol's `sendMessage` / `finish` / `sendError`. Every outcome goes
 * through exactly one of `finish` or `sendError` (unless the client is gone).
 * @internal
 */
export abstract class WebCall {
  protected done = false;
  private timer: ReturnType<typeof setTimeout> | undefined = undefined;

  constructor(
    protected readonly req: HttpRequest,
    protected readonly res: HttpResponse,
    protected readonly handler: MethodHandler,
    protected readonly ctx: ServerContext,
    protected readonly config: WebCallConfig,
  ) {}

  /** Writes one response message (headers first if not yet sent). */
  protected abstract sendMessage(message: Message): Promise<void> | void;
  /** Ends the call OK. */
  protected abstract finish(): void;
  /** Ends the call with an error (already made wire-safe). */
  protected abstract sendError(err: RpcError): void;

  /**
   * Starts the call with the request messages. Unary and server-streaming methods read all of
   * `input` first (exactly one message); the others get it as a stream.
   */
  run(timeoutMs: number | undefined, input: AsyncIterable<Message>): void {
    this.res.on("close", () => {
      if (!this.done) this.abort(new RpcError(Code.CANCELLED, "call cancelled by the client"));
    });
    if (timeoutMs !== undefined) {
      if (timeoutMs <= 0) return this.fail(new RpcError(Code.DEADLINE_EXCEEDED, "deadline exceeded before the call started"));
      if (timeoutMs <= MAX_TIMER_MS) {
        this.timer = setTimeout(() => this.fail(new RpcError(Code.DEADLINE_EXCEEDED, "deadline exceeded")), timeoutMs);
        this.timer.unref?.();
      }
    }
    const kind = this.handler.method.methodKind;
    let started: Promise<ServerResponse>;
    if (kind === "unary" || kind === "server_streaming") {
      started = single(input).then((message) =>
        kind === "unary"
          ? this.handler.invoke({ stream: false, method: this.handler.method, ctx: this.ctx, message })
          : this.handler.invoke({ stream: true, method: this.handler.method, ctx: this.ctx, message: once(message) }),
      );
    } else {
      started = this.handler.invoke({ stream: true, method: this.handler.method, ctx: this.ctx, message: this.guard(input) });
    }
    started.then(
      (res) => this.pump(res),
      (e) => this.fail(e),
    );
  }

  /** A request stream whose failures (bad framing, too large) also fail the call, not just the handler's loop. */
  private async *guard(input: AsyncIterable<Message>): AsyncGenerator<Message> {
    try {
      yield* input;
    } catch (e) {
      this.fail(e);
      throw e;
    }
  }

  private async pump(res: ServerResponse): Promise<void> {
    if (this.done) return;
    if (!res.stream) {
      try {
        await this.sendMessage(res.message);
      } catch (e) {
        return this.fail(e);
      }
      return this.end();
    }
    const it = res.message[Symbol.asyncIterator]();
    let completed = false;
    try {
      for (;;) {
        if (this.done) break;
        const r = await it.next();
        if (r.done) {
          completed = true;
          break;
        }
        if (this.done) break;
        await this.sendMessage(r.value);
      }
      if (completed) this.end();
    } catch (e) {
      completed = true;
      this.fail(e);
    } finally {
      if (!completed) it.return?.()?.catch(() => {});
    }
  }

  private end(): void {
    if (this.done) return;
    this.cleanup();
    if (this.res.destroyed) return;
    this.finish();
  }

  private cleanup(): void {
    this.done = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }

  /** Aborts the handler without answering (the client is gone). */
  private abort(err: RpcError): void {
    this.cleanup();
    this.ctx.abort(err);
  }

  /** Ends the call with `e`: RpcErrors as they are, anything else as INTERNAL "internal error". */
  fail(e: unknown): void {
    if (this.done) return;
    if (!(e instanceof RpcError) || e.code === Code.INTERNAL || e.code === Code.UNKNOWN) this.config.onHandlerError(e, this.ctx);
    const err = this.ctx.aborted && !(e instanceof RpcError) ? (this.ctx.reason as RpcError) : toWireError(e);
    this.abort(err);
    if (this.res.destroyed) return;
    this.sendError(err);
    // Stop reading whatever the client still sends, so the connection stays usable.
    if (!this.req.readableEnded) this.req.resume();
  }

  /** Writes with backpressure: resolves once the response drained (or closed). */
  protected write(chunk: Uint8Array): Promise<void> | void {
    // The http and http2-compat write signatures differ only in overloads.
    if ((this.res as { write(chunk: Uint8Array): boolean }).write(chunk)) return;
    return new Promise((resolve) => {
      const res = this.res;
      const done = () => {
        res.off("drain", done);
        res.off("close", done);
        resolve();
      };
      res.on("drain", done);
      res.on("close", done);
    });
  }

  /** Checks a response message against the send limit. */
  protected checkSend(bytes: Uint8Array): void {
    if (bytes.length > this.config.maxSend) {
      throw new RpcError(Code.RESOURCE_EXHAUSTED, `response message of ${bytes.length} bytes exceeds the limit of ${this.config.maxSend}`);
    }
  }
}

/** The one message of a unary / server-streaming request; zero or several is an error. */
async function single(input: AsyncIterable<Message>): Promise<Message> {
  let first: Message | undefined;
  let n = 0;
  for await (const m of input) {
    if (n++ > 0) throw new RpcError(Code.UNIMPLEMENTED, "protocol error: more than one request message for a unary request");
    first = m;
  }
  if (first === undefined) throw new RpcError(Code.UNIMPLEMENTED, "protocol error: missing request message");
  return first;
}

async function* once(m: Message): AsyncGenerator<Message> {
  yield m;
}

/** Encodes a response message with `codec`, as INTERNAL when the codec refuses it. @internal */
export function encodeMessage(codec: Codec, schema: DescMessage, message: Message): Uint8Array {
  try {
    return codec.encode(schema, message);
  } catch (e) {
    throw new RpcError(Code.INTERNAL, `cannot encode response: ${(e as Error).message}`, { cause: e });
  }
}
