// A registrant process for the SIGKILL test: registers one instance and keeps it alive until killed.
// Usage: node --import tsx registrant-child-fixture.ts <registry host:port> <service> <id> <address> <ttlMs>
import { createNativeTransport } from "@petrel/node";
import { createRegistryRegistrar } from "./index.js";

const [registry, service, id, address, ttl] = process.argv.slice(2);
if (registry === undefined || service === undefined || id === undefined || address === undefined || ttl === undefined) {
  console.error("usage: registrant-child-fixture.ts <registry> <service> <id> <address> <ttlMs>");
  process.exit(2);
}
const registrar = createRegistryRegistrar({ address: registry, transport: (a) => createNativeTransport({ address: a }) });
await registrar.register(service, { id, address }, { ttlMs: Number(ttl) });
process.stdout.write("registered\n");
// Keep the process alive (the registrar's timers are unref'd) until the test kills it.
setInterval(() => {}, 60_000);
