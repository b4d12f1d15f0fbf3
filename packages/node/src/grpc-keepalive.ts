import { channel as diagnosticsChannel } from "node:diagnostics_channel";
import * as http2 from "node:http2";

/**
 * Connection events of the gRPC server and client, published as a tagged union on `t`:
 * - `too_many_pings` `{ peer, strikes }`: the server sent GOAWAY ENHANCE_YOUR_CALM to a client
 *   that pinged more often than its keepalive enforcement policy allows;
 * - `keepalive_timeout` `{ side, peer, timeoutMs }`: a keepalive ping went unanswered and the
 *   session was destroyed;
 * - `tls_error` `{ peer, error }`: a client's TLS handshake failed (e.g. mutual TLS refused it);
 * - `handshake_timeout` `{ peer, timeoutMs }`: a client sent no HTTP/2 preface and SETTINGS in time;
 * - `idle_timeout` `{ peer, idleMs }`: a session without streams was closed (GOAWAY NO_ERROR);
 * - `too_many_resets` `{ peer, resets, windowMs }`: a client reset streams too fast (rapid reset)
 *   and got GOAWAY ENHANCE_YOUR_CALM;
 * - `connection_dropped` `{ limit }`: a connection was closed at once because `maxConnections` were open.
 */
export const grpcConnectionChannel = diagnosticsChannel("petrel:grpc:connection");

/** One event of {@link grpcConnectionChannel}. */
export type GrpcConnectionEvent =
  | { t: "too_many_pings"; peer: string; strikes: number }
  | { t: "keepalive_timeout"; side: "client" | "server"; peer: string; timeoutMs: number }
  | { t: "tls_error"; peer: string; error: Error }
  | { t: "handshake_timeout"; peer: string; timeoutMs: number }
  | { t: "idle_timeout"; peer: string; idleMs: number }
  | { t: "too_many_resets"; peer: string; resets: number; windowMs: number }
  | { t: "connection_dropped"; limit: number };

/** @internal */
export function publishConnectionEvent(e: GrpcConnectionEvent): void {
  if (grpcConnectionChannel.hasSubscribers) grpcConnectionChannel.publish(e);
}

/** Pings a peer more often than this without calls in flight and it counts as a strike (grpc-go's defaultPingTimeout). */
export const NO_CALLS_PING_INTERVAL_MS = 2 * 60 * 60 * 1000;
/** Strikes tolerated before GOAWAY; the next one closes the session (grpc-go's maxPingStrikes). */
export const MAX_PING_STRIKES = 2;
/** Size of a PING frame (9-byte header + 8-byte payload), which is also the size of its ACK. */
export const PING_FRAME_BYTES = 17;
/** GOAWAY debug data that tells gRPC clients to double their keepalive time (gRPC A8). */
export const TOO_MANY_PINGS = Buffer.from("too_many_pings");

/** The server's keepalive enforcement policy (grpc-go's `keepalive.EnforcementPolicy`). */
export interface PingPolicy {
  /** Least time between two client pings. */
  minTimeMs: number;
  /** Whether pings are fine while no call is in flight (else they may come every 2 hours at most). */
  permitWithoutCalls: boolean;
}

/**
 * Decides, ping by ping, whether a client pings too often — grpc-go's `handlePing`: a ping sooner
 * than the policy allows after the previous one is a strike; more than {@link MAX_PING_STRIKES}
 * strikes and the client gets GOAWAY. A ping that follows data the server sent resets the count,
 * because gRPC clients may ping on receiving data (BDP probes). Pure; the clock is injected.
 */
export class PingEnforcer {
  private lastPingAt: number | undefined;
  private strikeCount = 0;

  constructor(
    private readonly policy: PingPolicy,
    private readonly now: () => number = Date.now,
  ) {}

  get strikes(): number {
    return this.strikeCount;
  }

  /**
   * Records one ping. `activeCalls`: calls in flight on the session; `dataSent`: whether the
   * server sent anything but ping ACKs since the previous ping. Returns true when the client must
   * get GOAWAY ENHANCE_YOUR_CALM.
   */
  onPing(activeCalls: number, dataSent: boolean): boolean {
    const now = this.now();
    const last = this.lastPingAt;
    this.lastPingAt = now;
    if (dataSent) {
      this.strikeCount = 0;
      return false;
    }
    const min = activeCalls < 1 && !this.policy.permitWithoutCalls ? NO_CALLS_PING_INTERVAL_MS : this.policy.minTimeMs;
    if (last !== undefined && now - last < min) this.strikeCount++;
    return this.strikeCount > MAX_PING_STRIKES;
  }
}

/**
 * Tells, at each received ping, whether the server wrote anything besides PING frames since the
 * previous one. node:http2 has no per-frame hook, so this compares the session's byte count
 * with what its PING frames (ACKs of received pings, our own keepalive pings) account for.
 * ACKs not yet flushed make it err towards "nothing sent" only within one burst of pings, and any
 * other frame (SETTINGS ACK, WINDOW_UPDATE) counts as sent: the tracker errs on the lenient side
 * for well-behaved clients. Pure. @internal
 */
export class SentBytesTracker {
  private pingsReceived = 0;
  private pingsSent = 0;
  private maxOther: number;

  constructor(bytesWrittenAtStart: number) {
    this.maxOther = bytesWrittenAtStart;
  }

  /** One of our own PING frames was sent. */
  onPingSent(): void {
    this.pingsSent++;
  }

  /** A ping arrived while the session had written `bytesWritten` bytes in all. */
  onPingReceived(bytesWritten: number): boolean {
    const other = bytesWritten - PING_FRAME_BYTES * (this.pingsReceived + this.pingsSent);
    this.pingsReceived++;
    if (other > this.maxOther) {
      this.maxOther = other;
      return true;
    }
    return false;
  }
}

/** Options of {@link KeepalivePinger}. */
export interface PingerOptions {
  timeMs: number;
  timeoutMs: number;
  /** Whether to ping now (e.g. only with calls in flight). */
  shouldPing: () => boolean;
  /** The ping went unanswered for `timeoutMs`. */
  onTimeout: () => void;
  /** A ping was handed to the session. */
  onSent?: () => void;
}

/**
 * Pings a session every `timeMs` (when `shouldPing()`), and calls `onTimeout` if the ACK takes
 * longer than `timeoutMs`. Timers are unref'd: keepalive never keeps a process alive. @internal
 */
export class KeepalivePinger {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  constructor(
    private readonly session: http2.Http2Session,
    private readonly opts: PingerOptions,
  ) {}

  start(): void {
    this.schedule(this.opts.timeMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => this.tick(), ms);
    this.timer.unref();
  }

  private tick(): void {
    const s = this.session;
    if (this.stopped || s.destroyed || s.closed) return;
    if (!this.opts.shouldPing()) return this.schedule(this.opts.timeMs);
    let acked = false;
    const deadline = setTimeout(() => {
      // After an event loop stall, the timers phase runs before the poll phase that would read
      // an ACK already waiting in the socket: decide in setImmediate, after one poll, so a busy
      // process is not mistaken for a dead peer.
      setImmediate(() => {
        if (acked || this.stopped) return;
        this.stop();
        this.opts.onTimeout();
      });
    }, this.opts.timeoutMs);
    deadline.unref();
    this.timer = deadline;
    let sent: boolean;
    try {
      sent = s.ping((err) => {
        acked = true;
        clearTimeout(deadline);
        if (err === null) this.schedule(this.opts.timeMs);
      });
    } catch {
      sent = false;
    }
    if (sent) this.opts.onSent?.();
    else {
      // Too many pings outstanding or the session is going away: try again later.
      acked = true;
      clearTimeout(deadline);
      this.schedule(this.opts.timeMs);
    }
  }
}

/** Server keepalive, filled in. @internal */
export interface ServerKeepaliveConfig {
  timeMs: number;
  timeoutMs: number;
  policy: PingPolicy;
}

function peerOfSession(s: http2.Http2Session): string {
  const sock = s.socket;
  if (sock === undefined || sock === null) return "unknown";
  return sock.remoteFamily === "IPv6" ? `[${sock.remoteAddress}]:${sock.remotePort}` : `${sock.remoteAddress}:${sock.remotePort}`;
}

/**
 * Sets up keepalive on one server session: pings the client every `timeMs` (destroying the
 * session if an ACK takes over `timeoutMs`), and enforces the ping policy — a client pinging too
 * often gets GOAWAY ENHANCE_YOUR_CALM with debug data `too_many_pings`, then the session closes.
 * Per call this costs one 'close' listener, and only when the policy needs the count of calls
 * in flight. @internal
 */
export function setupServerKeepalive(session: http2.ServerHttp2Session, config: ServerKeepaliveConfig): void {
  const peer = peerOfSession(session);
  const enforcer = new PingEnforcer(config.policy);
  const sent = new SentBytesTracker(session.socket?.bytesWritten ?? 0);
  let active = 0;
  const countCalls = !config.policy.permitWithoutCalls && config.policy.minTimeMs < NO_CALLS_PING_INTERVAL_MS;
  if (countCalls) {
    const onStreamClose = () => {
      active--;
    };
    session.on("stream", (stream) => {
      if (stream.destroyed) return;
      active++;
      stream.on("close", onStreamClose);
    });
  }
  let enforced = false;
  session.on("ping", () => {
    if (enforced) return;
    const dataSent = sent.onPingReceived(session.socket?.bytesWritten ?? 0);
    // Without the count of calls, the policy permits pings without calls (see countCalls).
    if (!enforcer.onPing(countCalls ? active : 1, dataSent)) return;
    enforced = true;
    publishConnectionEvent({ t: "too_many_pings", peer, strikes: enforcer.strikes });
    if (session.destroyed || session.closed) return;
    try {
      session.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, session.state.lastProcStreamID ?? 0, TOO_MANY_PINGS);
    } catch {
      // The session is already going away.
    }
    // Like grpc-go, the connection ends here; calls still running on it are cut off (the client
    // treats this GOAWAY as fatal for the session anyway).
    setImmediate(() => {
      if (!session.destroyed) session.destroy();
    });
  });
  if (config.timeMs > 0 && config.timeMs <= 0x7fff_ffff) {
    const pinger = new KeepalivePinger(session, {
      timeMs: config.timeMs,
      timeoutMs: config.timeoutMs,
      shouldPing: () => true,
      onSent: () => sent.onPingSent(),
      onTimeout: () => {
        publishConnectionEvent({ t: "keepalive_timeout", side: "server", peer, timeoutMs: config.timeoutMs });
        session.destroy(new Error(`grpc: keepalive ping not acknowledged within ${config.timeoutMs} ms`));
      },
    });
    pinger.start();
    session.once("close", () => pinger.stop());
  }
}

/** Checks a keepalive duration option. @internal */
export function keepaliveMs(name: string, value: number | undefined, dflt: number): number {
  if (value === undefined) return dflt;
  if (typeof value !== "number" || Number.isNaN(value) || value < 0) {
    throw new TypeError(`grpc: ${name} must be a non-negative number of milliseconds, got ${String(value)}`);
  }
  return Math.min(value, 0x7fff_ffff);
}
