import type { MethodHandler, Router } from "@petrel/core";

/**
 * Resolves JSON-RPC method names onto a router's methods. Accepted spellings of
 * `/pkg.Service/Method`: `pkg.Service/Method`, `/pkg.Service/Method`, `pkg.Service.Method` and
 * `Service.Method` (Go net/rpc's `Type.Method` with the short service name); in the dotted forms
 * the method may also be its protobuf-es localName (`multiply`). A short name that two packages
 * share resolves to neither (ambiguous), so adding a service never silently re-routes a call.
 * @internal
 */
export class MethodIndex {
  private dotted = new Map<string, MethodHandler | null>();
  private indexedServices = -1;

  constructor(private readonly router: Router) {}

  /** The handler, or undefined (unknown or ambiguous). */
  resolve(name: string): MethodHandler | undefined {
    if (name.includes("/")) return this.router.lookup(name.startsWith("/") ? name : `/${name}`);
    this.refresh();
    return this.dotted.get(name) ?? undefined;
  }

  /** Rebuilds the dotted-name table when services were added since the last lookup. */
  private refresh(): void {
    const services = this.router.services();
    if (services.length === this.indexedServices) return;
    const table = new Map<string, MethodHandler | null>();
    const add = (key: string, h: MethodHandler) => {
      const prev = table.get(key);
      table.set(key, prev === undefined || prev === h ? h : null);
    };
    for (const s of services) {
      const short = s.typeName.slice(s.typeName.lastIndexOf(".") + 1);
      for (const m of s.methods) {
        const h = this.router.lookup(`/${s.typeName}/${m.name}`);
        if (h === undefined) continue;
        for (const svc of new Set([s.typeName, short])) {
          add(`${svc}.${m.name}`, h);
          add(`${svc}.${m.localName}`, h);
        }
      }
    }
    this.dotted = table;
    this.indexedServices = services.length;
  }
}
