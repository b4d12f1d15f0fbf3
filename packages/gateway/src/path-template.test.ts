import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { TemplateError, matchPathTemplate, parsePathTemplate, type PathTemplate } from "./path-template.js";

function bindings(tpl: string, path: string): Record<string, string> | string {
  const m = matchPathTemplate(parsePathTemplate(tpl), path);
  return m.t === "match" ? Object.fromEntries(m.bindings) : m.t;
}

test("parses the grammar: literals, *, **, variables with and without patterns, nested fields, verbs", () => {
  const t = parsePathTemplate("/v1/{book.name=shelves/*/books/*}/x/{id}:cancel");
  assert.equal(t.verb, "cancel");
  assert.deepEqual(
    t.segments.map((s) => (s.t === "literal" ? s.value : s.t)),
    ["v1", "shelves", "any", "books", "any", "x", "any"],
  );
  assert.deepEqual(
    t.variables.map((v) => [v.fieldPath.join("."), v.start, v.end]),
    [
      ["book.name", 1, 5],
      ["id", 6, 7],
    ],
  );
  for (const bad of ["", "v1", "/", "/v1/", "/{a=/b}", "/{a={b}}", "/{1a}", "/**/x/**", "/{a}/{a}", "/v1:", "/v1/{a", "/a b", "/x//y"]) {
    assert.throws(() => parsePathTemplate(bad), TemplateError, bad);
  }
});

test("matches and binds, decoding escapes (keeping %2F inside multi-segment values)", () => {
  assert.deepEqual(bindings("/v1/{name=shelves/*/books/*}", "/v1/shelves/s1/books/b%201"), { name: "shelves/s1/books/b 1" });
  assert.deepEqual(bindings("/v1/{id}", "/v1/a%2Fb"), { id: "a/b" });
  assert.deepEqual(bindings("/v1/files/{path=**}", "/v1/files/a/b%2Fc"), { path: "a/b%2Fc" });
  assert.deepEqual(bindings("/v1/files/{path=**}", "/v1/files"), { path: "" });
  assert.deepEqual(bindings("/v1/{a=**}/tail/{b}", "/v1/x/y/tail/z"), { a: "x/y", b: "z" });
  assert.deepEqual(bindings("/v1/{name=*}:cancel", "/v1/op1:cancel"), { name: "op1" });
  assert.equal(bindings("/v1/{name=*}:cancel", "/v1/op1"), "nomatch");
  assert.equal(bindings("/v1/{id}", "/v1/"), "nomatch");
  assert.equal(bindings("/v1/{id}", "/v1/a/b"), "nomatch");
  assert.equal(bindings("/v1/x", "/v1/y"), "nomatch");
  assert.equal(bindings("/v1/{id}", "/v1/%E0%A4%A"), "badescape");
  assert.equal(bindings("/v1/{id}", "v1/a"), "nomatch");
});

/** Path segment text: anything, including separators, escapes and unicode. */
const anyText = fc.string({ unit: fc.constantFrom("/", "*", "{", "}", "=", ":", ".", "%", "a", "b", "1", "_", "-", "é", " ", "2F") });

test("fuzz: the parser returns a template or throws TemplateError, never anything else", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        anyText,
        fc.string(),
        anyText.map((s) => `/${s}`),
      ),
      (src) => {
        try {
          const t = parsePathTemplate(src);
          assert.equal(t.source, src);
        } catch (e) {
          assert.ok(e instanceof TemplateError, String(e));
        }
      },
    ),
    { numRuns: 3000 },
  );
});

const literal = fc.stringMatching(/^[a-z0-9_.-]{1,6}$/);
type Part = { t: "lit"; v: string } | { t: "var"; name: string; multi: boolean };
const templateParts = fc
  .tuple(
    fc.array(
      fc.oneof(
        literal.map((v): Part => ({ t: "lit", v })),
        fc.constant<Part>({ t: "var", name: "", multi: false }),
      ),
      {
        minLength: 1,
        maxLength: 6,
      },
    ),
    fc.boolean(),
    fc.option(literal, { nil: undefined }),
  )
  .map(([parts, withRest, verb]) => {
    let n = 0;
    const out = parts.map((p) => (p.t === "var" ? { ...p, name: `f${n++}` } : p));
    if (withRest) out.push({ t: "var", name: `f${n++}`, multi: true });
    return { parts: out, verb };
  });
const segmentValue = fc.string({ minLength: 1, maxLength: 8 });

test("property: a path built from a template and random values matches it and binds the values back", () => {
  fc.assert(
    fc.property(templateParts, fc.array(segmentValue, { minLength: 20, maxLength: 20 }), fc.nat(3), ({ parts, verb }, values, restLen) => {
      const src = `/${parts.map((p) => (p.t === "lit" ? p.v : p.multi ? `{${p.name}=**}` : `{${p.name}}`)).join("/")}${verb ? `:${verb}` : ""}`;
      const tpl: PathTemplate = parsePathTemplate(src);
      const expected: Record<string, string> = {};
      let k = 0;
      const segs: string[] = [];
      for (const p of parts) {
        if (p.t === "lit") segs.push(p.v);
        else if (p.multi) {
          const vs = values.slice(k, k + restLen).map((v) => v.replaceAll("/", "_"));
          k += restLen;
          expected[p.name] = vs.join("/");
          segs.push(...vs.map(encodeURIComponent));
        } else {
          const v = values[k++] as string;
          expected[p.name] = v;
          segs.push(encodeURIComponent(v));
        }
      }
      let path = `/${segs.join("/")}${verb ? `:${verb}` : ""}`;
      // An empty ** at the end leaves a trailing slash the template does not have.
      if (restLen === 0 && parts[parts.length - 1]?.t === "var" && (parts[parts.length - 1] as { multi: boolean }).multi) {
        path = `/${segs.join("/")}`.replace(/\/$/, "") + (verb ? `:${verb}` : "");
        if (segs.length === 0) path = `/${verb ? `:${verb}` : ""}`;
      }
      const m = matchPathTemplate(tpl, path);
      assert.equal(m.t, "match", `${src} vs ${path}`);
      if (m.t === "match") assert.deepEqual(Object.fromEntries(m.bindings), expected, `${src} vs ${path}`);
    }),
    { numRuns: 2000 },
  );
});

test("fuzz: matching any path against any template never throws and stays linear", () => {
  const templates = [
    "/v1/{name=shelves/*/books/*}",
    "/v1/files/{path=**}",
    "/v1/{a=**}/tail/{b}:verb",
    "/{x}",
    "/**",
    "/v1/{name=*}:cancel",
  ].map(parsePathTemplate);
  fc.assert(
    fc.property(
      fc.oneof(
        anyText,
        fc.string(),
        anyText.map((s) => `/${s}`),
      ),
      (path) => {
        for (const t of templates) {
          const m = matchPathTemplate(t, path);
          assert.ok(m.t === "match" || m.t === "nomatch" || m.t === "badescape");
        }
      },
    ),
    { numRuns: 3000 },
  );
  // A long hostile path: no backtracking, so this is one pass per template.
  const long = `/v1/${"a/".repeat(100_000)}tail/b:verb`;
  assert.equal(matchPathTemplate(templates[2] as PathTemplate, long).t, "match");
});
