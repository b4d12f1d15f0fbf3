import * as http2 from "node:http2";
import { publishConnectionEvent } from "./grpc-keepalive.js";

/**
 * Per-connection limits of the gRPC server against abusive clients, filled in. Node's HTTP/2
 * (nghttp2) already bounds header lists (`maxHeaderListSize`, `maxHeaderListPairs`), session
 * memory (`maxSessionMemory`), outbound control-frame queues and, since nghttp2 1.57, reset
 * bursts; these cover what it leaves open. @internal
 */
export interface ServerAbuseConfig {
  /** Close a session whose client has not sent the preface and SETTINGS within this; 0 = off. */
  handshakeTimeoutMs: number;
  /** Close (GOAWAY NO_ERROR) a session with no stream open for this long; 0 = off. */
  idleTimeoutMs: number;
  /** Streams the client may reset within `floodWindowMs` before GOAWAY ENHANCE_YOUR_CALM; 0 = off. */
  maxResetsPerWindow: number;
  floodWindowMs: number;
}

/** Per-session counters, kept on the session under a symbol so the shared stream listener finds them. */
interface SessionLimits {
  active: number;
  idleSince: number;
  windowStart: number;
  resets: number;
  closing: boolean;
}

const LIMITS = Symbol("petrel.grpc.limits");
type LimitedSession = http2.ServerHttp2Session & { [LIMITS]?: SessionLimits };

function peerOf(s: http2.Http2Session): string {
  const sock = s.socket;
  if (sock === undefined || sock === null) return "unknown";
  return sock.remoteFamily === "IPv6" ? `[${sock.remoteAddress}]:${sock.remotePort}` : `${sock.remoteAddress}:${sock.remotePort}`;
}

/**
 * Applies {@link ServerAbuseConfig} to one server session: a handshake timer (slow-loris on the
 * preface), an idle timer (one coarse check per session, not a timer per call), and a counter of
 * streams the client reset (HTTP/2 rapid reset, CVE-2023-44487). Per stream this costs one shared
 * 'close' listener and a few integer updates. @internal
 */
export function setupServerAbuseLimits(session: http2.ServerHttp2Session, config: ServerAbuseConfig): void {
  const s = session as LimitedSession;
  const limits: SessionLimits = { active: 0, idleSince: Date.now(), windowStart: 0, resets: 0, closing: false };
  s[LIMITS] = limits;
  const timers: Array<ReturnType<typeof setTimeout>> = [];
  session.once("close", () => {
    for (const t of timers) clearTimeout(t);
  });

  if (config.handshakeTimeoutMs > 0) {
    let settled = false;
    session.once("remoteSettings", () => {
      settled = true;
    });
    const t = setTimeout(() => {
      if (settled || session.destroyed) return;
      publishConnectionEvent({ t: "handshake_timeout", peer: peerOf(session), timeoutMs: config.handshakeTimeoutMs });
      // The client never spoke HTTP/2 properly: no GOAWAY, just close.
      session.destroy();
    }, config.handshakeTimeoutMs);
    t.unref();
    timers.push(t);
  }

  if (config.idleTimeoutMs > 0 || config.maxResetsPerWindow > 0) {
    session.on("stream", onStream);
  }

  if (config.idleTimeoutMs > 0) {
    const tick = Math.max(10, Math.min(config.idleTimeoutMs / 4, 1000));
    const check = () => {
      if (session.destroyed || session.closed) return;
      if (limits.active === 0 && Date.now() - limits.idleSince >= config.idleTimeoutMs) {
        publishConnectionEvent({ t: "idle_timeout", peer: peerOf(session), idleMs: config.idleTimeoutMs });
        // GOAWAY(NO_ERROR) and close: clients treat it as routine and reconnect on demand.
        session.close();
        return;
      }
      const t = setTimeout(check, tick);
      t.unref();
      timers[timers.length - 1] = t;
    };
    const t = setTimeout(check, tick);
    t.unref();
    timers.push(t);
  }

  const maxResets = config.maxResetsPerWindow;
  const windowMs = config.floodWindowMs;

  function onStream(stream: http2.ServerHttp2Stream): void {
    limits.active++;
    stream.once("close", onStreamClose);
  }

  function onStreamClose(this: http2.ServerHttp2Stream): void {
    limits.active--;
    if (limits.active === 0) limits.idleSince = Date.now();
    // `aborted`: the client reset the stream before the server finished writing it.
    if (maxResets === 0 || !this.aborted || limits.closing) return;
    const now = Date.now();
    if (now - limits.windowStart >= windowMs) {
      limits.windowStart = now;
      limits.resets = 0;
    }
    if (++limits.resets <= maxResets) return;
    limits.closing = true;
    publishConnectionEvent({ t: "too_many_resets", peer: peerOf(session), resets: limits.resets, windowMs });
    try {
      session.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, session.state.lastProcStreamID ?? 0, TOO_MANY_RESETS);
    } catch {
      // Already going away.
    }
    setImmediate(() => {
      if (!session.destroyed) session.destroy();
    });
  }
}

/** GOAWAY debug data sent to a client that reset too many streams. */
export const TOO_MANY_RESETS = Buffer.from("too_many_resets");

/** Checks a non-negative count or duration option of the gRPC server. @internal */
export function limitOption(name: string, value: number | undefined, dflt: number): number {
  if (value === undefined) return dflt;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new TypeError(`grpc: ${name} must be a non-negative integer, got ${String(value)}`);
  }
  return Math.min(value, 0x7fff_ffff);
}
