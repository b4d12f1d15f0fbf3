import type { ByteChannel, ChannelEvents, Dialer } from "./channel.js";

// The manual clock is shared with the other packages' tests; this package's runtime code never imports @petrel/testing.
export { FakeClock, settle } from "@petrel/testing";

/**
 * Two in-memory byte channels wired back to back: what one side writes reaches the other's
 * `onData` on a later task. `blackhole()` makes the server side swallow everything, like a peer
 * that vanished without closing the connection.
 */
export function channelPair(): { dial: Dialer; accept: (events: ChannelEvents) => ByteChannel; blackhole(): void } {
  let server: ChannelEvents | undefined;
  let client: ChannelEvents | undefined;
  let dropped = false;
  let closed = false;
  const closeBoth = () => {
    if (closed) return;
    closed = true;
    setImmediate(() => {
      client?.onClose();
      server?.onClose();
    });
  };
  const deliver = (to: () => ChannelEvents | undefined, bytes: Uint8Array) => {
    if (closed || dropped) return;
    const copy = bytes.slice();
    setImmediate(() => {
      if (!closed) to()?.onData(copy);
    });
  };
  return {
    dial(_address, events) {
      client = events;
      setImmediate(() => events.onOpen());
      return { write: (b) => deliver(() => server, b), end: closeBoth, destroy: closeBoth };
    },
    accept(events) {
      server = events;
      return { write: (b) => deliver(() => client, b), end: closeBoth, destroy: closeBoth };
    },
    blackhole() {
      dropped = true;
    },
  };
}
