/**
 * Test helpers: scripted fake transports (as the `next` of an interceptor) and fake-clock driving.
 * @internal test-only
 */
import {
  type AnyFn,
  type AnyRequest,
  type AnyResponse,
  Code,
  Metadata,
  RpcError,
  type StreamRequest,
  type UnaryRequest,
} from "@petrel/core";
import { TestService } from "@petrel/testing";
import { create } from "@bufbuild/protobuf";
import type { FakeClock } from "./clock.js";

const echo = TestService.method.echo;
const bidi = TestService.method.bidi;

/** A unary Echo request. */
export function unaryReq(init: { deadline?: number; signal?: AbortSignal } = {}): UnaryRequest {
  return {
    stream: false,
    service: TestService,
    method: echo,
    path: "/petrel.testing.v1.TestService/Echo",
    header: new Metadata(),
    deadline: init.deadline,
    signal: init.signal,
    codec: undefined,
    message: create(echo.input, { text: "hi" }),
  } as UnaryRequest;
}

/** A bidi request over the given messages. */
export function streamReq(texts: string[]): StreamRequest {
  async function* gen() {
    for (const text of texts) yield create(bidi.input, { text });
  }
  return {
    stream: true,
    service: TestService,
    method: bidi,
    path: "/petrel.testing.v1.TestService/Bidi",
    header: new Metadata(),
    deadline: undefined,
    signal: undefined,
    codec: undefined,
    message: gen(),
  } as StreamRequest;
}

/** An error with optional trailers. */
export function err(code: Code, trailers?: Record<string, string>): RpcError {
  return new RpcError(code, "scripted", { metadata: trailers });
}

/** A unary success. */
export function ok(text = "ok"): AnyResponse {
  return {
    stream: false,
    service: TestService,
    method: echo,
    header: new Metadata(),
    trailer: new Metadata(),
    message: create(echo.output, { text }),
  } as AnyResponse;
}

/** One scripted outcome: an error to reject with, a response, or a promise you control. */
export type Step = RpcError | AnyResponse | (() => Promise<AnyResponse>);

/** A fake transport answering attempt i with steps[i] (the last step repeats); records requests. */
export function scripted(steps: Step[]): { next: AnyFn; calls: AnyRequest[] } {
  const calls: AnyRequest[] = [];
  const next: AnyFn = (req) => {
    const step = steps[Math.min(calls.length, steps.length - 1)] as Step;
    calls.push(req);
    if (typeof step === "function") return step();
    return step instanceof RpcError ? Promise.reject(step) : Promise.resolve(step);
  };
  return { next, calls };
}

/** A promise you resolve or reject later, that also rejects when `signal` aborts. */
export function controlled(signalOf?: () => AbortSignal | undefined) {
  let resolve!: (r: AnyResponse) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<AnyResponse>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const s = signalOf?.();
  s?.addEventListener("abort", () => reject(RpcError.from(s.reason, Code.CANCELLED)));
  return { promise, resolve, reject };
}

/** Lets pending promise callbacks run. */
export function flush(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/** Runs due timers of the fake clock until `p` settles (bounded). */
export async function settle<T>(clock: FakeClock, p: Promise<T>): Promise<T> {
  let done = false;
  p.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  for (let i = 0; i < 1000 && !done; i++) {
    await flush();
    if (!done && clock.pending > 0) clock.runAll();
  }
  return p;
}
