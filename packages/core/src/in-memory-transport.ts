import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { AsyncQueue } from "./async-queue.js";
import { Code } from "./code.js";
import type { Codec } from "./codec.js";
import { ServerContext } from "./handler-context.js";
import { Metadata } from "./metadata.js";
import type { Router } from "./router.js";
import { RpcError, toWireError } from "./rpc-error.js";
import type { StreamRequest, StreamResponse, Transport, UnaryRequest, UnaryResponse } from "./transport.js";

/** Options of `createInMemoryTransport`. */
export interface InMemoryTransportOptions {
  /** Default codec name. Default `proto`. Every message is encoded and decoded, as on a wire. */
  codec?: string;
}

/**
 * A transport that calls a router in the same process, with real serialization, deadlines,
 * cancellation, headers and trailers, for fast tests of the core (connect-es's
 * `createRouterTransport` plays the same role).
 */
export function createInMemoryTransport(router: Router, options: InMemoryTransportOptions = {}): Transport {
  const defaultCodec = options.codec ?? "proto";

  function prepare(req: UnaryRequest | StreamRequest) {
    const handler = router.lookup(req.path);
    if (handler === undefined) {
      const service = req.path.split("/")[1] ?? "";
      throw new RpcError(Code.UNIMPLEMENTED, router.hasService(service) ? `unknown method ${req.path}` : `unknown service ${service}`);
    }
    const codec = router.codecs.get(req.codec ?? defaultCodec);
    if (codec === undefined) throw new RpcError(Code.UNIMPLEMENTED, `unsupported codec "${req.codec}"`);
    if (req.signal?.aborted) throw new RpcError(Code.CANCELLED, "call cancelled before start");
    if (req.deadline !== undefined && req.deadline <= Date.now())
      throw new RpcError(Code.DEADLINE_EXCEEDED, "deadline exceeded before start");
    const ctx = new ServerContext(handler.service, handler.method, new Metadata(req.header), req.deadline, {
      address: "in-memory",
      protocol: "in-memory",
    });
    return { handler, codec, ctx, guard: new CallGuard(ctx, req.deadline, req.signal) };
  }

  return {
    unary<I extends DescMessage, O extends DescMessage>(req: UnaryRequest<I>): Promise<UnaryResponse<O>> {
      let p: ReturnType<typeof prepare>;
      try {
        p = prepare(req);
      } catch (e) {
        return Promise.reject(e);
      }
      const { handler, codec, ctx, guard } = p;
      const method = handler.method;
      const run = async (): Promise<UnaryResponse<O>> => {
        const message = roundTrip(codec, method.input, req.message, Code.INTERNAL);
        try {
          const res = await guard.race(handler.invoke({ stream: false, method, ctx, message }));
          if (res.stream) throw new RpcError(Code.INTERNAL, "handler returned a stream for a unary method");
          return {
            stream: false,
            service: handler.service,
            method,
            header: ctx.peekResponseHeader() ?? new Metadata(),
            trailer: ctx.peekResponseTrailer() ?? new Metadata(),
            message: roundTrip(codec, method.output, res.message, Code.INTERNAL) as MessageShape<O>,
          };
        } catch (e) {
          throw errorWithTrailers(e, ctx);
        } finally {
          guard.dispose();
        }
      };
      return run();
    },

    async stream<I extends DescMessage, O extends DescMessage>(req: StreamRequest<I>): Promise<StreamResponse<O>> {
      const { handler, codec, ctx, guard } = prepare(req);
      const method = handler.method;
      const input = new AsyncQueue<MessageShape<DescMessage>>();
      void (async () => {
        try {
          for await (const m of req.message) {
            if (ctx.aborted) return;
            input.push(roundTrip(codec, method.input, m, Code.INTERNAL));
          }
          input.end();
        } catch (e) {
          const err = RpcError.from(e, Code.CANCELLED);
          input.fail(err);
          ctx.abort(err);
        }
      })();
      let res: Awaited<ReturnType<typeof handler.invoke>>;
      try {
        res = await guard.race(handler.invoke({ stream: true, method, ctx, message: input }));
      } catch (e) {
        guard.dispose();
        throw errorWithTrailers(e, ctx);
      }
      if (!res.stream) {
        guard.dispose();
        throw new RpcError(Code.INTERNAL, "handler returned one message for a streaming method");
      }
      const trailer = new Metadata();
      const out = res.message;
      async function* read(): AsyncGenerator<MessageShape<O>> {
        const it = out[Symbol.asyncIterator]();
        try {
          for (;;) {
            const r = await guard.race(it.next());
            if (r.done) break;
            yield roundTrip(codec, method.output, r.value, Code.INTERNAL) as MessageShape<O>;
          }
          const t = ctx.peekResponseTrailer();
          if (t !== undefined) trailer.merge(t);
        } catch (e) {
          throw errorWithTrailers(e, ctx);
        } finally {
          // The consumer stopped early: that is a cancellation for the handler.
          if (!ctx.aborted) ctx.abort(new RpcError(Code.CANCELLED, "client stopped reading"));
          guard.dispose();
          void it.return?.()?.catch(() => {});
        }
      }
      return { stream: true, service: handler.service, method, header: ctx.responseHeader, trailer, message: read() };
    },
  };
}

function roundTrip(codec: Codec, schema: DescMessage, message: MessageShape<DescMessage>, code: Code): MessageShape<DescMessage> {
  try {
    return codec.decode(schema, codec.encode(schema, message));
  } catch (e) {
    throw new RpcError(code, `cannot serialize ${schema.typeName}: ${String((e as Error).message ?? e)}`);
  }
}

function errorWithTrailers(e: unknown, ctx: ServerContext): RpcError {
  const err = ctx.aborted && !(e instanceof RpcError) ? (ctx.reason as RpcError) : toWireError(e);
  const metadata = new Metadata(err.metadata);
  const t = ctx.peekResponseTrailer();
  if (t !== undefined) metadata.merge(t);
  return new RpcError(err.code, err.rawMessage, { details: err.details, metadata });
}

/** Aborts the server context and fails client-side waits on deadline or client cancellation. */
class CallGuard {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly aborted: Promise<never>;
  private fail!: (e: RpcError) => void;
  private readonly onAbort = () => this.trip(new RpcError(Code.CANCELLED, "call cancelled"));

  constructor(
    private readonly ctx: ServerContext,
    deadline: number | undefined,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.aborted = new Promise<never>((_, reject) => {
      this.fail = reject;
    });
    this.aborted.catch(() => {});
    // setTimeout turns delays over 2^31-1 ms into 1 ms: a deadline that far out counts as none.
    if (deadline !== undefined && deadline - Date.now() <= 0x7fff_ffff) {
      this.timer = setTimeout(
        () => this.trip(new RpcError(Code.DEADLINE_EXCEEDED, "deadline exceeded")),
        Math.max(0, deadline - Date.now()),
      );
    }
    signal?.addEventListener("abort", this.onAbort);
  }

  private trip(err: RpcError): void {
    this.ctx.abort(err);
    this.fail(err);
  }

  race<T>(p: Promise<T>): Promise<T> {
    return Promise.race([p, this.aborted]);
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.signal?.removeEventListener("abort", this.onAbort);
  }
}
