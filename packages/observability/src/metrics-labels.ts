// Label values shared by the metrics: `rpc_system` from the protocol a call came in on, and the
// status label pair. Kept apart so the access log and tests use the same mapping.
import { codeName } from "@petrel/core";

/**
 * `ctx.peer.protocol` (what Petrel's protocol adapters report) -> the `rpc_system` label.
 * OpenTelemetry defines `grpc`, `connect_rpc`, `jsonrpc`, `apache_dubbo`, `dotnet_wcf`, `java_rmi`;
 * Petrel's own names fill the rest. JSON-RPC over HTTP, WebSocket and raw TCP is one system,
 * `jsonrpc`, as in OpenTelemetry; Connect keeps the short name `connect` of the issue.
 */
const SYSTEMS: Readonly<Record<string, string>> = {
  "petrel/1": "petrel",
  grpc: "grpc",
  connect: "connect",
  "grpc-web": "grpc_web",
  rest: "rest",
  "jsonrpc/http": "jsonrpc",
  "jsonrpc/ws": "jsonrpc",
  "jsonrpc/tcp": "jsonrpc",
  "netrpc-gob": "netrpc",
  "in-memory": "in_memory",
};

/**
 * The `rpc_system` label for a protocol name: the table above, else the name lower-cased with
 * every character outside `[a-z0-9_]` replaced by `_` (so a new protocol still gets a stable,
 * low-cardinality value), `unknown` for an empty name.
 */
export function rpcSystemOf(protocol: string): string {
  const known = SYSTEMS[protocol];
  if (known !== undefined) return known;
  const s = protocol.toLowerCase().replace(/[^a-z0-9_]/g, "_");
  return s === "" ? "unknown" : s;
}

/** The two status labels: `rpc_grpc_status_code` (OpenTelemetry, numeric) and `rpc_status` (the code's name). */
export function statusLabels(code: number): { readonly num: string; readonly name: string } {
  return STATUS[code] ?? { num: String(code), name: codeName(code) };
}

// Precomputed: the status labels are built on every call.
const STATUS = Array.from({ length: 17 }, (_, i) => ({ num: String(i), name: codeName(i) }));
