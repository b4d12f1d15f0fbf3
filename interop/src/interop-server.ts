// The gRPC interop test server: `npm run interop:server -- --port=P [--use_tls=false] [--host=127.0.0.1]`.
// Serves grpc.testing.TestService until SIGINT/SIGTERM, then closes gracefully.
import { createRouter } from "@petrel/core";
import { createGrpcServer } from "@petrel/node";
import { parseFlags } from "./flags.js";
import { registerTestService } from "./test-service.js";
const USAGE = "usage: interop-server --port=P [--use_tls=false] [--host=127.0.0.1]";

async function main(): Promise<number> {
  let flags: Map<string, string>;
  try {
    flags = parseFlags(process.argv.slice(2), ["port", "use_tls", "host"]);
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const useTls = flags.get("use_tls") ?? "false";
  if (useTls === "true") {
    console.error("interop-server: TLS not supported yet (--use_tls=true); run with --use_tls=false");
    return 2;
  }
  if (useTls !== "false") {
    console.error(`interop-server: --use_tls must be true or false, got "${useTls}"\n${USAGE}`);
    return 2;
  }
  const port = Number(flags.get("port"));
  if (!flags.has("port") || !Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`interop-server: missing or bad --port\n${USAGE}`);
    return 2;
  }
  const host = flags.get("host") ?? "127.0.0.1";
  const server = createGrpcServer({ router: registerTestService(createRouter()) });
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
