import { Code, methodPath, RpcError, type ServerInterceptor } from "@petrel/core";
import { type AuthInfo, getAuth } from "./auth-info.js";
import { type AuthEvent, emitAuthEvent } from "./auth-scheme.js";
import { claimStrings } from "./jwt-scheme.js";
import { MethodTable, type MethodPattern, validateMethodPattern } from "./method-pattern.js";

/** Who a rule lets in. Every list given must be satisfied (AND); an absent list does not constrain. */
export interface AllowSpec {
  /** The caller's subject is one of these. */
  subjects?: readonly string[];
  /** The caller has at least one of these roles. */
  roles?: readonly string[];
  /** The caller has every one of these scopes. */
  scopes?: readonly string[];
}

/** One authorization rule. */
export interface AuthRule {
  /** `/pkg.Service/Method`, `/pkg.Service/*` or `*`; the most specific rule wins. */
  method: MethodPattern;
  /** Who may call. Without `allow` (and not public), any authenticated caller may. */
  allow?: AllowSpec;
  /** Anyone may call, with or without credentials. */
  public?: true;
}

/** Options of {@link authorize}. */
export interface AuthorizeOptions {
  rules: readonly AuthRule[];
  /** Methods no rule matches: `deny` everyone, or `allow` any authenticated caller. Default `deny`. */
  default?: "deny" | "allow";
  /** For JWT callers, read roles from this dotted claim path instead of what the jwt scheme found. */
  rolesClaim?: string;
  /** Audit hook for allow/deny decisions. Must not throw (errors are ignored). */
  onAuthEvent?: (event: AuthEvent) => void;
}

interface CompiledRule {
  readonly isPublic: boolean;
  readonly subjects: ReadonlySet<string> | undefined;
  readonly roles: readonly string[] | undefined;
  readonly scopes: readonly string[] | undefined;
}

function stringList(v: unknown, where: string): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((s) => typeof s !== "string" || s === ""))
    throw new TypeError(`${where} must be a list of non-empty strings`);
  return [...v];
}

/** Checks rules; returns the lookup table. @internal */
export function compileRules(rules: readonly AuthRule[]): MethodTable<CompiledRule> {
  if (!Array.isArray(rules)) throw new TypeError("authorize: rules must be an array");
  const table = new MethodTable<CompiledRule>();
  rules.forEach((r, i) => {
    const where = `authorize: rules[${i}]`;
    if (typeof r !== "object" || r === null) throw new TypeError(`${where} must be an object`);
    validateMethodPattern(r.method, where);
    if (r.public !== undefined && r.public !== true) throw new TypeError(`${where}.public must be true or absent`);
    if (r.public === true && r.allow !== undefined) throw new TypeError(`${where}: a public rule cannot have allow`);
    if (r.allow !== undefined && (typeof r.allow !== "object" || r.allow === null)) throw new TypeError(`${where}.allow must be an object`);
    const subjects = stringList(r.allow?.subjects, `${where}.allow.subjects`);
    const rule: CompiledRule = {
      isPublic: r.public === true,
      subjects: subjects === undefined ? undefined : new Set(subjects),
      roles: stringList(r.allow?.roles, `${where}.allow.roles`),
      scopes: stringList(r.allow?.scopes, `${where}.allow.scopes`),
    };
    if (!table.add(r.method, rule)) throw new TypeError(`${where}: a second rule for ${r.method}`);
  });
  return table;
}

function allows(rule: CompiledRule, auth: AuthInfo, rolesClaim: string | undefined): boolean {
  if (rule.subjects !== undefined && !rule.subjects.has(auth.subject)) return false;
  if (rule.roles !== undefined) {
    const roles =
      rolesClaim !== undefined && auth.kind === "jwt" ? claimStrings(auth.claims as Record<string, unknown>, rolesClaim) : auth.roles;
    if (!rule.roles.some((r) => roles.includes(r))) return false;
  }
  if (rule.scopes !== undefined && !rule.scopes.every((s) => auth.scopes.includes(s))) return false;
  return true;
}

/**
 * A server interceptor that enforces per-method rules on the identity `authenticate` attached
 * (place it after `authenticate`). Not authenticated on a non-public method: UNAUTHENTICATED;
 * authenticated but not allowed: PERMISSION_DENIED.
 */
export function authorize(options: AuthorizeOptions): ServerInterceptor {
  if (typeof options !== "object" || options === null) throw new TypeError("authorize: options must be an object");
  const table = compileRules(options.rules);
  const def = options.default ?? "deny";
  if (def !== "deny" && def !== "allow") throw new TypeError('authorize: default must be "deny" or "allow"');
  if (options.rolesClaim !== undefined && (typeof options.rolesClaim !== "string" || options.rolesClaim === "")) {
    throw new TypeError("authorize: rolesClaim must be a non-empty string");
  }
  const hook = options.onAuthEvent;
  return (next) => (req) => {
    const path = methodPath(req.method);
    const m = table.match(path);
    const auth = getAuth(req.ctx);
    let code: Code = Code.OK;
    if (m === undefined) {
      if (auth === undefined) code = Code.UNAUTHENTICATED;
      else if (def === "deny") code = Code.PERMISSION_DENIED;
    } else if (!m.value.isPublic) {
      if (auth === undefined) code = Code.UNAUTHENTICATED;
      else if (!allows(m.value, auth, options.rolesClaim)) code = Code.PERMISSION_DENIED;
    }
    if (hook !== undefined) {
      const event: AuthEvent = {
        type: code === Code.OK ? "allowed" : "denied",
        method: path,
        peer: req.ctx.peer.address,
        subject: auth?.subject,
        rule: m?.pattern ?? "default",
        code,
      };
      emitAuthEvent(hook, event);
    }
    if (code === Code.UNAUTHENTICATED) return Promise.reject(new RpcError(code, "missing credentials"));
    if (code === Code.PERMISSION_DENIED) return Promise.reject(new RpcError(code, "permission denied"));
    return next(req);
  };
}
