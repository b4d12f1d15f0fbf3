/**
 * Per-message wire hints, kept beside a message object rather than in it: a message stays the
 * plain protobuf-es value its schema describes, and code that never asks pays nothing.
 *
 * Compression in gRPC is negotiated per call (`grpc-encoding`) but flagged per message: a call
 * whose encoding is gzip may still send some messages uncompressed (C-core's
 * `GRPC_WRITE_NO_COMPRESS`, grpc-java's `setMessageCompression(false)`), and a receiver can see each
 * message's flag. Petrel expresses both with two functions on the message object:
 *
 * - {@link setMessageCompression}`(msg, false)` before sending `msg` (a request on a client stream,
 *   a response from a handler): that message goes out uncompressed although its call compresses.
 *   `true` compresses the message even when it is smaller than the transport's `compressMinBytes`
 *   (default 1024); without a hint the size decides. Either only has an effect on a call that has
 *   an encoding.
 * - {@link wasCompressed}`(msg)` on a received message: whether it arrived with the compressed flag.
 *   Transports that never compress (in-memory) leave it false; gRPC, Connect and petrel/1 mark
 *   compressed messages.
 *
 * Both are WeakMap lookups keyed by the message object: transports consult the send hint only on
 * calls that compress, and record the receive flag only for compressed messages.
 */

const sendHints = new WeakMap<object, boolean>();
const receivedCompressed = new WeakSet<object>();

/** Asks the transport to send `message` compressed (default) or not; returns `message` for chaining. */
export function setMessageCompression<T extends object>(message: T, compress: boolean): T {
  sendHints.set(message, compress);
  return message;
}

/** The send hint set by {@link setMessageCompression}; undefined when none was set. */
export function messageCompressionHint(message: object): boolean | undefined {
  return sendHints.get(message);
}

/** Whether a received message arrived with its compressed flag set. */
export function wasCompressed(message: object): boolean {
  return receivedCompressed.has(message);
}

/** For transports: records that `message` arrived compressed. */
export function markReceivedCompressed(message: object): void {
  receivedCompressed.add(message);
}

/**
 * For clients and routers that turn an init object into a message: carries a send hint set on
 * `from` over to `to`. Costs one WeakMap lookup; nothing when no hint was set.
 */
export function carryMessageHints<T extends object>(from: object, to: T): T {
  const hint = sendHints.get(from);
  if (hint !== undefined) sendHints.set(to, hint);
  return to;
}
