// Test helpers: a manual clock and a recording listener. Not exported from the package.
import type { Endpoint, ResolverListener } from "./types.js";

export { FakeClock, settle } from "@petrel/testing";

/** A listener that records what it is told. */
export class Recorder implements ResolverListener {
  readonly updates: Endpoint[][] = [];
  readonly errors: Error[] = [];

  onUpdate(endpoints: readonly Endpoint[]): void {
    this.updates.push([...endpoints]);
  }

  onError(error: Error): void {
    this.errors.push(error);
  }

  /** Addresses of the latest update, sorted. */
  get addresses(): string[] | undefined {
    const u = this.updates.at(-1);
    return u?.map((e) => e.address).sort();
  }

  /** Ids of the latest update, sorted. */
  get ids(): string[] | undefined {
    return this.updates
      .at(-1)
      ?.map((e) => e.id)
      .sort();
  }
}
