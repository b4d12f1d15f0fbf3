// The gRPC interop test server: `npm run interop:server -- --port=P [--use_tls=false] [--host=127.0.0.1]`.
// Serves grpc.testing.TestService (and grpc.health.v1) until SIGINT/SIGTERM, then closes gracefully.
// --use_tls=true serves TLS with gRPC's interop test certificate (interop/testdata/server1.pem).
import { readFileSync } from "node:fs";
import { createRouter } from "@petrel/core";
import { createHealthService, Health } from "@petrel/health";
import { createGrpcServer } from "@petrel/node";
import { parseFlags } from "./flags.js";
import { testdata } from "./testdata.js";
import { registerTestService } from "./test-service.js";
const USAGE = "usage: interop-server --port=P [--use_tls=false|true] [--host=127.0.0.1]";

async function main(): Promise<number> {
  let flags: Map<string, string>;
  try {
    flags = parseFlags(process.argv.slice(2), ["port", "use_tls", "host"]);
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const useTls = flags.get("use_tls") ?? "false";
  if (useTls !== "false" && useTls !== "true") {
    console.error(`interop-server: --use_tls must be true or false, got "${useTls}"\n${USAGE}`);
    return 2;
  }
  const port = Number(flags.get("port"));
  if (!flags.has("port") || !Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`interop-server: missing or bad --port\n${USAGE}`);
    return 2;
  }
  const host = flags.get("host") ?? "127.0.0.1";
  const health = createHealthService();
  const router = registerTestService(createRouter()).service(Health, health.impl);
  const tls = useTls === "true" ? { key: readFileSync(testdata("server1.key")), cert: readFileSync(testdata("server1.pem")) } : undefined;
  const server = createGrpcServer({ router, tls });
  const addr = await server.listen({ port, host });
  console.log(`interop-server: listening on ${addr.host}:${addr.port}`);
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      console.log(`interop-server: ${sig}, closing`);
      resolve();
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
  health.shutdown();
  await server.close({ graceMs: 5000 });
  console.log("interop-server: closed");
  return 0;
}

// exitCode, not exit(): a piped stdout is written asynchronously and exit() could cut it short.
main().then(
  (code) => {
    process.exitCode = code;
    setTimeout(() => process.exit(code), 2000).unref();
  },
  (e) => {
    console.error("interop-server:", e);
    process.exit(1);
  },
);
