// The google.api.http path template language, parsed and matched by hand: routing is the
// gateway's own job, and the grammar is small enough that a hand parser gives precise errors and
// a matcher that runs in linear time on any input (no regular expressions to backtrack).
//
//   Template = "/" Segments [ Verb ] ;
//   Segments = Segment { "/" Segment } ;
//   Segment  = "*" | "**" | LITERAL | Variable ;
//   Variable = "{" FieldPath [ "=" Segments ] "}" ;
//   FieldPath = IDENT { "." IDENT } ;
//   Verb     = ":" LITERAL ;

/** One segment of a compiled template. */
export type TemplateSegment =
  | { readonly t: "literal"; readonly value: string }
  /** `*`: exactly one non-empty segment. */
  | { readonly t: "any" }
  /** `**`: zero or more segments. */
  | { readonly t: "rest" };

/** A variable: the field path it binds and the segment range `[start, end)` it covers. */
export interface TemplateVariable {
  /** Field names as written (proto names), e.g. `["book", "name"]`. */
  readonly fieldPath: readonly string[];
  readonly start: number;
  readonly end: number;
}

/** A parsed path template. */
export interface PathTemplate {
  /** The template as written. */
  readonly source: string;
  readonly segments: readonly TemplateSegment[];
  readonly variables: readonly TemplateVariable[];
  /** The custom verb without the colon, or undefined. */
  readonly verb: string | undefined;
}

/** Thrown for a template that does not follow the grammar. */
export class TemplateError extends Error {
  constructor(source: string, reason: string) {
    super(`invalid path template ${JSON.stringify(source)}: ${reason}`);
    this.name = "TemplateError";
  }
}

/** Characters of a literal: RFC 3986 unreserved, sub-delims (minus the template's own), `@`, `%`. */
function isLiteralChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x2d || // -
    c === 0x2e || // .
    c === 0x5f || // _
    c === 0x7e || // ~
    c === 0x25 || // %
    c === 0x21 || // !
    c === 0x24 || // $
    c === 0x26 || // &
    c === 0x27 || // '
    c === 0x28 || // (
    c === 0x29 || // )
    c === 0x2b || // +
    c === 0x2c || // ,
    c === 0x3b || // ;
    c === 0x40 // @
  );
}

function isIdentChar(c: number, first: boolean): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || (!first && c >= 0x30 && c <= 0x39);
}

/** Parses a template; throws {@link TemplateError} on anything outside the grammar. */
export function parsePathTemplate(source: string): PathTemplate {
  const fail = (reason: string): never => {
    throw new TemplateError(source, reason);
  };
  if (typeof source !== "string" || source.length === 0 || source[0] !== "/") fail("must start with /");
  const segments: TemplateSegment[] = [];
  const variables: TemplateVariable[] = [];
  let i = 1;
  let verb: string | undefined;
  const n = source.length;

  const literal = (): string => {
    const from = i;
    while (i < n && isLiteralChar(source.charCodeAt(i))) i++;
    if (i === from) fail(`expected a segment at offset ${from}`);
    return source.slice(from, i);
  };
  const segment = (inVariable: boolean): void => {
    const c = source[i];
    if (c === "*") {
      if (source[i + 1] === "*") {
        i += 2;
        segments.push({ t: "rest" });
      } else {
        i += 1;
        segments.push({ t: "any" });
      }
    } else if (c === "{") {
      if (inVariable) fail(`nested variable at offset ${i}`);
      variable();
    } else segments.push({ t: "literal", value: literal() });
  };
  const segmentList = (inVariable: boolean): void => {
    segment(inVariable);
    while (source[i] === "/") {
      i++;
      segment(inVariable);
    }
  };
  const variable = (): void => {
    i++; // {
    const fieldPath: string[] = [];
    for (;;) {
      const from = i;
      if (i < n && isIdentChar(source.charCodeAt(i), true)) {
        i++;
        while (i < n && isIdentChar(source.charCodeAt(i), false)) i++;
      }
      if (i === from) fail(`expected a field name at offset ${from}`);
      fieldPath.push(source.slice(from, i));
      if (source[i] !== ".") break;
      i++;
    }
    const start = segments.length;
    if (source[i] === "=") {
      i++;
      segmentList(true);
    } else segments.push({ t: "any" });
    if (source[i] !== "}") fail(`expected } at offset ${i}`);
    i++;
    variables.push({ fieldPath, start, end: segments.length });
  };

  segmentList(false);
  if (source[i] === ":") {
    i++;
    verb = literal();
  }
  if (i !== n) fail(`unexpected ${JSON.stringify(source[i])} at offset ${i}`);
  let rests = 0;
  for (const s of segments) if (s.t === "rest") rests++;
  if (rests > 1) fail("at most one ** is allowed");
  const seen = new Set<string>();
  for (const v of variables) {
    const key = v.fieldPath.join(".");
    if (seen.has(key)) fail(`variable ${key} appears twice`);
    seen.add(key);
  }
  return { source, segments, variables, verb };
}

/** A successful match: variable values, percent-decoded, keyed by dotted field path. */
export type PathBindings = Map<string, string>;

/**
 * Decodes one path segment. Single-segment values decode everything; multi-segment values keep
 * `%2F` encoded, as http.proto asks (a decoded slash would be indistinguishable from a separator).
 * Returns undefined for a malformed escape.
 */
function decodeSegment(raw: string, keepSlash: boolean): string | undefined {
  if (raw.indexOf("%") < 0) return raw;
  try {
    if (!keepSlash) return decodeURIComponent(raw);
    return raw
      .split(/%2F/i)
      .map((p) => decodeURIComponent(p))
      .join("%2F");
  } catch {
    return undefined;
  }
}

/** Why a path did not match: shape (try other routes) or a malformed escape (answer 400). */
export type MatchResult = { t: "match"; bindings: PathBindings } | { t: "nomatch" } | { t: "badescape" };

const NO_MATCH: MatchResult = { t: "nomatch" };

/**
 * Matches a request path (without query string) against a template. Linear in the path length:
 * segments before a `**` match left to right, those after it right to left, and `**` takes the
 * middle, so no input can make it backtrack.
 */
export function matchPathTemplate(tpl: PathTemplate, path: string): MatchResult {
  if (path.length === 0 || path.charCodeAt(0) !== 0x2f) return NO_MATCH;
  let body = path;
  if (tpl.verb !== undefined) {
    const suffix = `:${tpl.verb}`;
    if (!path.endsWith(suffix)) return NO_MATCH;
    body = path.slice(0, path.length - suffix.length);
  }
  const parts = body.slice(1).split("/");
  const segs = tpl.segments;
  const restAt = segs.findIndex((s) => s.t === "rest");
  // Which request parts each template segment covers: [from, to).
  const from = new Array<number>(segs.length);
  const to = new Array<number>(segs.length);
  if (restAt < 0) {
    if (parts.length !== segs.length) return NO_MATCH;
    for (let k = 0; k < segs.length; k++) {
      from[k] = k;
      to[k] = k + 1;
    }
  } else {
    const after = segs.length - restAt - 1;
    if (parts.length < segs.length - 1) return NO_MATCH;
    for (let k = 0; k < restAt; k++) {
      from[k] = k;
      to[k] = k + 1;
    }
    from[restAt] = restAt;
    to[restAt] = parts.length - after;
    for (let k = 0; k < after; k++) {
      const s = restAt + 1 + k;
      from[s] = parts.length - after + k;
      to[s] = from[s] + 1;
    }
  }
  for (let k = 0; k < segs.length; k++) {
    const s = segs[k] as TemplateSegment;
    if (s.t === "rest") continue;
    const raw = parts[from[k] as number] as string;
    if (s.t === "any") {
      if (raw.length === 0) return NO_MATCH;
      continue;
    }
    const decoded = decodeSegment(raw, false);
    if (decoded === undefined) return { t: "badescape" };
    if (decoded !== s.value) return NO_MATCH;
  }
  const bindings: PathBindings = new Map();
  for (const v of tpl.variables) {
    const single = v.end - v.start === 1 && segs[v.start]?.t !== "rest";
    const start = from[v.start] as number;
    const end = v.end > v.start ? (to[v.end - 1] as number) : start;
    const values: string[] = [];
    for (let p = start; p < end; p++) {
      const d = decodeSegment(parts[p] as string, !single);
      if (d === undefined) return { t: "badescape" };
      values.push(d);
    }
    bindings.set(v.fieldPath.join("."), values.join("/"));
  }
  return { t: "match", bindings };
}
