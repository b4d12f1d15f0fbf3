// Child process for tests: registers one endpoint in etcd, prints "registered", then idles until
// killed. Usage: node --import tsx etcd-registrant-child.ts <hosts> <service> <id> <address> <ttlMs>
import { createEtcdRegistrar } from "./etcd-registrar.js";

const [hosts, service, id, address, ttlMs] = process.argv.slice(2);
if (!hosts || !service || !id || !address || !ttlMs) {
  console.error("usage: etcd-registrant-child.ts <hosts> <service> <id> <address> <ttlMs>");
  process.exit(2);
}
const registrar = createEtcdRegistrar({ hosts, ttlMs: Number(ttlMs) });
await registrar.register(service, { id, address, metadata: { pid: String(process.pid) } });
process.stdout.write("registered\n");
// Idle: the lease keepalive runs until the test SIGKILLs us; SIGTERM deregisters gracefully.
const idle = setInterval(() => {}, 60_000);
process.once("SIGTERM", () => {
  clearInterval(idle);
  void registrar.close().then(() => process.exit(0));
});
