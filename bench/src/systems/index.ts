// Registry of benchmarked systems.
//
// A system is one module under ./systems/ whose default export implements
// BenchSystem. To add one: write the file, add one line to `registry`, and
// (to run it without --systems) add its name to DEFAULT_SYSTEMS.
// "h2load>X" rows run system X's server under the h2load binary (see ../h2load.ts): their
// registry entry is X's module, whose client is never used.
// Modules are loaded lazily, only inside the child that runs them, so a broken
// or unfinished system cannot affect the others.

/** Server side, run inside the server child process. */
export interface BenchServer {
  /** The TCP port actually bound on 127.0.0.1 (the child passes 0). */
  port: number;
  close(): Promise<void>;
}

/** Client side, run inside the client child process; ONE connection per client. */
export interface BenchClient {
  /** One Echo call with the ~100-byte message; resolves on the response. */
  unary(): Promise<void>;
  /**
   * One StreamEcho call asking for `count` messages; `onMessage` is called once
   * per received message; resolves when the stream ends.
   */
  serverStream(count: number, onMessage: () => void): Promise<void>;
  close(): Promise<void>;
}

export interface BenchSystem {
  name: string;
  startServer(port: number): Promise<BenchServer>;
  createClient(addr: { host: string; port: number }): Promise<BenchClient>;
}

export const registry: Record<string, () => Promise<{ default: BenchSystem }>> = {
  "grpc-js": () => import("./grpc-js.ts"),
  "raw-net": () => import("./raw-net.ts"),
  "petrel-native": () => import("./petrel-native.ts"),
  "petrel-grpc": () => import("./petrel-grpc.ts"),
  "grpc-js>petrel-grpc": () => import("./grpc-js-to-petrel-grpc.ts"),
  "petrel-grpc>grpc-js": () => import("./petrel-grpc-to-grpc-js.ts"),
  "raw-http2": () => import("./raw-http2.ts"),
  "raw-http2>grpc-js": () => import("./raw-http2-to-grpc-js.ts"),
  "connect-node": () => import("./connect-node.ts"),
  "connect-node>petrel-grpc": () => import("./connect-node-to-petrel-grpc.ts"),
  "h2load>petrel-grpc": () => import("./petrel-grpc.ts"),
  "h2load>grpc-js": () => import("./grpc-js.ts"),
  "h2load>raw-http2": () => import("./raw-http2.ts"),
  "h2load>connect-node": () => import("./connect-node.ts"),
  // JSON over HTTP/1.1. "h2load-h1>X" rows drive X's server with h2load --h1 (see ../h2load-h1.ts).
  "petrel-jsonrpc": () => import("./petrel-jsonrpc.ts"),
  jayson: () => import("./jayson.ts"),
  "h2load-h1>petrel-jsonrpc": () => import("./petrel-jsonrpc.ts"),
  "h2load-h1>node-http-json": () => import("./node-http-json.ts"),
  "h2load-h1>jayson": () => import("./jayson.ts"),
  "h2load-h1>petrel-rest": () => import("./petrel-rest.ts"),
  "h2load-h1>node-http-rest": () => import("./node-http-json.ts"),
  // One port (createPetrelServer) instead of each protocol's dedicated server, same clients.
  "oneport>petrel-native": () => import("./oneport.ts").then((m) => ({ default: m.native })),
  "oneport>petrel-grpc": () => import("./oneport.ts").then((m) => ({ default: m.grpc })),
  "h2load>oneport>petrel-grpc": () => import("./oneport.ts").then((m) => ({ default: m.grpc })),
  "h2load-h1>oneport>petrel-jsonrpc": () => import("./oneport.ts").then((m) => ({ default: m.jsonrpc })),
};

/** Systems without a server-stream row (JSON-RPC and REST carry unary calls only here). */
export const UNARY_ONLY: ReadonlySet<string> = new Set(["petrel-jsonrpc", "jayson"]);

/** Systems run when --systems is not given: every row, so one run has every ratio. */
export const DEFAULT_SYSTEMS = [
  "petrel-native",
  "petrel-grpc",
  "grpc-js>petrel-grpc",
  "petrel-grpc>grpc-js",
  "raw-http2>grpc-js",
  "connect-node>petrel-grpc",
  "h2load>petrel-grpc",
  "grpc-js",
  "connect-node",
  "h2load>grpc-js",
  "h2load>connect-node",
  "raw-http2",
  "h2load>raw-http2",
  "raw-net",
  "oneport>petrel-native",
  "oneport>petrel-grpc",
  "h2load>oneport>petrel-grpc",
  "h2load-h1>petrel-jsonrpc",
  "h2load-h1>oneport>petrel-jsonrpc",
  "h2load-h1>node-http-json",
  "h2load-h1>jayson",
  "h2load-h1>petrel-rest",
  "h2load-h1>node-http-rest",
  "petrel-jsonrpc",
  "jayson",
];

/** Systems run by --quick without --systems: the ones the ratio lines with targets need. */
export const QUICK_SYSTEMS = [
  "petrel-native",
  "petrel-grpc",
  "petrel-grpc>grpc-js",
  "h2load>petrel-grpc",
  "grpc-js",
  "h2load>grpc-js",
  "h2load>raw-http2",
  "raw-net",
];

export async function loadSystem(name: string): Promise<BenchSystem> {
  const load = registry[name];
  if (!load) throw new Error(`unknown system "${name}" (known: ${Object.keys(registry).join(", ")})`);
  return (await load()).default;
}

// The benchmark message. Protobuf encoding of {text, seq, payload} with seq in [2^20, 2^21):
// (1+1+32) + (1+3) + (1+1+60) = 100 bytes. raw-net sends an opaque 100-byte payload.
export const MESSAGE_TEXT = "petrel-bench-echo-message-012345"; // 32 chars
export const MESSAGE_PAYLOAD: Buffer = Buffer.alloc(60, 0xab);
export const RAW_PAYLOAD_BYTES = 100;
/** Sequence number that always encodes as a 3-byte varint, so every message is 100 B. */
export function seqOf(n: number): number {
  return 0x100000 + (n & 0xfffff);
}
