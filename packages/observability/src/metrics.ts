// Prometheus metrics for RPCs, after OpenTelemetry's RPC semantic conventions, as a server and a
// client interceptor. Names and labels: see METRIC_NAMES and the package README table.
import type { IncomingMessage, ServerResponse as Http1Response } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import {
  Code,
  protoBinaryCodec,
  RpcError,
  type AnyFn,
  type AnyRequest,
  type Interceptor,
  type ServerFn,
  type ServerInterceptor,
  type ServerRequest,
  type ServerUnaryRequest,
} from "@petrel/core";
import { Gauge, Histogram, Registry } from "prom-client";
import { METRIC_NAMES, type ObserveAdapters, createObserveAdapters } from "./metrics-adapters.js";
import { rpcSystemOf, statusLabels } from "./metrics-labels.js";

/**
 * Duration buckets in seconds: OpenTelemetry's advice for `rpc.*.call.duration`
 * (0.005 s .. 10 s), which also matches prom-client's defaults.
 */
export const DEFAULT_DURATION_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
/** Messages-per-RPC buckets: 1 (unary) and powers of two up to 4096. */
export const DEFAULT_COUNT_BUCKETS: readonly number[] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096];
/** Message size buckets in bytes: powers of four from 16 B to 4 MiB (gRPC's default receive limit). */
export const DEFAULT_SIZE_BUCKETS: readonly number[] = [16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304];

/** An HTTP handler in the shape of `@petrel/node`'s `HttpHandler`: true when it took the request. */
export type MetricsHttpHandler = (req: IncomingMessage | Http2ServerRequest, res: Http1Response | Http2ServerResponse) => boolean;

/** Options of {@link createMetrics}. */
export interface MetricsOptions {
  /** Where the metrics are registered. Default: a new `Registry` (not prom-client's global one). */
  registry?: Registry;
  /** Buckets of the duration histograms, in seconds. Default {@link DEFAULT_DURATION_BUCKETS}. */
  durationBuckets?: readonly number[];
  /**
   * Also record request/response message sizes (`rpc_*_request_size_bytes`, `…_response_size_bytes`).
   * Interceptors see message objects, not wire bytes, so each message is encoded once more with the
   * protobuf binary codec to measure it: the size is the protobuf payload before compression and
   * framing, whatever the protocol (JSON-RPC and REST send JSON of a different length). That extra
   * encode costs about as much as the real one, hence off by default. Default false.
   */
  messageSizes?: boolean;
  /**
   * `rpc_system` of the client metrics: a client interceptor does not see which protocol its
   * transport speaks. Use {@link Metrics.clientInterceptorFor} for clients of other protocols.
   * Default `petrel`.
   */
  clientSystem?: string;
  /** Path the handler answers on. Default `/metrics`. */
  path?: string;
}

/** What {@link createMetrics} returns. */
export interface Metrics extends ObserveAdapters {
  /** Records every call a router serves (put it first in `createRouter({ interceptors })` to time everything). */
  readonly serverInterceptor: ServerInterceptor;
  /** Records every call a client makes, with `rpc_system` = `clientSystem`. */
  readonly clientInterceptor: Interceptor;
  /** A client interceptor for a transport of another protocol (`grpc`, `jsonrpc`, …). */
  clientInterceptorFor(system: string): Interceptor;
  readonly registry: Registry;
  /** Serves `GET`/`HEAD <path>` in the Prometheus text format; false for every other path. */
  readonly handler: MetricsHttpHandler;
}

/**
 * Creates the RPC metrics and the `/metrics` handler.
 *
 * ```ts
 * const metrics = createMetrics();
 * const router = createRouter({ interceptors: [metrics.serverInterceptor] });
 * createPetrelServer({ router, http: [metrics.handler, …] });
 * ```
 */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = options.registry ?? new Registry();
  const path = options.path ?? "/metrics";
  if (!path.startsWith("/")) throw new TypeError(`createMetrics: path must start with "/", got "${path}"`);
  const durationBuckets = [...(options.durationBuckets ?? DEFAULT_DURATION_BUCKETS)];
  const server = sideInstruments(registry, "server", durationBuckets, options.messageSizes === true);
  const client = sideInstruments(registry, "client", durationBuckets, options.messageSizes === true);
  const clientInterceptorFor = (system: string): Interceptor => clientMetricsInterceptor(client, rpcSystemOf(system));
  const handler: MetricsHttpHandler = (req, res) => {
    const url = req.url ?? "";
    const q = url.indexOf("?");
    if ((q < 0 ? url : url.slice(0, q)) !== path) return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-length": 0 });
      res.end();
      return true;
    }
    registry.metrics().then(
      (body) => {
        res.writeHead(200, { "content-type": registry.contentType, "content-length": Buffer.byteLength(body) });
        if (req.method === "HEAD") res.end();
        else res.end(body);
      },
      (e: unknown) => {
        // A failing collect() callback: say so without a stack trace.
        const body = `collecting metrics failed: ${e instanceof Error ? e.message : String(e)}\n`;
        res.writeHead(500, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body) });
        res.end(body);
      },
    );
    return true;
  };
  return {
    serverInterceptor: (next) => serverMetricsFn(server, next),
    clientInterceptor: clientInterceptorFor(options.clientSystem ?? "petrel"),
    clientInterceptorFor,
    registry,
    handler,
    ...createObserveAdapters(registry),
  };
}

type Side = "server" | "client";
// Descriptor and message types through @petrel/core's, so this package needs no direct
// dependency on @bufbuild/protobuf.
type DescMethod = ServerUnaryRequest["method"];
type DescMessage = DescMethod["input"];
type Msg = ServerUnaryRequest["message"];
type Child = { observe(v: number): void };

/** One side's instruments plus a cache of label children per (system, method). */
interface SideInstruments {
  readonly duration: Histogram<string>;
  readonly requests: Histogram<string>;
  readonly responses: Histogram<string>;
  readonly requestSize: Histogram<string> | undefined;
  readonly responseSize: Histogram<string> | undefined;
  /** Every method's children, for the in-flight gauge's collect(). */
  readonly all: MethodInstruments[];
  /** Label children by method descriptor, then rpc_system: no key string built per call. */
  readonly methods: WeakMap<DescMethod, Map<string, MethodInstruments>>;
}

/** The children of one (system, service, method); durations per status code, made on first use. */
interface MethodInstruments {
  readonly labels: readonly [string, string, string];
  readonly durations: (Child | undefined)[];
  readonly requests: Child;
  readonly responses: Child;
  readonly requestSize: Child | undefined;
  readonly responseSize: Child | undefined;
  /** Calls in flight; a plain number read at scrape time (a gauge child hashes its labels on every inc/dec). */
  active: number;
  readonly input: DescMessage;
  readonly output: DescMessage;
}

const CALL_LABELS = ["rpc_system", "rpc_service", "rpc_method"] as const;
const STATUS_LABELS = [...CALL_LABELS, "rpc_grpc_status_code", "rpc_status"] as const;

function sideInstruments(registry: Registry, side: Side, durationBuckets: number[], sizes: boolean): SideInstruments {
  const all: MethodInstruments[] = [];
  new Gauge({
    name: METRIC_NAMES[side].active,
    help: `${side} RPCs in flight (one per HTTP/2 or petrel/1 stream)`,
    labelNames: [...CALL_LABELS],
    registers: [registry],
    collect() {
      for (const m of all) this.set({ rpc_system: m.labels[0], rpc_service: m.labels[1], rpc_method: m.labels[2] }, m.active);
    },
  });
  const n = METRIC_NAMES[side];
  const histogram = (name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) =>
    new Histogram({ name, help, labelNames: [...labelNames], buckets: [...buckets], registers: [registry] });
  // OTel: on the server, "requests" are messages received and "responses" messages sent; on the
  // client the other way round.
  const [reqVerb, resVerb] = side === "server" ? ["received", "sent"] : ["sent", "received"];
  return {
    duration: histogram(
      n.duration,
      `Duration of ${side} RPCs in seconds (OpenTelemetry rpc.${side}.duration)`,
      STATUS_LABELS,
      durationBuckets,
    ),
    requests: histogram(
      n.requestsPerRpc,
      `Request messages ${reqVerb} per ${side} RPC (rpc.${side}.requests_per_rpc)`,
      CALL_LABELS,
      DEFAULT_COUNT_BUCKETS,
    ),
    responses: histogram(
      n.responsesPerRpc,
      `Response messages ${resVerb} per ${side} RPC (rpc.${side}.responses_per_rpc)`,
      CALL_LABELS,
      DEFAULT_COUNT_BUCKETS,
    ),
    requestSize: sizes
      ? histogram(
          n.requestSize,
          `Protobuf-encoded size of ${side} request messages in bytes (rpc.${side}.request.size)`,
          CALL_LABELS,
          DEFAULT_SIZE_BUCKETS,
        )
      : undefined,
    responseSize: sizes
      ? histogram(
          n.responseSize,
          `Protobuf-encoded size of ${side} response messages in bytes (rpc.${side}.response.size)`,
          CALL_LABELS,
          DEFAULT_SIZE_BUCKETS,
        )
      : undefined,
    all,
    methods: new WeakMap(),
  };
}

function methodInstruments(s: SideInstruments, system: string, method: DescMethod): MethodInstruments {
  let bySystem = s.methods.get(method);
  if (bySystem === undefined) {
    bySystem = new Map();
    s.methods.set(method, bySystem);
  }
  let m = bySystem.get(system);
  if (m === undefined) {
    const labels = [system, method.parent.typeName, method.name] as const;
    m = {
      labels,
      durations: [],
      requests: s.requests.labels(...labels),
      responses: s.responses.labels(...labels),
      requestSize: s.requestSize?.labels(...labels),
      responseSize: s.responseSize?.labels(...labels),
      active: 0,
      input: method.input,
      output: method.output,
    };
    bySystem.set(system, m);
    s.all.push(m);
  }
  return m;
}

/** One call being measured: a class, so a call costs one object rather than a set of closures. */
class CallRecord {
  private readonly t0 = performance.now();
  private ended = false;
  requests = 0;
  responses = 0;

  constructor(
    private readonly s: SideInstruments,
    private readonly m: MethodInstruments,
  ) {
    m.active++;
  }

  request(message: Msg): void {
    this.requests++;
    if (this.m.requestSize !== undefined) this.m.requestSize.observe(encodedSize(this.m.input, message));
  }

  response(message: Msg): void {
    this.responses++;
    if (this.m.responseSize !== undefined) this.m.responseSize.observe(encodedSize(this.m.output, message));
  }

  end(code: number): void {
    if (this.ended) return;
    this.ended = true;
    const m = this.m;
    m.active--;
    m.requests.observe(this.requests);
    m.responses.observe(this.responses);
    let d = m.durations[code];
    if (d === undefined) {
      const st = statusLabels(code);
      d = this.s.duration.labels(...m.labels, st.num, st.name);
      m.durations[code] = d;
    }
    d.observe((performance.now() - this.t0) / 1000);
  }
}

function encodedSize(schema: DescMessage, message: Msg): number {
  try {
    return protoBinaryCodec.encode(schema, message).length;
  } catch {
    return 0; // the protocol reports the encoding failure; the metric must not throw
  }
}

function codeOf(e: unknown): number {
  return RpcError.from(e).code;
}

async function* countRequests(call: CallRecord, it: AsyncIterable<Msg>): AsyncGenerator<Msg> {
  for await (const m of it) {
    call.request(m);
    yield m;
  }
}

/** Counts response messages; the call ends with the stream (CANCELLED when the reader stops early). */
async function* countResponses(call: CallRecord, it: AsyncIterable<Msg>): AsyncGenerator<Msg> {
  let code: number = Code.CANCELLED;
  try {
    for await (const m of it) {
      call.response(m);
      yield m;
    }
    code = Code.OK;
  } catch (e) {
    code = codeOf(e);
    throw e;
  } finally {
    call.end(code);
  }
}

function serverMetricsFn(s: SideInstruments, next: ServerFn): ServerFn {
  return async (req: ServerRequest) => {
    const call = new CallRecord(s, methodInstruments(s, rpcSystemOf(req.ctx.peer.protocol), req.method));
    if (req.stream) req.message = countRequests(call, req.message);
    else call.request(req.message);
    let res: Awaited<ReturnType<ServerFn>>;
    try {
      res = await next(req);
    } catch (e) {
      call.end(codeOf(e));
      throw e;
    }
    if (res.stream) res.message = countResponses(call, res.message);
    else {
      call.response(res.message);
      call.end(Code.OK);
    }
    return res;
  };
}

function clientMetricsInterceptor(s: SideInstruments, system: string): Interceptor {
  return (next: AnyFn) => async (req: AnyRequest) => {
    const call = new CallRecord(s, methodInstruments(s, system, req.method));
    if (req.stream) req.message = countRequests(call, req.message);
    else call.request(req.message);
    let res: Awaited<ReturnType<AnyFn>>;
    try {
      res = await next(req);
    } catch (e) {
      call.end(codeOf(e));
      throw e;
    }
    if (res.stream) res.message = countResponses(call, res.message);
    else {
      call.response(res.message);
      call.end(Code.OK);
    }
    return res;
  };
}
