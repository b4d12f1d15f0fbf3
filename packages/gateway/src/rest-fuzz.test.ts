// Fuzzing the REST gateway's request side end to end (route matching, path variables, query
// parameters, JSON bodies): random requests near the real routes always get a JSON answer with a
// client-error status (or success), never a 5xx from the gateway, and the server keeps serving.
import assert from "node:assert/strict";
import type * as http from "node:http";
import { after, before, describe, it } from "node:test";
import { createRouter } from "@petrel/core";
import fc from "fast-check";
import { LibraryService } from "./gen/petrel/gateway/testing/v1/library_pb.js";
import { createLibraryImpl } from "./library-fixture.js";
import { createRestGateway } from "./rest-gateway.js";
import { close, listen, request } from "./test-http.js";

const segment = fc.oneof(
  fc.constantFrom("v1", "v2", "shelves", "books", "files", "s1", "b1", "b2", "", "..", "%2F", "%ZZ", "a:move", "books:watch", "x:"),
  fc.webSegment(),
);
const path = fc.array(segment, { minLength: 1, maxLength: 7 }).map((s) => `/${s.join("/")}`);
const queryKey = fc.oneof(
  fc.constantFrom("title", "tags", "genre", "page.size", "book.title", "updateMask", "pageSize", "name", "isbn", "x.y.z"),
  fc.webSegment(),
);
const queryValue = fc.oneof(
  fc.constantFrom("1", "-1", "true", "GENRE_FICTION", "9999999999999999999999", "%", "%41", ""),
  fc.string({ maxLength: 12 }),
);
const query = fc
  .array(fc.tuple(queryKey, queryValue), { maxLength: 5 })
  .map((kv) => (kv.length === 0 ? "" : `?${kv.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&")}`));
const body = fc.oneof(
  fc.constant(undefined),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc.record({ title: fc.jsonValue(), tags: fc.jsonValue(), pageCount: fc.jsonValue() }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 40 }),
);
const method = fc.constantFrom("GET", "POST", "PATCH", "PUT", "DELETE", "SEARCH");

describe("REST gateway fuzz", () => {
  let server: http.Server;
  const internalErrors: unknown[] = [];
  before(async () => {
    const router = createRouter().service(LibraryService, createLibraryImpl());
    server = await listen(
      createRestGateway({ router, passUnmatched: false, onInternalError: (e) => internalErrors.push(e) }) as http.RequestListener,
    );
  });
  after(() => close(server));

  it("answers random requests near the real routes with JSON and no 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(method, path, query, body, async (m, p, q, b) => {
        const headers: Record<string, string> = b === undefined ? {} : { "content-type": "application/json" };
        const r = await request(server, m, p + q, { headers, body: b });
        assert.ok(r.status < 500 || r.status === 501, `${m} ${p}${q} ${b ?? ""} -> ${r.status} ${r.text}`);
        if (r.status !== 200 || !String(r.headers["content-type"]).includes("ndjson")) {
          assert.doesNotThrow(() => JSON.parse(r.text), `JSON body for ${m} ${p}${q}: ${r.text}`);
        }
      }),
      { numRuns: 400 },
    );
    assert.deepEqual(internalErrors, []);
    assert.equal((await request(server, "GET", "/v1/shelves/s1/books/b1")).status, 200);
  });
});
