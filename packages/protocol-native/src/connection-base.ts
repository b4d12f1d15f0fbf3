import { Code, RpcError, messageCompressionHint } from "@petrel/core";
import type { ByteChannel, ChannelEvents, Clock } from "./channel.js";
import { systemClock } from "./channel.js";
import {
  DEFAULT_COMPRESS_MIN_BYTES,
  compressMessage,
  compressionTable,
  decompressMessage,
  type CompressionTable,
  type MessageCompressionRegistry,
  type SendCompression,
} from "./compression.js";
import { parseGoAway, type GoAway } from "./goaway-payload.js";
import {
  DEFAULT_MAX_FRAME_SIZE,
  ErrorCode,
  FrameFlag,
  FrameType,
  PROTOCOL_VERSION,
  errorCodeName,
  unsupportedVersionMessage,
} from "./frame-types.js";
import { FrameReader } from "./frame-reader.js";
import { FrameWriter } from "./frame-writer.js";
import type { InboxEntry, StreamBase, PendingMessage } from "./native-stream.js";
import { ProtocolError } from "./protocol-error.js";
import { DEFAULT_SETTINGS, parseSettings, type Settings } from "./settings-payload.js";
import { StreamTable } from "./stream-table.js";
import { parseWindowUpdate } from "./window-update-payload.js";

/** Options shared by client and server connections. Every field is optional. */
export interface ConnectionOptions {
  /**
   * What this side accepts (sent in SETTINGS). Defaults: see docs/protocol-native.md;
   * `compressions` defaults to `identity` plus every algorithm in `compressions` below.
   */
  settings?: Partial<Settings>;
  /**
   * Compression algorithms this side can read and write (spec §4.3.1); what it can read is
   * advertised in COMPRESSIONS. Default: none here; `@petrel/node` passes gzip, deflate (and br).
   */
  compressions?: MessageCompressionRegistry;
  /**
   * Compression for the messages this side sends (client: requests, server: responses), used only
   * when the peer advertised it; otherwise messages go uncompressed. Per call, the header
   * `x-petrel-compress` overrides it. Default: none (identity).
   */
  compression?: string;
  /** Messages shorter than this many bytes are sent uncompressed. Default 1024. */
  compressMinBytes?: number;
  /** Send a PING when nothing arrived for this long; 0 = off. Default: 30000 (client), 0 (server). */
  keepaliveMs?: number;
  /** Close the connection if a PING gets no answer (nor any frame) within this. Default 10000. */
  keepaliveTimeoutMs?: number;
  /** Close a connection without streams after this long; 0 = off. Default: 0 (client), 300000 (server). */
  idleTimeoutMs?: number;
  /**
   * Close a connection whose peer has not sent its preface and SETTINGS within this (slow-loris);
   * 0 = off. Default: 10000 (server), 0 (client).
   */
  handshakeTimeoutMs?: number;
  /**
   * Flood protection: more than this many non-ACK PINGs within `floodWindowMs` and the connection
   * gets GOAWAY(ENHANCE_YOUR_CALM); 0 = off. Default 200 (legit keepalive pings every few seconds
   * at most; each PING forces an ACK write, so a flood costs the receiver).
   */
  maxPingsPerWindow?: number;
  /**
   * Reset-flood protection (the petrel/1 form of HTTP/2 rapid reset): more than this many CANCEL
   * frames from the client within `floodWindowMs` and the server sends GOAWAY(ENHANCE_YOUR_CALM);
   * 0 = off. Server only. Default 2000 (200 cancellations a second, on average, per connection).
   */
  maxResetsPerWindow?: number;
  /** The window of the flood counters above, in ms. Default 10000. */
  floodWindowMs?: number;
  /** Schedules a write flush; all frames produced before it runs go out in one write. Default: queueMicrotask. */
  schedule?: (fn: () => void) => void;
  /** Time source and timers. Default: the system clock. */
  clock?: Clock;
}

/**
 * Counts events in fixed windows of time: no allocation per event, one clock read. The count
 * restarts when a window is over, so it is exact to within one window. @internal
 */
export class WindowCounter {
  private start = 0;
  private count = 0;

  constructor(
    readonly limit: number,
    readonly windowMs: number,
  ) {}

  /** Records one event at `now`; true when the window holds more than `limit` events. */
  hit(now: number): boolean {
    if (now - this.start >= this.windowMs) {
      this.start = now;
      this.count = 0;
    }
    return ++this.count > this.limit;
  }
}

/**
 * Decoded messages a stream may hold unread before decompression of the next one waits: with
 * compression, a window's worth of wire bytes can expand to many times that, so the window alone
 * no longer bounds what a slow reader buffers.
 */
const INFLATE_HIGH_WATER = 8;

/** How often expired deadlines are swept (coarse on purpose: one timer per connection, not per call). */
const DEADLINE_TICK_MS = 5;

/**
 * The parts of a petrel/1 connection both sides share: preface and SETTINGS, frame dispatch,
 * write coalescing, flow control, keepalive, idle timeout and GOAWAY. Subclasses handle streams.
 * @internal
 */
export abstract class ConnectionBase<S extends StreamBase> implements ChannelEvents {
  protected readonly writer = new FrameWriter();
  protected readonly reader: FrameReader;
  protected readonly streams = new StreamTable<S>();
  protected readonly local: Settings;
  /** What we advertised in COMPRESSIONS and how to read each entry. */
  protected readonly compression: CompressionTable;
  /** Algorithms we may send with. */
  protected readonly compressions: MessageCompressionRegistry | undefined;
  /** Default compression for what we send (undefined = identity). */
  protected readonly sendCompressionName: string | undefined;
  private readonly compressMinBytes: number;
  protected peer: Settings = DEFAULT_SETTINGS;
  protected channel: ByteChannel | undefined;
  protected readonly clock: Clock;
  /** Set when the connection can no longer start streams (GOAWAY sent or received, or closed). */
  draining = false;
  /** Set once the channel closed. */
  closed = false;
  /** The error the connection ended with, if it failed. */
  closeError: RpcError | undefined = undefined;

  private connSendWindow = DEFAULT_SETTINGS.initialConnectionWindow;
  private connRecvWindow: number;
  /** Whether the peer's SETTINGS / its ACK of ours arrived (each exactly once, spec §2.2). */
  private peerSettingsSeen = false;
  private settingsAcked = false;
  /** Set once our preface was written (a server writes it only after the client's, spec §2.1). */
  private helloSent = false;
  /** Set after a connection error: further input is ignored while the channel closes. */
  private failed = false;
  private connCreditPending = 0;
  private readonly blockedStreams: S[] = [];
  private flushScheduled = false;
  private readonly schedule: (fn: () => void) => void;
  private readonly flushFn = () => this.flush();
  private deadlineTimer: unknown = undefined;
  private deadlineStreams = 0;
  private housekeepingTimer: unknown = undefined;
  private lastActivity: number;
  private pingSentAt: number | undefined = undefined;
  private readonly keepaliveMs: number;
  private readonly keepaliveTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  private idleSince: number;
  private readonly handshakeTimeoutMs: number;
  private handshakeTimer: unknown = undefined;
  private readonly pingFlood: WindowCounter | undefined;
  /** CANCEL-flood counter for servers (undefined when off). */
  protected readonly resetFlood: WindowCounter | undefined;

  constructor(options: ConnectionOptions, isServer: boolean) {
    this.compressions = options.compressions;
    this.compression = compressionTable(options.compressions, options.settings?.compressions);
    this.local = { ...DEFAULT_SETTINGS, ...options.settings, compressions: this.compression.advertised };
    const name = options.compression?.trim().toLowerCase();
    if (name !== undefined && name !== "identity" && options.compressions?.get(name) === undefined)
      throw new TypeError(`petrel: unknown compression "${options.compression}"`);
    this.sendCompressionName = name === "identity" ? undefined : name;
    const minBytes = options.compressMinBytes ?? DEFAULT_COMPRESS_MIN_BYTES;
    if (!(minBytes >= 0)) throw new RangeError(`petrel: invalid compressMinBytes ${options.compressMinBytes}`);
    this.compressMinBytes = minBytes;
    // Until the peer ACKs our SETTINGS it may use the defaults (spec §5.1).
    this.connRecvWindow = Math.max(this.local.initialConnectionWindow, DEFAULT_SETTINGS.initialConnectionWindow);
    this.clock = options.clock ?? systemClock;
    this.schedule = options.schedule ?? queueMicrotask;
    this.keepaliveMs = options.keepaliveMs ?? (isServer ? 0 : 30_000);
    this.keepaliveTimeoutMs = options.keepaliveTimeoutMs ?? 10_000;
    this.idleTimeoutMs = options.idleTimeoutMs ?? (isServer ? 300_000 : 0);
    this.lastActivity = this.clock.now();
    this.idleSince = this.lastActivity;
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? (isServer ? 10_000 : 0);
    const floodWindowMs = options.floodWindowMs ?? 10_000;
    const maxPings = options.maxPingsPerWindow ?? 200;
    this.pingFlood = maxPings > 0 ? new WindowCounter(maxPings, floodWindowMs) : undefined;
    const maxResets = options.maxResetsPerWindow ?? (isServer ? 2000 : 0);
    this.resetFlood = maxResets > 0 ? new WindowCounter(maxResets, floodWindowMs) : undefined;
    // Until the peer ACKs our SETTINGS it may send frames up to the default size (spec §5.1).
    // A client may see GOAWAY first (a server refusing its version), so it checks "SETTINGS
    // first" itself in onFrame; a server leaves that to the reader.
    this.reader = new FrameReader(this, {
      expectPreface: true,
      requireSettingsFirst: isServer,
      maxFrameSize: Math.max(this.local.maxFrameSize, DEFAULT_MAX_FRAME_SIZE),
    });
  }

  // ---- channel events -------------------------------------------------------------------

  abstract onOpen(): void;

  onData(chunk: Uint8Array): void {
    if (this.closed || this.failed) return;
    this.lastActivity = this.clock.now();
    this.pingSentAt = undefined;
    try {
      this.reader.push(chunk);
    } catch (e) {
      this.connectionError(e);
    }
  }

  onClose(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.draining = true;
    this.stopTimers();
    const err =
      this.closeError ?? new RpcError(Code.UNAVAILABLE, error !== undefined ? `connection lost: ${error.message}` : "connection closed");
    this.closeError = err;
    this.streams.forEach((s) => {
      this.failStream(s, err, false);
    });
    for (const s of this.blockedStreams) s.wake();
    this.blockedStreams.length = 0;
    this.onClosed(err);
  }

  /** Called once after the channel closed and every stream failed. */
  protected abstract onClosed(error: RpcError): void;

  // ---- frames in ------------------------------------------------------------------------

  /** FrameHandler: the peer's preface. */
  onPreface(version: number): void {
    if (version !== PROTOCOL_VERSION) this.onUnsupportedVersion(version);
    else this.onPrefaceOk();
  }

  /** The peer's preface carried our version. */
  protected onPrefaceOk(): void {}

  protected abstract onUnsupportedVersion(version: number): void;

  /** FrameHandler: one frame. Exceptions become connection errors (see onData). */
  onFrame(type: number, flags: number, streamId: number, payload: Uint8Array): void {
    if (!this.peerSettingsSeen && type !== FrameType.SETTINGS && type !== FrameType.GOAWAY) {
      throw new ProtocolError(ErrorCode.PROTOCOL_ERROR, "the first frame must be SETTINGS");
    }
    switch (type) {
      case FrameType.MESSAGE:
        return this.onMessageFrame(streamId, flags, payload);
      case FrameType.SETTINGS:
        if ((flags & FrameFlag.ACK) === 0) {
          if (this.peerSettingsSeen) throw new ProtocolError(ErrorCode.PROTOCOL_ERROR, "a second SETTINGS frame");
          this.peerSettingsSeen = true;
          this.clearHandshakeTimer();
          this.onSettings(parseSettings(payload));
        } else this.onSettingsAck();
        return;
      case FrameType.WINDOW_UPDATE:
        return this.onWindowUpdate(streamId, parseWindowUpdate(payload));
      case FrameType.PING:
        if ((flags & FrameFlag.ACK) === 0) {
          if (this.pingFlood?.hit(this.clock.now()) === true) {
            throw new ProtocolError(
              ErrorCode.ENHANCE_YOUR_CALM,
              `too many PINGs (over ${this.pingFlood.limit} within ${this.pingFlood.windowMs} ms)`,
            );
          }
          this.writer.writePing(payload, true);
          this.scheduleFlush();
        }
        return;
      case FrameType.GOAWAY:
        return this.onGoAway(parseGoAway(payload));
      default:
        return this.onStreamFrame(type, flags, streamId, payload);
    }
  }

  /** HEADERS, TRAILERS, HALF_CLOSE, CANCEL. */
  protected abstract onStreamFrame(type: number, flags: number, streamId: number, payload: Uint8Array): void;
  /**
   * A complete (decompressed) message for a stream. `credit` bytes are returned to the peer once
   * it is consumed; `compressed` says it arrived compressed.
   */
  protected abstract onStreamMessage(stream: S, bytes: Uint8Array, credit: number, endStream: boolean, compressed: boolean): void;
  /** A received message could not be decompressed: fail the stream with `error` (a stream error). */
  protected abstract failInbound(stream: S, error: RpcError): void;
  /** A frame deferred with {@link deferEvent} reached the head of the stream's input. */
  protected onDeferredEvent(_stream: S, _event: unknown): void {}
  /** A MESSAGE for a stream we do not know (finished or refused); its credit is returned at once. */
  protected abstract streamForMessage(streamId: number): S | undefined;
  protected abstract onGoAway(g: GoAway): void;

  protected onSettings(s: Settings): void {
    const delta = s.initialStreamWindow - this.peer.initialStreamWindow;
    const first = this.peer === DEFAULT_SETTINGS;
    this.peer = s;
    if (first) this.connSendWindow += s.initialConnectionWindow - DEFAULT_SETTINGS.initialConnectionWindow;
    if (delta !== 0) {
      this.streams.forEach((st) => {
        st.sendWindow += delta;
      });
    }
    this.writer.writeSettingsAck();
    this.scheduleFlush();
    this.resumeBlocked();
  }

  /** Our SETTINGS took effect at the peer: the smaller limits we advertised now apply (spec §5.1). */
  private onSettingsAck(): void {
    if (this.settingsAcked || !this.helloSent) throw new ProtocolError(ErrorCode.PROTOCOL_ERROR, "an unexpected SETTINGS ACK");
    this.settingsAcked = true;
    this.reader.maxFrameSize = this.local.maxFrameSize;
    const connShrink = DEFAULT_SETTINGS.initialConnectionWindow - this.local.initialConnectionWindow;
    if (connShrink > 0) this.connRecvWindow -= connShrink;
    const streamShrink = DEFAULT_SETTINGS.initialStreamWindow - this.local.initialStreamWindow;
    if (streamShrink > 0) {
      this.streams.forEach((st) => {
        st.recvWindow -= streamShrink;
      });
    }
  }

  /** The receive window a new stream starts with. */
  protected initialRecvWindow(): number {
    return this.settingsAcked
      ? this.local.initialStreamWindow
      : Math.max(this.local.initialStreamWindow, DEFAULT_SETTINGS.initialStreamWindow);
  }

  /** Throws PROTOCOL_ERROR for a frame on a stream id that was never opened (spec §7.1). */
  protected abstract checkOpened(streamId: number): void;

  private onWindowUpdate(streamId: number, increment: number): void {
    if (streamId === 0) {
      this.connSendWindow += increment;
      if (this.connSendWindow > 0x7fff_ffff) throw new ProtocolError(ErrorCode.FLOW_CONTROL_ERROR, "connection window overflow");
    } else {
      this.checkOpened(streamId);
      const s = this.streams.get(streamId);
      if (s === undefined) return;
      s.sendWindow += increment;
      if (s.sendWindow > 0x7fff_ffff) throw new ProtocolError(ErrorCode.FLOW_CONTROL_ERROR, `stream ${streamId} window overflow`);
    }
    this.resumeBlocked();
  }

  private onMessageFrame(streamId: number, flags: number, payload: Uint8Array): void {
    const len = payload.length;
    this.connRecvWindow -= len;
    if (this.connRecvWindow < 0) throw new ProtocolError(ErrorCode.FLOW_CONTROL_ERROR, "peer overran the connection window");
    const compressed = flags & FrameFlag.COMPRESSED;
    if (compressed !== 0 && !this.compression.accepts)
      throw new ProtocolError(ErrorCode.PROTOCOL_ERROR, "COMPRESSED flag, but this side advertised no compression");
    const s = this.streamForMessage(streamId);
    if (s === undefined || !s.remoteOpen) {
      // A stream we finished (e.g. cancelled) may still receive in-flight frames: drop them,
      // but give the connection credit back so the peer is not starved.
      this.returnCredit(undefined, len);
      return;
    }
    s.recvWindow -= len;
    if (s.recvWindow < 0) throw new ProtocolError(ErrorCode.FLOW_CONTROL_ERROR, `peer overran the window of stream ${streamId}`);
    const endStream = (flags & FrameFlag.END_STREAM) !== 0;
    if ((flags & FrameFlag.CONTINUED) !== 0) {
      if (s.chunks === undefined) {
        s.chunks = [];
        s.chunkCompressed = compressed;
      } else if (s.chunkCompressed !== compressed) throw mixedChunks(streamId);
      s.chunks.push(payload);
      s.chunkBytes += len;
      // A partial message is credited at once while the application has read everything before
      // it: withholding that credit could deadlock a message larger than the window, and
      // reassembly is bounded by maxMessageSize. While complete messages wait unread, the credit
      // is withheld until they are read, so a slow reader bounds what the peer may send.
      if (s.unconsumed === 0) this.returnCredit(s, len);
      else s.withheld += len;
      if (s.chunkBytes > this.local.maxMessageSize) this.onMessageTooLarge(s, s.chunkBytes);
      return;
    }
    let bytes = payload;
    if (s.chunks !== undefined) {
      if (s.chunkCompressed !== compressed) throw mixedChunks(streamId);
      const total = s.chunkBytes + len;
      s.chunks.push(payload);
      bytes = concat(s.chunks, total);
      s.chunks = undefined;
      s.chunkBytes = 0;
    }
    if (bytes.length > this.local.maxMessageSize) {
      this.returnCredit(s, len);
      this.onMessageTooLarge(s, bytes.length);
      return;
    }
    if (endStream) s.remoteOpen = false;
    // The uncompressed path with nothing queued ahead stays synchronous and allocation-free.
    if (compressed === 0 && s.inbox === undefined) this.onStreamMessage(s, bytes, len, endStream, false);
    else this.enqueueInbound(s, { bytes, credit: len, endStream, compressed: compressed !== 0, event: undefined });
  }

  private enqueueInbound(s: S, e: InboxEntry): void {
    if (s.inbox === undefined) s.inbox = [];
    s.inbox.push(e);
    this.drainInbox(s);
  }

  /**
   * Queues a frame that must be handled after the messages still being decompressed (HALF_CLOSE,
   * TRAILERS); false when nothing is queued and the caller can handle it now.
   */
  protected deferEvent(s: S, event: unknown): boolean {
    if (s.inbox === undefined) return false;
    this.enqueueInbound(s, { bytes: undefined, credit: 0, endStream: false, compressed: false, event });
    return true;
  }

  /** Delivers a stream's queued input in order, decompressing one message at a time. */
  private drainInbox(s: S): void {
    const q = s.inbox;
    if (q === undefined) return;
    while (q.length > 0 && !s.inflating && !s.done && !this.closed) {
      const e = q[0] as InboxEntry;
      if (e.compressed) {
        // A slow reader: wait for it (nextConsumed resumes), so expansion cannot pile up.
        if (s.unconsumed >= INFLATE_HIGH_WATER) return;
        s.inflating = true;
        decompressMessage(this.compression, e.bytes as Uint8Array, this.local.maxMessageSize).then(
          (out) => this.inflated(s, q, e, out, undefined),
          (err: unknown) => this.inflated(s, q, e, undefined, RpcError.from(err, Code.INTERNAL)),
        );
        return;
      }
      q.shift();
      if (e.event !== undefined) this.onDeferredEvent(s, e.event);
      else this.onStreamMessage(s, e.bytes as Uint8Array, e.credit, e.endStream, false);
    }
    if (q.length === 0 && s.inbox === q && !s.inflating) s.inbox = undefined;
  }

  private inflated(s: S, q: InboxEntry[], e: InboxEntry, out: Uint8Array | undefined, err: RpcError | undefined): void {
    s.inflating = false;
    // A stream that ended meanwhile already returned the credit of everything queued.
    if (s.done || this.closed || s.inbox !== q) return;
    q.shift();
    try {
      if (err !== undefined) {
        this.returnCredit(s, e.credit);
        this.failInbound(s, err);
        return;
      }
      this.onStreamMessage(s, out as Uint8Array, e.credit, e.endStream, true);
      this.drainInbox(s);
    } catch (x) {
      this.connectionError(x);
    }
  }

  /** The peer sent a message over our limit: fail the stream with RESOURCE_EXHAUSTED. */
  protected abstract onMessageTooLarge(stream: S, size: number): void;

  /** A complete message was queued for the application; its credit waits until it is read. */
  protected messageQueued(s: S, credit: number): void {
    s.credits.push(credit);
    s.unconsumed++;
  }

  /** The application read the oldest queued message: return its credit. */
  protected nextConsumed(s: S): void {
    const credit = s.credits[s.creditHead];
    s.credits[s.creditHead++] = 0;
    if (s.creditHead === s.credits.length) {
      s.credits.length = 0;
      s.creditHead = 0;
    }
    if (credit !== undefined) this.messageConsumed(s, credit);
    if (s.inbox !== undefined && !s.inflating) this.drainInbox(s);
  }

  /** A queued message was read by the application: return its credit (and any withheld). */
  private messageConsumed(s: S, credit: number): void {
    s.unconsumed--;
    this.returnCredit(s, credit);
    if (s.unconsumed === 0 && s.withheld > 0) {
      const w = s.withheld;
      s.withheld = 0;
      this.returnCredit(s, w);
    }
  }

  /** Returns consumed bytes to the peer, in batches (a WINDOW_UPDATE per message would double the frames). */
  returnCredit(s: S | undefined, n: number): void {
    if (this.closed) return;
    this.connCreditPending += n;
    if (this.connCreditPending >= this.local.initialConnectionWindow >>> 2) {
      this.writer.writeWindowUpdate(0, this.connCreditPending);
      this.connRecvWindow += this.connCreditPending;
      this.connCreditPending = 0;
      this.scheduleFlush();
    }
    if (s?.remoteOpen && !s.done) {
      s.creditPending += n;
      if (s.creditPending >= this.local.initialStreamWindow >>> 2) {
        this.writer.writeWindowUpdate(s.id, s.creditPending);
        s.recvWindow += s.creditPending;
        s.creditPending = 0;
        this.scheduleFlush();
      }
    }
  }

  // ---- frames out -----------------------------------------------------------------------

  /** Schedules one flush for everything written in this tick (write coalescing). */
  scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    this.schedule(this.flushFn);
  }

  /** Writes the pending batch to the channel now. */
  flush(): void {
    this.flushScheduled = false;
    if (this.writer.size === 0 || this.channel === undefined || this.closed) return;
    this.channel.write(this.writer.take());
  }

  /**
   * Sends one message under flow control. Returns false when (part of) it waits for credit;
   * the producer should then await `stream.whenWritable()` before producing more.
   */
  sendMessage(s: S, bytes: Uint8Array, endStream: boolean, compressed = false): boolean {
    const flags = (endStream ? FrameFlag.END_STREAM : 0) | (compressed ? FrameFlag.COMPRESSED : 0);
    const n = bytes.length;
    // Fast path, no allocation: the whole message fits in one frame and in both windows.
    if (!s.blocked && n <= this.peer.maxFrameSize && n <= s.sendWindow && n <= this.connSendWindow) {
      this.writer.writeMessage(s.id, flags, bytes, 0, n);
      s.sendWindow -= n;
      this.connSendWindow -= n;
      this.scheduleFlush();
      return true;
    }
    const m: PendingMessage = { bytes, offset: 0, flags };
    if (s.blocked) {
      (s.pendingOut as PendingMessage[]).push(m);
      return false;
    }
    const sent = this.writeChunks(s, m);
    if (!sent) {
      s.pendingOut ??= [];
      s.pendingOut.push(m);
      this.blockedStreams.push(s);
    }
    this.scheduleFlush();
    return sent;
  }

  private writeChunks(s: S, m: PendingMessage): boolean {
    const maxFrame = this.peer.maxFrameSize;
    for (;;) {
      const remaining = m.bytes.length - m.offset;
      let n = remaining;
      if (n > maxFrame) n = maxFrame;
      if (n > s.sendWindow) n = s.sendWindow;
      if (n > this.connSendWindow) n = this.connSendWindow;
      // A window can be negative after the peer shrank it; an empty message still goes out.
      if (n < 0) n = 0;
      if (n === 0 && remaining > 0) return false;
      const last = n === remaining;
      // Every chunk carries the message's COMPRESSED bit; END_STREAM only the last.
      const flags = last ? m.flags : FrameFlag.CONTINUED | (m.flags & FrameFlag.COMPRESSED);
      this.writer.writeMessage(s.id, flags, m.bytes, m.offset, n);
      s.sendWindow -= n;
      this.connSendWindow -= n;
      m.offset += n;
      if (last) return true;
    }
  }

  private resumeBlocked(): void {
    const list = this.blockedStreams;
    let w = 0;
    for (let i = 0; i < list.length; i++) {
      const s = list[i] as S;
      const q = s.pendingOut;
      if (q === undefined || s.done) {
        s.wake();
        continue;
      }
      while (q.length > 0 && this.writeChunks(s, q[0] as PendingMessage)) q.shift();
      if (q.length === 0) s.wake();
      else list[w++] = s;
    }
    list.length = w;
    this.scheduleFlush();
  }

  /**
   * Whether `bytes` (the encoding of `message`) should go out compressed with `sc`: the call
   * compresses, the message reaches `compressMinBytes`, and it is not marked
   * `setMessageCompression(message, false)`.
   */
  protected shouldCompress(sc: SendCompression | undefined, bytes: Uint8Array, message: object): sc is SendCompression {
    // setMessageCompression(msg, true|false) overrides the size threshold.
    return sc !== undefined && (messageCompressionHint(message) ?? bytes.length >= this.compressMinBytes);
  }

  /**
   * Compresses and sends one message; resolves like {@link sendMessage}. A message that does not
   * get smaller goes out uncompressed (the receiver is spared the work) unless `forced` (the message
   * was marked with setMessageCompression(msg, true)). Rejects with INTERNAL when the algorithm fails.
   */
  protected async sendCompressed(s: S, sc: SendCompression, bytes: Uint8Array, endStream: boolean, forced = false): Promise<boolean> {
    const wire = await compressMessage(sc, bytes);
    if (s.done) return true;
    if (!forced && wire.length >= bytes.length) return this.sendMessage(s, bytes, endStream);
    return this.sendMessage(s, wire, endStream, true);
  }

  /** Drops a finished stream's queued messages and wakes its producer. */
  protected releaseStream(s: S): void {
    s.done = true;
    if (s.inbox !== undefined) {
      // Queued input will never be read: give its connection credit back at once (spec §8).
      for (const e of s.inbox) if (e.credit > 0) this.returnCredit(undefined, e.credit);
      s.inbox = undefined;
    }
    this.streams.delete(s);
    if (s.deadline !== undefined) this.deadlineStreams--;
    s.pendingOut = undefined;
    s.chunks = undefined;
    s.wake();
    if (this.streams.size === 0) {
      this.idleSince = this.clock.now();
      this.onIdle();
    }
  }

  /** Called when the last stream ends (e.g. to finish a graceful shutdown). */
  protected onIdle(): void {}

  /** Fails a stream locally; `notifyPeer` sends CANCEL/TRAILERS as the side requires. */
  protected abstract failStream(s: S, error: RpcError, notifyPeer: boolean): void;

  // ---- connection errors and shutdown ---------------------------------------------------

  /** A protocol violation: GOAWAY with the error code, then close. The process keeps serving. */
  protected connectionError(e: unknown): void {
    if (this.closed || this.failed) return;
    this.failed = true;
    const code = e instanceof ProtocolError ? e.code : ErrorCode.INTERNAL_ERROR;
    const msg = e instanceof Error ? e.message : String(e);
    this.closeError = new RpcError(statusForGoAway(code), `petrel/1 connection error ${errorCodeName(code)}: ${msg}`);
    this.sendGoAwayAndClose(code, msg);
  }

  protected abstract lastStreamIdForGoAway(): number;

  /** Sends GOAWAY and closes the channel once it is written. */
  protected sendGoAwayAndClose(code: number, debug: string): void {
    this.draining = true;
    this.failed = true;
    this.reader.stop();
    if (!this.helloSent) {
      // A peer that never sent a valid preface gets nothing back (spec §2.1).
      this.channel?.end();
      this.clock.setTimeout(() => this.channel?.destroy(), 2000);
      return;
    }
    try {
      this.writer.writeGoAway(this.lastStreamIdForGoAway(), code, debug);
    } catch {
      // A debug text that cannot be encoded must not stop the close.
    }
    this.flush();
    this.channel?.end();
    // The peer may not read: make sure the channel really closes.
    this.clock.setTimeout(() => this.channel?.destroy(), 2000);
  }

  /** Closes the channel right away (all streams fail UNAVAILABLE). */
  destroy(reason = "connection destroyed"): void {
    if (this.closed) return;
    this.closeError ??= new RpcError(Code.UNAVAILABLE, reason);
    this.channel?.destroy();
    this.onClose();
  }

  // ---- timers ---------------------------------------------------------------------------

  /** Registers a stream with a deadline with the coarse deadline sweeper. */
  protected trackDeadline(_s: S): void {
    this.deadlineStreams++;
    if (this.deadlineTimer === undefined) this.armDeadlineTimer();
  }

  private armDeadlineTimer(): void {
    this.deadlineTimer = this.clock.setTimeout(() => this.sweepDeadlines(), DEADLINE_TICK_MS);
  }

  private sweepDeadlines(): void {
    this.deadlineTimer = undefined;
    if (this.closed || this.deadlineStreams <= 0) return;
    const now = this.clock.now();
    this.streams.forEach((s) => {
      if (s.deadline !== undefined && s.deadline <= now && !s.done) this.onDeadline(s);
    });
    if (this.deadlineStreams > 0) this.armDeadlineTimer();
  }

  /** A stream's deadline passed. */
  protected abstract onDeadline(s: S): void;

  /**
   * Starts the handshake timer: a peer that has not sent its preface and SETTINGS in time is cut
   * off, however slowly it trickles bytes (the timer starts at connect and is never extended).
   */
  protected startHandshakeTimer(): void {
    if (this.handshakeTimeoutMs <= 0 || this.peerSettingsSeen) return;
    this.handshakeTimer = this.clock.setTimeout(() => {
      this.handshakeTimer = undefined;
      if (this.closed || this.failed || this.peerSettingsSeen) return;
      this.closeError = new RpcError(Code.UNAVAILABLE, `no preface and SETTINGS within ${this.handshakeTimeoutMs} ms`);
      this.sendGoAwayAndClose(ErrorCode.ENHANCE_YOUR_CALM, `no SETTINGS within ${this.handshakeTimeoutMs} ms`);
    }, this.handshakeTimeoutMs);
  }

  private clearHandshakeTimer(): void {
    if (this.handshakeTimer !== undefined) this.clock.clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
  }

  /** Starts keepalive and idle checks; adapters call it once the connection is open. */
  protected startHousekeeping(): void {
    const every = Math.min(this.keepaliveMs || Number.POSITIVE_INFINITY, this.idleTimeoutMs || Number.POSITIVE_INFINITY);
    if (!Number.isFinite(every)) return;
    const tick = Math.max(10, Math.min(every / 4, 1000));
    const run = () => {
      this.housekeepingTimer = undefined;
      if (this.closed) return;
      this.housekeeping();
      if (!this.closed) this.housekeepingTimer = this.clock.setTimeout(run, tick);
    };
    this.housekeepingTimer = this.clock.setTimeout(run, tick);
  }

  private housekeeping(): void {
    const now = this.clock.now();
    if (this.keepaliveMs > 0) {
      if (this.pingSentAt !== undefined && now - this.pingSentAt >= this.keepaliveTimeoutMs) {
        this.closeError = new RpcError(Code.UNAVAILABLE, `keepalive: no answer from peer within ${this.keepaliveTimeoutMs} ms`);
        this.destroy();
        return;
      }
      if (this.pingSentAt === undefined && now - this.lastActivity >= this.keepaliveMs) {
        this.pingSentAt = now;
        this.writer.writePing(new Uint8Array(8), false);
        this.scheduleFlush();
      }
    }
    if (this.idleTimeoutMs > 0 && this.streams.size === 0 && !this.draining && now - this.idleSince >= this.idleTimeoutMs) {
      this.closeError = new RpcError(Code.UNAVAILABLE, "idle timeout");
      this.sendGoAwayAndClose(ErrorCode.IDLE_TIMEOUT, `idle for ${this.idleTimeoutMs} ms`);
    }
  }

  private stopTimers(): void {
    this.clearHandshakeTimer();
    if (this.deadlineTimer !== undefined) this.clock.clearTimeout(this.deadlineTimer);
    if (this.housekeepingTimer !== undefined) this.clock.clearTimeout(this.housekeepingTimer);
    this.deadlineTimer = undefined;
    this.housekeepingTimer = undefined;
  }

  /** Writes the preface and our SETTINGS. */
  protected writeHello(version: number = PROTOCOL_VERSION): void {
    this.helloSent = true;
    this.writer.writePreface(version);
    this.writer.writeSettings(this.local);
  }

  /** Writes only the preface (a server refusing a version answers preface + GOAWAY). */
  protected writePrefaceOnly(version: number = PROTOCOL_VERSION): void {
    this.helloSent = true;
    this.writer.writePreface(version);
  }

  /** The message for an unsupported version, for subclasses. */
  protected unsupported(version: number): string {
    return unsupportedVersionMessage(version);
  }
}

/** The call status for calls cut off by a connection error with this GOAWAY code (spec §11.3). */
export function statusForGoAway(code: number): Code {
  switch (code) {
    case ErrorCode.NO_ERROR:
    case ErrorCode.IDLE_TIMEOUT:
    case ErrorCode.UNSUPPORTED_VERSION:
      return Code.UNAVAILABLE;
    case ErrorCode.ENHANCE_YOUR_CALM:
      return Code.RESOURCE_EXHAUSTED;
    default:
      return Code.INTERNAL;
  }
}

function mixedChunks(streamId: number): ProtocolError {
  return new ProtocolError(ErrorCode.PROTOCOL_ERROR, `chunks of one message on stream ${streamId} disagree on COMPRESSED`);
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let o = 0;
  for (let i = 0; i < chunks.length; i++) {
    const c = chunks[i] as Uint8Array;
    out.set(c, o);
    o += c.length;
  }
  return out;
}
