/** Parses `--name=value` / `--name value` flags as the gRPC interop programs take them; unknown flags throw. */
export function parseFlags(argv: string[], known: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") continue;
    if (!a.startsWith("--")) throw new Error(`unexpected argument "${a}"`);
    const eq = a.indexOf("=");
    let name: string;
    let value: string;
    if (eq >= 0) {
      name = a.slice(2, eq);
      value = a.slice(eq + 1);
    } else {
      name = a.slice(2);
      const next = argv[i + 1];
      if (next === undefined || next.startsWith("--")) throw new Error(`flag --${name} needs a value`);
      value = next;
      i++;
    }
    if (!known.includes(name)) throw new Error(`unknown flag --${name}`);
    out.set(name, value);
  }
  return out;
}
