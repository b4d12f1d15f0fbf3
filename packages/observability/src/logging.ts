// Structured access logs with pino: one line per call, as a server and a client interceptor.
import {
  Code,
  codeName,
  RpcError,
  type AnyFn,
  type AnyRequest,
  type Interceptor,
  type Metadata,
  type ServerFn,
  type ServerInterceptor,
  type ServerRequest,
  type ServerUnaryRequest,
} from "@petrel/core";
import { type Level, type Logger, pino } from "pino";
import { createHeaderRedactor, DEFAULT_REDACTED_HEADERS, REDACTED, type HeaderRedactor } from "./logging-redact.js";
import { rpcSystemOf } from "./metrics-labels.js";

/** Options of {@link createAccessLog}. */
export interface AccessLogOptions {
  /** Where lines go. Default `pino()` (JSON lines on stdout). */
  logger?: Logger;
  /**
   * Request headers whose values are replaced by `[REDACTED]`: names (case-insensitive), `*` globs,
   * RegExps on the lower-case name. Replaces the default list; extend it with
   * `[...DEFAULT_REDACTED_HEADERS, "x-session"]`. Values of redacted headers are also cut out of
   * logged error messages. Default {@link DEFAULT_REDACTED_HEADERS}.
   */
  redact?: readonly (string | RegExp)[];
  /** Log the request headers (redacted) as `headers`. Default true. */
  headers?: boolean;
  /** Header carrying a request id, logged as `requestId` when present. Default `x-request-id`. */
  requestIdHeader?: string;
  /** Level of a line by status code. Default {@link defaultAccessLogLevel}. */
  level?: (code: number) => Level;
  /** The message of each line. Default `rpc`. */
  message?: string;
}

/** What {@link createAccessLog} returns. */
export interface AccessLog {
  /** Logs every call a router serves, when it ends (for streams: when the response stream ends). */
  readonly serverInterceptor: ServerInterceptor;
  /** Logs every call a client makes. */
  readonly clientInterceptor: Interceptor;
  readonly logger: Logger;
}

/**
 * `info` for OK and for errors that are the caller's business (INVALID_ARGUMENT, NOT_FOUND, …),
 * `warn` for overload and timeouts (DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, UNAVAILABLE), `error`
 * for server faults (UNKNOWN, INTERNAL, DATA_LOSS).
 */
export function defaultAccessLogLevel(code: number): Level {
  switch (code) {
    case Code.UNKNOWN:
    case Code.INTERNAL:
    case Code.DATA_LOSS:
      return "error";
    case Code.DEADLINE_EXCEEDED:
    case Code.RESOURCE_EXHAUSTED:
    case Code.UNAVAILABLE:
      return "warn";
    default:
      return "info";
  }
}

/**
 * Creates access-log interceptors. A line has `kind` (`server`/`client`), `service`, `method`,
 * `code` (number), `status` (name), `durationMs`, and on the server `protocol`, `system` (the
 * metrics' `rpc_system`) and `peer`; `requestId` when the request has one, `headers` (redacted),
 * and `error` (the status message, secrets cut out) when the call failed.
 */
export function createAccessLog(options: AccessLogOptions = {}): AccessLog {
  const logger = options.logger ?? pino();
  const redactor = createHeaderRedactor(options.redact ?? DEFAULT_REDACTED_HEADERS);
  const cfg: LogConfig = {
    logger,
    redactor,
    headers: options.headers !== false,
    requestIdHeader: (options.requestIdHeader ?? "x-request-id").toLowerCase(),
    level: options.level ?? defaultAccessLogLevel,
    message: options.message ?? "rpc",
  };
  return {
    logger,
    serverInterceptor: (next: ServerFn) => (req: ServerRequest) => {
      const peer = req.ctx.peer;
      const line = new CallLine(cfg, "server", req.method, req.ctx.requestHeader, peer.protocol, peer.address);
      return run(line, next, req);
    },
    clientInterceptor: (next: AnyFn) => (req: AnyRequest) =>
      run(new CallLine(cfg, "client", req.method, req.header, undefined, undefined), next, req),
  };
}

interface LogConfig {
  readonly logger: Logger;
  readonly redactor: HeaderRedactor;
  readonly headers: boolean;
  readonly requestIdHeader: string;
  readonly level: (code: number) => Level;
  readonly message: string;
}

type DescMethod = ServerUnaryRequest["method"];
type Res = { readonly stream: boolean; message: unknown };

/** One call to be logged once, when it ends. */
class CallLine {
  private readonly t0 = performance.now();
  private done = false;

  constructor(
    private readonly cfg: LogConfig,
    private readonly kind: "server" | "client",
    private readonly method: DescMethod,
    // Read at the end, so headers an inner interceptor adds (a request id) are logged too.
    private readonly header: Metadata,
    private readonly protocol: string | undefined,
    private readonly peer: string | undefined,
  ) {}

  end(error: unknown): void {
    if (this.done) return;
    this.done = true;
    const code = error === undefined ? Code.OK : RpcError.from(error).code;
    const level = this.cfg.level(code);
    const logger = this.cfg.logger;
    if (!logger.isLevelEnabled(level)) return;
    const line: Record<string, unknown> = {
      kind: this.kind,
      service: this.method.parent.typeName,
      method: this.method.name,
      code,
      status: codeName(code),
      durationMs: Math.round((performance.now() - this.t0) * 1000) / 1000,
    };
    if (this.protocol !== undefined) {
      line.protocol = this.protocol;
      line.system = rpcSystemOf(this.protocol);
    }
    if (this.peer !== undefined) line.peer = this.peer;
    const { headers, secrets } = redactHeaders(this.header, this.cfg.redactor);
    const requestId = this.header.getString(this.cfg.requestIdHeader);
    if (requestId !== undefined) line.requestId = this.cfg.redactor.matches(this.cfg.requestIdHeader) ? REDACTED : requestId;
    if (this.cfg.headers) line.headers = headers;
    if (error !== undefined) line.error = this.cfg.redactor.scrub(RpcError.from(error).rawMessage, secrets);
    logger[level](line, this.cfg.message);
  }
}

const SECRET_SEPARATORS = /[\s;,=]+/;

function redactHeaders(md: Metadata, redactor: HeaderRedactor): { headers: Record<string, string>; secrets: string[] } {
  const headers: Record<string, string> = {};
  const secrets: string[] = [];
  for (const [key, value] of md) {
    let shown: string;
    if (redactor.matches(key)) {
      if (typeof value === "string") {
        secrets.push(value);
        // Also the credential inside `Bearer <token>` or `name=value; …`, which a message may echo alone.
        for (const part of value.split(SECRET_SEPARATORS)) if (part.length >= 8 && part !== value) secrets.push(part);
      }
      shown = REDACTED;
    } else shown = typeof value === "string" ? value : `[${value.length} bytes]`;
    const prev = headers[key];
    headers[key] = prev === undefined ? shown : `${prev}, ${shown}`;
  }
  return { headers, secrets };
}

async function* endWithStream<T>(line: CallLine, it: AsyncIterable<T>): AsyncGenerator<T> {
  let error: unknown = new RpcError(Code.CANCELLED, "response stream not read to the end");
  try {
    yield* it;
    error = undefined;
  } catch (e) {
    error = e;
    throw e;
  } finally {
    line.end(error);
  }
}

async function run<Q, R extends Res>(line: CallLine, next: (req: Q) => Promise<R>, req: Q): Promise<R> {
  let res: R;
  try {
    res = await next(req);
  } catch (e) {
    line.end(e);
    throw e;
  }
  if (res.stream) res.message = endWithStream(line, res.message as AsyncIterable<unknown>);
  else line.end(undefined);
  return res;
}
