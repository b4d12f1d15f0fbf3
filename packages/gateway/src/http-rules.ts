// Reads google.api.http rules from method options and checks them against the descriptors once,
// at gateway construction, so a wrong annotation fails loudly at startup instead of per request.
import { getOption, hasOption, type DescField, type DescMessage, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { http } from "./gen/google/api/annotations_pb.js";
import type { HttpRule } from "./gen/google/api/http_pb.js";
import { parsePathTemplate, type PathTemplate } from "./path-template.js";

/** One HTTP binding of one method (the main rule or an additional binding). */
export interface Route {
  readonly service: DescService;
  readonly method: DescMethod;
  /** Upper-case HTTP method, e.g. `GET`, or a custom kind. */
  readonly httpMethod: string;
  readonly template: PathTemplate;
  /** Field chain of every template variable, in template order, keyed like the bindings. */
  readonly pathFields: ReadonlyMap<string, readonly DescField[]>;
  /** `undefined`: no body; `"*"`: the whole request; else the top-level field the body fills. */
  readonly body: "*" | DescField | undefined;
  /** The output field sent as the response instead of the whole message, if any. */
  readonly responseBody: DescField | undefined;
}

/** Thrown at construction for an annotation the gateway cannot serve. */
export class HttpRuleError extends Error {
  constructor(method: DescMethod, reason: string) {
    super(`google.api.http on ${method.parent.typeName}.${method.name}: ${reason}`);
    this.name = "HttpRuleError";
  }
}

/** Finds a field by proto name or JSON name. */
export function findField(message: DescMessage, name: string): DescField | undefined {
  return message.fields.find((f) => f.name === name) ?? message.fields.find((f) => f.jsonName === name);
}

/** Resolves `a.b.c` to the chain of fields, or a reason it cannot be resolved. */
export function resolveFieldPath(message: DescMessage, path: readonly string[]): DescField[] | string {
  const chain: DescField[] = [];
  let m: DescMessage | undefined = message;
  for (const [k, name] of path.entries()) {
    if (m === undefined) return `${path.slice(0, k).join(".")} is not a message field`;
    const f = findField(m, name);
    if (f === undefined) return `${m.typeName} has no field ${name}`;
    if (f.fieldKind === "list" || f.fieldKind === "map") {
      if (k < path.length - 1) return `${path.slice(0, k + 1).join(".")} is repeated`;
    }
    chain.push(f);
    m = f.fieldKind === "message" ? f.message : undefined;
  }
  return chain;
}

/** The HTTP rules of a method: the main rule, then its additional bindings. Empty without an annotation. */
export function httpRules(method: DescMethod): HttpRule[] {
  if (!hasOption(method, http)) return [];
  const rule = getOption(method, http);
  return [rule, ...rule.additionalBindings];
}

function routeOf(service: DescService, method: DescMethod, rule: HttpRule, nested: boolean): Route {
  const fail = (reason: string): never => {
    throw new HttpRuleError(method, reason);
  };
  if (nested && rule.additionalBindings.length > 0) fail("additional_bindings may not nest");
  let httpMethod: string;
  let path: string;
  const p = rule.pattern;
  switch (p.case) {
    case "get":
    case "put":
    case "post":
    case "delete":
    case "patch":
      httpMethod = p.case.toUpperCase();
      path = p.value;
      break;
    case "custom":
      httpMethod = p.value.kind.toUpperCase();
      path = p.value.path;
      if (!/^[!#$%&'*+\-.^_`|~0-9A-Z]+$/.test(httpMethod)) fail(`custom kind ${JSON.stringify(p.value.kind)} is not an HTTP method token`);
      break;
    default:
      return fail("no pattern (get/put/post/delete/patch/custom)");
  }
  let template: PathTemplate;
  try {
    template = parsePathTemplate(path);
  } catch (e) {
    return fail((e as Error).message);
  }
  const pathFields = new Map<string, DescField[]>();
  for (const v of template.variables) {
    const chain = resolveFieldPath(method.input, v.fieldPath);
    if (typeof chain === "string") fail(`path variable ${v.fieldPath.join(".")}: ${chain}`);
    const leaf = (chain as DescField[])[(chain as DescField[]).length - 1] as DescField;
    if (leaf.fieldKind === "list" || leaf.fieldKind === "map") fail(`path variable ${v.fieldPath.join(".")} is repeated`);
    if (leaf.fieldKind === "message" && !isScalarLikeMessage(leaf.message)) {
      fail(`path variable ${v.fieldPath.join(".")} is a message`);
    }
    pathFields.set(v.fieldPath.join("."), chain as DescField[]);
  }
  let body: Route["body"];
  if (rule.body === "*") body = "*";
  else if (rule.body !== "") {
    const f = findField(method.input, rule.body);
    if (f === undefined) fail(`body field ${rule.body} not in ${method.input.typeName}`);
    body = f;
  }
  let responseBody: DescField | undefined;
  if (rule.responseBody !== "") {
    responseBody = findField(method.output, rule.responseBody);
    if (responseBody === undefined) fail(`response_body field ${rule.responseBody} not in ${method.output.typeName}`);
  }
  if (method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming") {
    fail("client and bidi streaming methods cannot be transcoded");
  }
  return { service, method, httpMethod, template, pathFields, body, responseBody };
}

/** Well-known messages whose JSON form is a scalar, so they can sit in a path or query parameter. */
const SCALAR_LIKE = new Set([
  "google.protobuf.Timestamp",
  "google.protobuf.Duration",
  "google.protobuf.FieldMask",
  "google.protobuf.DoubleValue",
  "google.protobuf.FloatValue",
  "google.protobuf.Int64Value",
  "google.protobuf.UInt64Value",
  "google.protobuf.Int32Value",
  "google.protobuf.UInt32Value",
  "google.protobuf.BoolValue",
  "google.protobuf.StringValue",
  "google.protobuf.BytesValue",
]);

/** Whether a message's JSON form is a single scalar (a WKT wrapper, Timestamp, Duration, FieldMask). */
export function isScalarLikeMessage(m: DescMessage): boolean {
  return SCALAR_LIKE.has(m.typeName);
}

/** Every route of the given services, in declaration order. Throws {@link HttpRuleError}. */
export function collectRoutes(services: readonly DescService[]): Route[] {
  const routes: Route[] = [];
  for (const service of services) {
    for (const method of service.methods) {
      const rules = httpRules(method);
      for (const [k, rule] of rules.entries()) routes.push(routeOf(service, method, rule, k > 0));
    }
  }
  return routes;
}
