// Test support (not part of the example's API): every kind of client the Arith tests point at one
// port, and the peers (Go, Python, curl) they need. A missing peer fails under CI and is skipped
// loudly otherwise (peerMissing).
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { fromBinary, toBinary, type DescMessage, type DescMethod } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { buildGoProgram, goAvailable } from "@petrel/testing";
import WebSocket from "ws";
import { assertGoClientCallsArith, peerMissing, PYTHON, pythonHas, run } from "../../../packages/node/src/jsonrpc-peers-fixture.js";
import { Arith } from "./gen/arith/arith_pb.js";

export { assertGoClientCallsArith, goAvailable, peerMissing, PYTHON, pythonHas, run };

/** The example's folder (examples/arith). @internal */
export const EXAMPLE_DIR = join(dirname(fileURLToPath(import.meta.url)), "..");
/** The repository root. @internal */
export const REPO_ROOT = join(EXAMPLE_DIR, "../..");
/** Debian's curl. @internal */
export const CURL = "/usr/bin/curl";

/** Builds examples/arith/go/client (standard library only: GOPATH mode, offline, cached by source hash). @internal */
export function buildGoClient(): Promise<string> {
  return buildGoProgram(join(EXAMPLE_DIR, "go/client"), { cacheTag: "arith-client" });
}

/** Runs curl; resolves `{status, body}` (curl's `-w` appends the status after the body). @internal */
export async function curl(args: string[]): Promise<{ status: number; body: string }> {
  const out = await run(CURL, ["-sS", "--max-time", "60", "-w", "\n%{http_code}", ...args]);
  const nl = out.lastIndexOf("\n");
  return { status: Number(out.slice(nl + 1)), body: out.slice(0, nl) };
}

/** A @grpc/grpc-js client for Arith, serializing with protobuf-es (no protoc, no proto-loader). @internal */
export interface GrpcJsArith {
  call(method: "Multiply" | "Divide", req: { A: number; B: number }): Promise<unknown>;
  close(): void;
}

/** A grpc-js stub for Arith on `host:port`. @internal */
export function grpcJsArith(address: string): GrpcJsArith {
  const def = (m: DescMethod): grpc.MethodDefinition<unknown, unknown> => {
    const ser = (s: DescMessage) => (v: unknown) => Buffer.from(toBinary(s, v as never));
    const de = (s: DescMessage) => (b: Buffer) => fromBinary(s, b);
    return {
      path: `/${Arith.typeName}/${m.name}`,
      requestStream: false,
      responseStream: false,
      requestSerialize: ser(m.input),
      requestDeserialize: de(m.input),
      responseSerialize: ser(m.output),
      responseDeserialize: de(m.output),
    };
  };
  const Ctor = grpc.makeGenericClientConstructor({ Multiply: def(Arith.method.multiply), Divide: def(Arith.method.divide) }, "Arith");
  const client = new Ctor(address, grpc.credentials.createInsecure());
  return {
    call(method, req) {
      const m = method === "Multiply" ? Arith.method.multiply : Arith.method.divide;
      return new Promise((resolve, reject) => {
        const fn = client[method] as unknown as (
          r: unknown,
          d: grpc.CallOptions,
          cb: (e: grpc.ServiceError | null, v: unknown) => void,
        ) => void;
        fn.call(client, { $typeName: m.input.typeName, ...req }, { deadline: Date.now() + 60_000 }, (e, v) => (e ? reject(e) : resolve(v)));
      });
    },
    close: () => client.close(),
  };
}

/** Sends JSON-RPC messages over one WebSocket; resolves each answer in order of sending (ids 1..n). @internal */
export async function wsCalls(url: string, requests: readonly unknown[]): Promise<unknown[]> {
  const ws = new WebSocket(url);
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    const answers = new Map<unknown, unknown>();
    const done = new Promise<void>((resolve, reject) => {
      ws.on("message", (data) => {
        const msg = JSON.parse(String(data)) as { id: unknown };
        answers.set(msg.id, msg);
        if (answers.size === requests.length) resolve();
      });
      ws.once("close", () => reject(new Error("WebSocket closed before every answer came")));
    });
    for (const r of requests) ws.send(JSON.stringify(r));
    await done;
    return requests.map((r) => answers.get((r as { id: unknown }).id));
  } finally {
    if (ws.readyState !== WebSocket.CLOSED) {
      const closed = new Promise((resolve) => ws.once("close", resolve));
      ws.close();
      await closed;
    }
  }
}
