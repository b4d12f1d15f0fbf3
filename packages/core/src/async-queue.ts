/**
 * A single-consumer async queue: producers `push`, `end` or `fail`; the consumer iterates.
 * Protocols use it to hand received messages to handlers and clients; `onConsume` tells the
 * protocol when a message was taken, so it can return flow-control credit only then (a slow
 * consumer then bounds what the peer may send).
 */
export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  private items: T[] = [];
  private head = 0;
  private resolveNext: ((r: IteratorResult<T>) => void) | undefined = undefined;
  private rejectNext: ((e: unknown) => void) | undefined = undefined;
  private ended = false;
  private error: unknown = undefined;
  private failed = false;
  private returned = false;

  /**
   * @param onConsume called with each item as the consumer takes it.
   * @param onReturn called once if the consumer stops early (`break`, `return()`).
   */
  constructor(
    private readonly onConsume?: (item: T) => void,
    private readonly onReturn?: () => void,
  ) {}

  /** Items waiting for the consumer. */
  get length(): number {
    return this.items.length - this.head;
  }

  /** Whether the consumer stopped early. */
  get abandoned(): boolean {
    return this.returned;
  }

  /** Whether `end` or `fail` was called. */
  get closed(): boolean {
    return this.ended || this.failed;
  }

  /** Adds an item (ignored after end/fail/return). */
  push(item: T): void {
    if (this.ended || this.failed || this.returned) return;
    const resolve = this.resolveNext;
    if (resolve !== undefined) {
      this.resolveNext = undefined;
      this.rejectNext = undefined;
      this.onConsume?.(item);
      resolve({ value: item, done: false });
      return;
    }
    this.items.push(item);
  }

  /** Ends the stream after the queued items. */
  end(): void {
    if (this.ended || this.failed) return;
    this.ended = true;
    if (this.resolveNext !== undefined && this.length === 0) {
      const resolve = this.resolveNext;
      this.resolveNext = undefined;
      this.rejectNext = undefined;
      resolve({ value: undefined, done: true });
    }
  }

  /**
   * Fails the stream: the consumer reads the queued items, then `error` (or `error` at once with
   * `discard`, for cancellations where the queued items no longer matter).
   */
  fail(error: unknown, discard = false): void {
    if (this.ended || this.failed) return;
    this.failed = true;
    this.error = error;
    if (discard) {
      this.items = [];
      this.head = 0;
    }
    if (this.rejectNext !== undefined) {
      const reject = this.rejectNext;
      this.resolveNext = undefined;
      this.rejectNext = undefined;
      reject(error);
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.head < this.items.length) {
      const item = this.items[this.head] as T;
      this.items[this.head] = undefined as T;
      this.head++;
      // Compact occasionally instead of shift(): shift is O(n) on large queues.
      if (this.head === this.items.length) {
        this.items.length = 0;
        this.head = 0;
      } else if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      this.onConsume?.(item);
      return Promise.resolve({ value: item, done: false });
    }
    if (this.failed) return Promise.reject(this.error);
    if (this.ended || this.returned) return Promise.resolve({ value: undefined, done: true });
    if (this.resolveNext !== undefined) return Promise.reject(new Error("AsyncQueue: concurrent next() calls"));
    return new Promise((resolve, reject) => {
      this.resolveNext = resolve;
      this.rejectNext = reject;
    });
  }

  return(): Promise<IteratorResult<T>> {
    if (!this.returned && !this.ended && !this.failed) {
      this.returned = true;
      this.items = [];
      this.head = 0;
      this.onReturn?.();
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
