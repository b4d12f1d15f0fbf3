/**
 * Child process for native-flow-control.test.ts: a petrel/1 server (TestService) whose memory
 * the test measures on its own, apart from the client's.
 *
 * stdout, one JSON object per line:
 * - `{"port": n}` once, when listening;
 * - `{"rss", "heapUsed", "arrayBuffers", "produced", "t"}` every 100 ms (produced: messages the
 *   ServerStream handler yielded so far), and at once for each
 *   stdin line `sample` (with `"gc": true` for `gc`, which collects garbage first; the child must
 *   run with --expose-gc for that).
 * The process exits when stdin closes, so it cannot outlive the test.
 *
 * ServerStream is the test service's: it echoes the request payload in each of `count` messages,
 * as fast as the transport pulls them.
 */
import { createInterface } from "node:readline";
import { createRouter } from "@petrel/core";
import { TestService, createTestServiceImpl } from "@petrel/testing";
import { createNativeServer } from "./index.js";

const impl = createTestServiceImpl();
const serverStream = impl.serverStream;
/** Messages the ServerStream handler produced so far (reported with each sample). */
let produced = 0;
impl.serverStream = async function* (req, ctx) {
  for await (const m of serverStream(req, ctx)) {
    produced++;
    yield m;
  }
};
const server = createNativeServer({ router: createRouter().service(TestService, impl) });
const { port } = await server.listen({ port: 0, host: "127.0.0.1" });

function report(extra: Record<string, unknown> = {}): void {
  const m = process.memoryUsage();
  process.stdout.write(
    `${JSON.stringify({ rss: m.rss, heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers, produced, t: Date.now(), ...extra })}\n`,
  );
}

process.stdout.write(`${JSON.stringify({ port })}\n`);
setInterval(report, 100);

const gc = (globalThis as { gc?: () => void }).gc;
createInterface({ input: process.stdin })
  .on("line", (line) => {
    if (line === "gc" && gc !== undefined) {
      gc();
      gc();
      report({ gc: true });
    } else report({ sample: true });
  })
  .on("close", () => {
    void server.close({ graceMs: 100 }).finally(() => process.exit(0));
  });
