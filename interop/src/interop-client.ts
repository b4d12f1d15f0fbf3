// The gRPC interop test client:
// `npm run interop:client -- --server_host=H --server_port=P --test_case=NAME [--use_tls=false]`
//   [--use_tls=true [--use_test_ca=true] [--server_host_override=foo.test.google.fr]]`.
// Exit 0: passed; 1: failed; 2: bad usage; 3: case not supported by Petrel yet.
import { readFileSync } from "node:fs";
import { createGrpcTransport } from "@petrel/node";
import { cases, UnsupportedCaseError } from "./cases.js";
import { parseFlags } from "./flags.js";
import { testdata } from "./testdata.js";

const USAGE = `usage: interop-client --server_host=H --server_port=P --test_case=NAME [--use_tls=false|true]
       [--use_test_ca=false|true] [--server_host_override=NAME]
cases: ${Object.keys(cases).join(", ")}`;

async function main(): Promise<number> {
  let flags: Map<string, string>;
  try {
    flags = parseFlags(process.argv.slice(2), [
      "server_host",
      "server_port",
      "test_case",
      "use_tls",
      "use_test_ca",
      "server_host_override",
    ]);
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const useTls = flags.get("use_tls") ?? "false";
  const useTestCa = flags.get("use_test_ca") ?? "false";
  for (const [name, v] of [
    ["use_tls", useTls],
    ["use_test_ca", useTestCa],
  ]) {
    if (v !== "false" && v !== "true") {
      console.error(`interop-client: --${name} must be true or false, got "${v}"\n${USAGE}`);
      return 2;
    }
  }
  const host = flags.get("server_host") ?? "127.0.0.1";
  const port = Number(flags.get("server_port"));
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    console.error(`interop-client: missing or bad --server_port\n${USAGE}`);
    return 2;
  }
  const name = flags.get("test_case") ?? "";
  const run = cases[name];
  if (run === undefined) {
    console.error(`interop-client: unknown --test_case "${name}"\n${USAGE}`);
    return 2;
  }
  const authority = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  // TLS: gRPC's interop test CA (--use_test_ca) or the system's roots; --server_host_override is
  // the name the server certificate must carry (and the SNI), as in the official clients.
  const override = flags.get("server_host_override");
  const transport =
    useTls === "true"
      ? createGrpcTransport({
          baseUrl: `https://${authority}`,
          tls: {
            ...(useTestCa === "true" ? { ca: readFileSync(testdata("ca.pem")) } : {}),
            ...(override !== undefined && override !== "" ? { servername: override } : {}),
          },
        })
      : createGrpcTransport({ baseUrl: `http://${authority}` });
  try {
    await run({ transport });
    console.log(`interop-client: ${name}: PASS`);
    return 0;
  } catch (e) {
    if (e instanceof UnsupportedCaseError) {
      console.error(`interop-client: ${name}: NOT SUPPORTED YET: ${e.message}`);
      return 3;
    }
    console.error(`interop-client: ${name}: FAIL: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return 1;
  } finally {
    await transport.close();
  }
}

// Petrel's gRPC transport unrefs its HTTP/2 session, so a call in flight does not keep the process
// alive: without this timer the process could end mid-call with exit code 0 (a false pass).
process.exitCode = 1;
const keepAlive = setInterval(() => {}, 1 << 30);
// exitCode, not exit(): a piped stdout is written asynchronously and exit() could cut it short.
main().then(
  (code) => {
    clearInterval(keepAlive);
    process.exitCode = code;
    setTimeout(() => process.exit(code), 2000).unref();
  },
  (e) => {
    clearInterval(keepAlive);
    console.error("interop-client:", e);
    process.exit(1);
  },
);
