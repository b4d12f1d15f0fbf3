/**
 * Property tests for MessageDeframer: whatever bytes arrive, in whatever chunking, it behaves
 * exactly like a one-shot reference parser of the concatenated bytes — same messages, same
 * error (always an RpcError) — and valid streams decode exactly. Inputs are valid message
 * sequences, random bytes biased towards plausible prefixes, and valid sequences mutated by bit
 * flips, overwrites, truncation, insertions, deletions and forged lengths.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Code, RpcError } from "@petrel/core";
import { MessageDeframer, frameMessage } from "./message-framer.js";

interface Outcome {
  messages: Array<[number[], boolean]>;
  error: { code: Code; message: string } | undefined;
}

/** One-shot parser written straight from the grammar, to compare the incremental one against. */
function reference(bytes: Uint8Array, max: number): Outcome {
  const messages: Outcome["messages"] = [];
  let off = 0;
  const n = bytes.length;
  while (off < n) {
    const flag = bytes[off] as number;
    if (flag > 1)
      return { messages, error: { code: Code.INTERNAL, message: `grpc: invalid compressed flag ${flag} in message prefix (want 0 or 1)` } };
    if (n - off < 5)
      return { messages, error: { code: Code.INTERNAL, message: `grpc: truncated message prefix (got ${n - off} of 5 bytes)` } };
    const len = new DataView(bytes.buffer, bytes.byteOffset + off + 1, 4).getUint32(0);
    if (len > max) {
      return { messages, error: { code: Code.RESOURCE_EXHAUSTED, message: `grpc: received message larger than max (${len} vs. ${max})` } };
    }
    off += 5;
    if (n - off < len)
      return { messages, error: { code: Code.INTERNAL, message: `grpc: truncated message (got ${n - off} of ${len} bytes)` } };
    messages.push([[...bytes.subarray(off, off + len)], flag === 1]);
    off += len;
  }
  return { messages, error: undefined };
}

/** Pushes `bytes` cut at `cuts` (any numbers; taken modulo the length), then ends. */
function incremental(bytes: Uint8Array, cuts: number[], max: number): Outcome {
  const points = [...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % (bytes.length + 1))))].sort((a, b) => a - b);
  const d = new MessageDeframer({ maxMessageSize: max });
  const messages: Outcome["messages"] = [];
  const onMessage = (b: Uint8Array, compressed: boolean): void => {
    assert.ok(b.length <= max);
    messages.push([[...b], compressed]);
  };
  try {
    let prev = 0;
    for (const p of points) {
      d.push(bytes.subarray(prev, p), onMessage);
      prev = p;
    }
    d.push(bytes.subarray(prev), onMessage);
    d.end();
  } catch (e) {
    // The property under test: nothing but RpcError ever escapes.
    if (!(e instanceof RpcError)) throw e;
    // And a dead deframer stays dead with the same error.
    assert.throws(
      () => d.push(new Uint8Array(1), onMessage),
      (again) => again === e,
    );
    return { messages, error: { code: e.code, message: e.rawMessage } };
  }
  return { messages, error: undefined };
}

let sequencesFed = 0;

function check(bytes: Uint8Array, cuts: number[], max: number): void {
  sequencesFed++;
  assert.deepEqual(incremental(bytes, cuts, max), reference(bytes, max));
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const messagesArb = fc.array(fc.record({ bytes: fc.uint8Array({ maxLength: 40 }), compressed: fc.boolean() }), { maxLength: 8 });
const cutsArb = fc.array(fc.nat({ max: 400 }), { maxLength: 12 });
const maxArb = fc.oneof(fc.integer({ min: 0, max: 48 }), fc.constant(1 << 20));

/** Bytes that often form plausible prefixes: flags 0/1 and small length bytes are common. */
const byteArb = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(0, 1) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) });

type Mutation =
  | { t: "flip"; at: number; bit: number }
  | { t: "set"; at: number; value: number }
  | { t: "truncate"; at: number }
  | { t: "insert"; at: number; bytes: number[] }
  | { t: "delete"; at: number; count: number }
  | { t: "length"; at: number; value: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ t: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ t: fc.constant("set" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ t: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ t: fc.constant("insert" as const), at: fc.nat(), bytes: fc.array(byteArb, { minLength: 1, maxLength: 6 }) }),
  fc.record({ t: fc.constant("delete" as const), at: fc.nat(), count: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ t: fc.constant("length" as const), at: fc.nat(), value: fc.oneof(fc.nat({ max: 64 }), fc.nat({ max: 0xffffffff })) }),
);

function mutate(input: Uint8Array, mutations: Mutation[]): Uint8Array {
  let b = input;
  for (const m of mutations) {
    const at = b.length === 0 ? 0 : m.at % b.length;
    switch (m.t) {
      case "flip":
        if (b.length > 0) b[at] = (b[at] as number) ^ (1 << m.bit);
        break;
      case "set":
        if (b.length > 0) b[at] = m.value;
        break;
      case "truncate":
        b = b.slice(0, at);
        break;
      case "insert":
        b = concat([b.subarray(0, at), new Uint8Array(m.bytes), b.subarray(at)]);
        break;
      case "delete":
        b = concat([b.subarray(0, at), b.subarray(at + m.count)]);
        break;
      case "length":
        // Overwrites 4 bytes as a big-endian length, wherever `at` lands (often on a real prefix).
        if (b.length >= 4) new DataView(b.buffer, b.byteOffset).setUint32(Math.min(at, b.length - 4), m.value);
        break;
    }
  }
  return b;
}

describe("MessageDeframer fuzz", () => {
  it("decodes valid streams exactly, in any chunking", () => {
    fc.assert(
      fc.property(messagesArb, cutsArb, (msgs, cuts) => {
        const bytes = concat(msgs.map((m) => frameMessage(m.bytes, m.compressed)));
        const out = incremental(bytes, cuts, 1 << 20);
        sequencesFed++;
        assert.equal(out.error, undefined);
        assert.deepEqual(
          out.messages,
          msgs.map((m) => [[...m.bytes], m.compressed]),
        );
      }),
      { numRuns: 30_000 },
    );
  });

  it("matches the reference parser on random bytes", () => {
    fc.assert(
      fc.property(fc.array(byteArb, { maxLength: 64 }), cutsArb, maxArb, (arr, cuts, max) => check(new Uint8Array(arr), cuts, max)),
      { numRuns: 30_000 },
    );
  });

  it("matches the reference parser on mutated valid streams", () => {
    fc.assert(
      fc.property(messagesArb, fc.array(mutationArb, { minLength: 1, maxLength: 4 }), cutsArb, maxArb, (msgs, mutations, cuts, max) => {
        const bytes = mutate(concat(msgs.map((m) => frameMessage(m.bytes, m.compressed))), mutations);
        check(bytes, cuts, max);
      }),
      { numRuns: 45_000 },
    );
  });

  // Runs last (node:test runs a suite's tests in order), so it sees every property's count.
  it("fed at least 100,000 sequences", () => {
    assert.ok(sequencesFed >= 100_000, `fed only ${sequencesFed} sequences`);
  });
});
