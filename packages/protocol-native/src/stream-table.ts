/**
 * Active streams by id. Stream ids grow by one per call, so `id & mask` spreads them over an
 * array; a collision (a long-lived stream still holding the slot) grows the table. This avoids a
 * `Map` with an insert and a delete per call, which was measured to promote entries to old space
 * and cause full GCs on the hot path (shared PERF-NOTES).
 */
export class StreamTable<T extends { readonly id: number }> {
  private slots: Array<T | undefined>;
  private mask: number;
  private count = 0;

  constructor(initialCapacity = 256) {
    let cap = 16;
    while (cap < initialCapacity) cap <<= 1;
    this.slots = new Array<T | undefined>(cap).fill(undefined);
    this.mask = cap - 1;
  }

  /** Number of streams held. */
  get size(): number {
    return this.count;
  }

  get(id: number): T | undefined {
    const s = this.slots[id & this.mask];
    return s !== undefined && s.id === id ? s : undefined;
  }

  add(stream: T): void {
    while (this.slots[stream.id & this.mask] !== undefined) this.grow();
    this.slots[stream.id & this.mask] = stream;
    this.count++;
  }

  delete(stream: T): void {
    const i = stream.id & this.mask;
    if (this.slots[i] === stream) {
      this.slots[i] = undefined;
      this.count--;
    }
  }

  /** Calls `fn` for every stream; `fn` may delete the stream it is given. */
  forEach(fn: (stream: T) => void): void {
    if (this.count === 0) return;
    const slots = this.slots.slice();
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i];
      if (s !== undefined) fn(s);
    }
  }

  private grow(): void {
    const old = this.slots;
    let cap = old.length << 1;
    for (;;) {
      const next = new Array<T | undefined>(cap).fill(undefined);
      const mask = cap - 1;
      let ok = true;
      for (let i = 0; i < old.length; i++) {
        const s = old[i];
        if (s === undefined) continue;
        if (next[s.id & mask] !== undefined) {
          ok = false;
          break;
        }
        next[s.id & mask] = s;
      }
      if (ok) {
        this.slots = next;
        this.mask = mask;
        return;
      }
      cap <<= 1;
    }
  }
}
