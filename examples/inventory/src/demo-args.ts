// The arguments of `npm run demo`.

/** `--registry=URL` (etcd://…, zk://…; default: the embedded registry) and `--chaos`. */
export function parseDemoArgs(argv: readonly string[]): { registry: string | undefined; chaos: boolean } {
  let registry: string | undefined;
  let chaos = false;
  for (const a of argv) {
    if (a === "--chaos") chaos = true;
    else if (a.startsWith("--registry=")) registry = a.slice("--registry=".length);
    else throw new Error(`demo: unknown argument "${a}" (usage: npm run demo -- [--registry=etcd://HOST:PORT|zk://HOST:PORT] [--chaos])`);
  }
  if (registry !== undefined && !/^(etcd|zk|petrel):\/\/[^/]+\/?$/.test(registry)) {
    throw new Error(`demo: --registry must look like etcd://127.0.0.1:2379 or zk://127.0.0.1:2181, got "${registry}"`);
  }
  return { registry: registry?.replace(/\/$/, ""), chaos };
}
