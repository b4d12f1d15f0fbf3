/**
 * Replays a client stream's outgoing messages to the next attempt (gRFC A6 "buffering"). Each
 * attempt gets an iterator that first yields what earlier attempts already took from the source,
 * then pulls new messages from the one shared source. Once more than `limit` messages were taken,
 * the call is committed: the buffer is dropped and no further attempt may start.
 * A6 limits bytes; Petrel counts messages because the size is only known after encoding, which
 * happens below the interceptors.
 * @internal
 */
export class ReplayInput<T> {
  private readonly source: AsyncIterator<T>;
  private buffer: T[] = [];
  /** Messages taken from the source so far. */
  private taken = 0;
  private pending: Promise<IteratorResult<T>> | undefined;
  private current = 0;
  private sourceDone = false;
  /** True once the buffer overflowed: the call can no longer be retried. */
  overflowed = false;

  constructor(
    source: AsyncIterable<T>,
    private readonly limit: number,
  ) {
    this.source = source[Symbol.asyncIterator]();
  }

  /** The input of a new attempt; earlier attempts' iterators end at once from now on. */
  attempt(): AsyncIterable<T> {
    const id = ++this.current;
    const self = this;
    return {
      [Symbol.asyncIterator]: () => {
        let i = 0;
        return {
          async next(): Promise<IteratorResult<T>> {
            if (id !== self.current) return { done: true, value: undefined };
            if (i < self.buffer.length) return { done: false, value: self.buffer[i++] as T };
            if (self.sourceDone) return { done: true, value: undefined };
            // Messages dropped at overflow cannot be replayed to a later attempt.
            if (self.overflowed && i < self.taken) return { done: true, value: undefined };
            const r = await self.pull();
            if (id !== self.current) return { done: true, value: undefined };
            if (!r.done) i++;
            return r;
          },
          async return(): Promise<IteratorResult<T>> {
            return { done: true, value: undefined };
          },
        };
      },
    };
  }

  /** Frees the buffer: the call is committed to the current attempt. */
  commit(): void {
    this.overflowed = true;
    this.buffer = [];
  }

  /** Stops the source (the call ended or was abandoned). */
  close(): void {
    this.current = -1;
    this.buffer = [];
    void this.source.return?.()?.catch(() => {});
  }

  private pull(): Promise<IteratorResult<T>> {
    if (this.pending === undefined) {
      this.pending = this.source.next().then(
        (r) => {
          this.pending = undefined;
          if (r.done) {
            this.sourceDone = true;
            return r;
          }
          this.taken++;
          if (!this.overflowed) {
            if (this.buffer.length >= this.limit) this.commit();
            else this.buffer.push(r.value);
          }
          return r;
        },
        (e) => {
          this.pending = undefined;
          throw e;
        },
      );
    }
    return this.pending;
  }
}
