/**
 * The @grpc/grpc-js side of the interop suite: a grpc-js server implementing
 * `petrel.testing.v1.TestService` with the semantics of Petrel's `createTestServiceImpl`, and a
 * grpc-js client for the same service with small promise helpers. Both load the service from the
 * .proto at run time with @grpc/proto-loader, the way grpc-js users do.
 *
 * Message shapes (proto-loader `keepCase: false, longs: String, bytes: Buffer, defaults: true`):
 * field names are lowerCamelCase like Petrel's (`failCode`, `deadlineMs`), int64 fields are decimal
 * strings (so 2^53+1 survives), bytes fields are Buffers.
 */
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

// ---------------------------------------------------------------------------------------------
// Schema

function protoRoot(): string {
  // Resolve through the package, so the suite follows @petrel/testing wherever it lives.
  try {
    return fileURLToPath(new URL("../proto", import.meta.resolve("@petrel/testing")));
  } catch {
    return fileURLToPath(new URL("../../packages/testing/proto", import.meta.url));
  }
}

export const TEST_PROTO_ROOT = protoRoot();
export const TEST_PROTO_FILE = "petrel/testing/v1/test.proto";
export const SERVICE_NAME = "petrel.testing.v1.TestService";

export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: String,
  enums: String,
  bytes: Buffer,
  defaults: true,
  includeDirs: [TEST_PROTO_ROOT],
};

export interface EchoRequest {
  text: string;
  failCode: number;
  failMessage: string;
  payload: Buffer;
  /** int64 as a decimal string. */
  seq: string;
}
export interface EchoResponse {
  text: string;
  count: number;
  payload: Buffer;
  seq: string;
  deadlineMs: string;
}
export interface SleepRequest {
  sleepMs: number;
}
export interface SleepResponse {
  cancelled: boolean;
}
export interface StreamRequest {
  text: string;
  count: number;
  intervalMs: number;
  failCode: number;
  payload: Buffer;
}

/** What callers may pass: every field optional, int64 as string, number or bigint-as-string. */
export type In<T> = { [K in keyof T]?: T[K] extends string ? string | number : T[K] extends Buffer ? Uint8Array : T[K] };

export type UnaryCallback<Res> = (err: grpc.ServiceError | null, res?: Res) => void;

/** The client proto-loader generates for TestService, typed. */
export interface TestServiceClient extends grpc.Client {
  Echo(req: In<EchoRequest>, md: grpc.Metadata, opts: grpc.CallOptions, cb: UnaryCallback<EchoResponse>): grpc.ClientUnaryCall;
  Sleep(req: In<SleepRequest>, md: grpc.Metadata, opts: grpc.CallOptions, cb: UnaryCallback<SleepResponse>): grpc.ClientUnaryCall;
  ServerStream(req: In<StreamRequest>, md?: grpc.Metadata, opts?: grpc.CallOptions): grpc.ClientReadableStream<EchoResponse>;
  ClientStream(md: grpc.Metadata, opts: grpc.CallOptions, cb: UnaryCallback<EchoResponse>): grpc.ClientWritableStream<In<EchoRequest>>;
  Bidi(md?: grpc.Metadata, opts?: grpc.CallOptions): grpc.ClientDuplexStream<In<EchoRequest>, EchoResponse>;
}

let cachedDefinition: protoLoader.PackageDefinition | undefined;

export function loadTestServiceDefinition(): protoLoader.PackageDefinition {
  cachedDefinition ??= protoLoader.loadSync(TEST_PROTO_FILE, LOADER_OPTIONS);
  return cachedDefinition;
}

export function loadTestService(): grpc.ServiceClientConstructor {
  const pkg = grpc.loadPackageDefinition(loadTestServiceDefinition()) as unknown as {
    petrel: { testing: { v1: { TestService: grpc.ServiceClientConstructor } } };
  };
  return pkg.petrel.testing.v1.TestService;
}

// ---------------------------------------------------------------------------------------------
// Server

/** What the grpc-js server saw, for tests to observe. */
export interface PeerProbe {
  /** Calls whose handler got the 'cancelled' event (client reset or connection loss), by method name. */
  cancelled: string[];
  /** Calls whose handler stopped because their deadline passed, by method name. */
  deadlineExpired: string[];
  /** The last request metadata seen by any method (binary values base64). */
  lastMetadata: Record<string, string>;
}

export function newPeerProbe(): PeerProbe {
  return { cancelled: [], deadlineExpired: [], lastMetadata: {} };
}

export interface GrpcJsPeerServer {
  server: grpc.Server;
  port: number;
  address: string;
  probe: PeerProbe;
  /** forceShutdown and clear the handlers' timers. */
  close(): void;
}

function metadataToRecord(md: grpc.Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, vs] of Object.entries(md.getMap())) {
    out[k] = Buffer.isBuffer(vs) ? vs.toString("base64") : String(vs);
  }
  return out;
}

/** Remaining deadline in ms, or undefined without one (grpc-js reports Infinity). */
function remainingMs(deadline: grpc.Deadline): number | undefined {
  const t = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(t) ? t - Date.now() : undefined;
}

interface HasMetadata {
  metadata: grpc.Metadata;
  sendMetadata(md: grpc.Metadata): void;
}

/** Mirrors Petrel's echoHeaders: x-echo -> header x-echo + trailer x-echo-trailer; x-echo-bin -> trailer x-echo-bin. */
function echoHeaders(call: HasMetadata): grpc.Metadata {
  const trailer = new grpc.Metadata();
  const v = call.metadata.get("x-echo")[0];
  if (typeof v === "string") {
    // Like Petrel, headers go out early only when there are some; otherwise a failure before the
    // first message is a Trailers-Only response (status and trailers in the one HEADERS frame).
    const header = new grpc.Metadata();
    header.set("x-echo", v);
    call.sendMetadata(header);
    trailer.set("x-echo-trailer", v);
  }
  const b = call.metadata.get("x-echo-bin")[0];
  if (Buffer.isBuffer(b)) trailer.set("x-echo-bin", b);
  return trailer;
}

/** Petrel's failIfAsked: a status with x-fail: yes (plus the echo trailers, as Petrel sends both). */
function failure(code: number, message: string, trailer: grpc.Metadata): grpc.ServiceError {
  const md = trailer.clone();
  md.set("x-fail", "yes");
  return Object.assign(new Error(message), { code, details: message, metadata: md });
}

class Timers {
  private readonly all = new Set<ReturnType<typeof setTimeout>>();
  set(fn: () => void, ms: number): ReturnType<typeof setTimeout> {
    const t = setTimeout(() => {
      this.all.delete(t);
      fn();
    }, ms);
    this.all.add(t);
    return t;
  }
  clear(t: ReturnType<typeof setTimeout> | undefined): void {
    if (t === undefined) return;
    clearTimeout(t);
    this.all.delete(t);
  }
  clearAll(): void {
    for (const t of this.all) clearTimeout(t);
    this.all.clear();
  }
}

type Outcome = "done" | "cancelled" | "deadline";

/**
 * Waits `ms`, or until the call is cancelled ('cancelled' event) or its deadline passes — the
 * three ways Petrel's `ctx.signal`-aware sleep ends.
 */
function sleepOnCall(
  call: {
    cancelled: boolean;
    getDeadline(): grpc.Deadline;
    once(e: "cancelled", l: () => void): unknown;
    off(e: "cancelled", l: () => void): unknown;
  },
  ms: number,
  timers: Timers,
): Promise<Outcome> {
  return new Promise((resolve) => {
    if (call.cancelled) return resolve("cancelled");
    const left = remainingMs(call.getDeadline());
    let t1: ReturnType<typeof setTimeout> | undefined;
    let t2: ReturnType<typeof setTimeout> | undefined;
    const finish = (o: Outcome) => {
      timers.clear(t1);
      timers.clear(t2);
      call.off("cancelled", onCancel);
      resolve(o);
    };
    const onCancel = () => finish("cancelled");
    call.once("cancelled", onCancel);
    t1 = timers.set(() => finish("done"), ms);
    if (left !== undefined && left < ms) t2 = timers.set(() => finish("deadline"), Math.max(0, left));
  });
}

function record(probe: PeerProbe, method: string, o: Outcome): void {
  if (o === "cancelled") probe.cancelled.push(method);
  else if (o === "deadline") probe.deadlineExpired.push(method);
}

/** The TestService handlers, with `createTestServiceImpl`'s semantics. */
export function createTestServiceHandlers(probe: PeerProbe, timers: Timers = new Timers()): grpc.UntypedServiceImplementation {
  return {
    Echo(call: grpc.ServerUnaryCall<EchoRequest, EchoResponse>, cb: grpc.sendUnaryData<EchoResponse>) {
      probe.lastMetadata = metadataToRecord(call.metadata);
      const trailer = echoHeaders(call);
      const req = call.request;
      if (req.text === "throw-plain-error") {
        // Petrel never leaks a plain Error's message: INTERNAL with a fixed text.
        return cb({ code: grpc.status.INTERNAL, details: "internal error", metadata: trailer } as grpc.ServiceError, null, trailer);
      }
      if (req.failCode !== 0) return cb(failure(req.failCode, req.failMessage, trailer));
      const left = remainingMs(call.getDeadline());
      cb(
        null,
        { text: req.text, payload: req.payload, seq: req.seq, count: 0, deadlineMs: left === undefined ? "-1" : String(Math.trunc(left)) },
        trailer,
      );
    },

    Sleep(call: grpc.ServerUnaryCall<SleepRequest, SleepResponse>, cb: grpc.sendUnaryData<SleepResponse>) {
      probe.lastMetadata = metadataToRecord(call.metadata);
      void sleepOnCall(call, call.request.sleepMs, timers).then((o) => {
        record(probe, "Sleep", o);
        cb(null, { cancelled: o !== "done" });
      });
    },

    ServerStream(call: grpc.ServerWritableStream<StreamRequest, EchoResponse>) {
      probe.lastMetadata = metadataToRecord(call.metadata);
      call.on("error", () => {});
      const trailer = echoHeaders(call);
      const req = call.request;
      void (async () => {
        for (let i = 0; i < req.count; i++) {
          if (req.intervalMs > 0) {
            const o = await sleepOnCall(call, req.intervalMs, timers);
            if (o !== "done") return record(probe, "ServerStream", o);
          }
          if (call.cancelled) return record(probe, "ServerStream", "cancelled");
          const more = call.write({ text: req.text, count: i, payload: req.payload, seq: "0", deadlineMs: "0" });
          if (!more)
            await new Promise<void>((resolve) => {
              const go = () => {
                call.off("drain", go);
                call.off("cancelled", go);
                resolve();
              };
              call.on("drain", go);
              call.on("cancelled", go);
            });
        }
        if (call.cancelled) return record(probe, "ServerStream", "cancelled");
        if (req.failCode !== 0) {
          const md = trailer.clone();
          call.emit("error", { code: req.failCode, details: "stream failed on purpose", metadata: md });
          return;
        }
        call.end(trailer);
      })();
    },

    ClientStream(call: grpc.ServerReadableStream<EchoRequest, EchoResponse>, cb: grpc.sendUnaryData<EchoResponse>) {
      probe.lastMetadata = metadataToRecord(call.metadata);
      const trailer = echoHeaders(call);
      let text = "";
      let count = 0;
      let done = false;
      call.on("data", (r: EchoRequest) => {
        if (done) return;
        if (r.failCode !== 0) {
          done = true;
          cb(failure(r.failCode, r.failMessage, trailer));
          return;
        }
        text += r.text;
        count++;
      });
      call.on("end", () => {
        if (done) return;
        done = true;
        cb(null, { text, count, payload: Buffer.alloc(0), seq: "0", deadlineMs: "0" }, trailer);
      });
      call.on("cancelled", () => {
        // grpc-js may also emit 'cancelled' once a finished call's stream closes: count only live calls.
        if (done) return;
        done = true;
        probe.cancelled.push("ClientStream");
      });
      call.on("error", () => {});
    },

    Bidi(call: grpc.ServerDuplexStream<EchoRequest, EchoResponse>) {
      probe.lastMetadata = metadataToRecord(call.metadata);
      const trailer = echoHeaders(call);
      let count = 0;
      let done = false;
      call.on("data", (r: EchoRequest) => {
        if (done) return;
        if (r.failCode !== 0) {
          done = true;
          call.emit("error", failure(r.failCode, r.failMessage, trailer));
          return;
        }
        call.write({ text: r.text, count: count++, seq: r.seq, payload: Buffer.alloc(0), deadlineMs: "0" });
      });
      call.on("end", () => {
        if (done) return;
        done = true;
        call.end(trailer);
      });
      call.on("cancelled", () => {
        // grpc-js may also emit 'cancelled' once a finished call's stream closes: count only live calls.
        if (done) return;
        done = true;
        probe.cancelled.push("Bidi");
      });
      call.on("error", () => {});
    },
  };
}

/**
 * Starts a grpc-js server for TestService on `host:0` (h2c). `options` are grpc-js channel
 * options, e.g. `{ "grpc.max_receive_message_length": 8 << 20 }`.
 */
export async function startGrpcJsServer(options: grpc.ServerOptions = {}, host = "127.0.0.1"): Promise<GrpcJsPeerServer> {
  const probe = newPeerProbe();
  const timers = new Timers();
  const server = new grpc.Server(options);
  server.addService(loadTestService().service, createTestServiceHandlers(probe, timers));
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:0`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    server,
    port,
    address: `${host}:${port}`,
    probe,
    close() {
      server.forceShutdown();
      timers.clearAll();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Client

/** A grpc-js client for TestService at `host:port` (insecure). Close it with `client.close()`. */
export function createGrpcJsClient(address: string, options: grpc.ClientOptions = {}): TestServiceClient {
  const Ctor = loadTestService();
  return new Ctor(address, grpc.credentials.createInsecure(), options) as unknown as TestServiceClient;
}

/** A plain grpc-js client (no service): for calling paths the service does not have. */
export function createGenericGrpcJsClient(address: string, options: grpc.ClientOptions = {}): grpc.Client {
  return new grpc.Client(address, grpc.credentials.createInsecure(), options);
}

/** The outcome of a finished unary or client-streaming call, as grpc-js reports it. */
export interface UnaryOutcome<Res> {
  response?: Res;
  error?: grpc.ServiceError;
  /** Response headers ('metadata' event), if any arrived. */
  header?: grpc.Metadata;
  /** The final status, including trailers. */
  status: grpc.StatusObject;
}

/**
 * Runs a callback-style call and collects response, error, headers and status. `start` gets the
 * callback to pass to grpc-js and returns the call object (which `onCall` sees, e.g. to cancel it).
 */
export function collectUnary<Res>(
  start: (cb: UnaryCallback<Res>) => grpc.ClientUnaryCall | grpc.ClientWritableStream<unknown>,
  onCall?: (call: grpc.ClientUnaryCall | grpc.ClientWritableStream<unknown>) => void,
): Promise<UnaryOutcome<Res>> {
  return new Promise((resolve) => {
    let header: grpc.Metadata | undefined;
    let status: grpc.StatusObject | undefined;
    let settled: { response?: Res; error?: grpc.ServiceError } | undefined;
    const maybeDone = () => {
      if (status !== undefined && settled !== undefined) resolve({ ...settled, header, status });
    };
    const call = start((err, res) => {
      settled = err ? { error: err } : { response: res };
      maybeDone();
    });
    call.on("metadata", (md: grpc.Metadata) => {
      header = md;
    });
    call.on("status", (s: grpc.StatusObject) => {
      status = s;
      maybeDone();
    });
    onCall?.(call);
  });
}

/** Reads a server stream to its end; resolves with the messages and the final status (never rejects). */
export function collectStream<Res>(
  call: grpc.ClientReadableStream<Res> | grpc.ClientDuplexStream<unknown, Res>,
): Promise<{ messages: Res[]; header?: grpc.Metadata; status: grpc.StatusObject; error?: grpc.ServiceError }> {
  return new Promise((resolve) => {
    const messages: Res[] = [];
    let header: grpc.Metadata | undefined;
    let error: grpc.ServiceError | undefined;
    let status: grpc.StatusObject | undefined;
    let ended = false;
    const maybeDone = () => {
      // grpc-js emits 'status' after 'end' on success and after 'error' on failure.
      if (status !== undefined && (ended || error !== undefined)) resolve({ messages, header, status, error });
    };
    call.on("metadata", (md: grpc.Metadata) => {
      header = md;
    });
    call.on("data", (m: Res) => messages.push(m));
    call.on("error", (e: grpc.ServiceError) => {
      error = e;
      maybeDone();
    });
    call.on("end", () => {
      ended = true;
      maybeDone();
    });
    call.on("status", (s: grpc.StatusObject) => {
      status = s;
      maybeDone();
    });
  });
}

/** grpc-js call options with a deadline `ms` from now. */
export function deadlineIn(ms: number): grpc.CallOptions {
  return { deadline: Date.now() + ms };
}

/** Identity (de)serializers for raw calls with `grpc.Client#makeUnaryRequest`. */
export const rawBytes = {
  serialize: (b: Buffer): Buffer => b,
  deserialize: (b: Buffer): Buffer => b,
};
