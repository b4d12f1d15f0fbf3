// Test helper process: registers one instance and stays alive until killed (SIGKILL/SIGSTOP tests).
// Usage: node --import tsx zk-registrant-child.ts <connect> <service> <id> <sessionTimeoutMs>
import { createZkRegistrar } from "./zk-registrar.js";

const [connect, service, id, timeout] = process.argv.slice(2);
if (!connect || !service || !id) {
  process.stderr.write("usage: zk-registrant-child.ts <connect> <service> <id> <sessionTimeoutMs>\n");
  process.exit(2);
}
const registrar = createZkRegistrar({ connect, sessionTimeoutMs: Number(timeout ?? 2_000), spinDelayMs: 200 });
await registrar.register(service, { id, address: `127.0.0.1:${10_000 + process.pid}`, metadata: { pid: String(process.pid) } });
process.stdout.write("registered\n");
const keepAlive = setInterval(() => {}, 60_000);
process.on("SIGTERM", () => {
  clearInterval(keepAlive);
  void registrar.close().then(() => process.exit(0));
});
