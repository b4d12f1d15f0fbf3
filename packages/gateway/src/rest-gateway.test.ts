import assert from "node:assert/strict";
import type * as http from "node:http";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { createRouter } from "@petrel/core";
import { chainHttpHandlers, type HttpHandler } from "@petrel/node";
import { Validator } from "@seriousme/openapi-schema-validator";
import { LibraryService } from "./gen/petrel/gateway/testing/v1/library_pb.js";
import { createLibraryImpl } from "./library-fixture.js";
import { createRestGateway } from "./rest-gateway.js";
import { close, listen, request } from "./test-http.js";

const JSON_HEADERS = { "content-type": "application/json" };

describe("REST gateway (in-process, node:http)", () => {
  let server: http.Server;
  const internalErrors: unknown[] = [];

  before(async () => {
    const router = createRouter().service(LibraryService, createLibraryImpl());
    const gateway = createRestGateway({ router, maxBodyBytes: 1024, onInternalError: (e) => internalErrors.push(e) });
    // Another protocol on the same port: the gateway must leave its requests alone.
    const other: HttpHandler = (req, res) => {
      if (req.url !== "/other") return false;
      res.end("other");
      return true;
    };
    server = await listen(chainHttpHandlers([gateway, other]) as http.RequestListener);
  });
  after(() => close(server));

  test("GET with a multi-segment path variable, protobuf JSON names and WKTs", async () => {
    const r = await request(server, "GET", "/v1/shelves/s1/books/b1");
    assert.equal(r.status, 200);
    assert.match(String(r.headers["content-type"]), /application\/json/);
    assert.deepEqual(r.json(), {
      name: "shelves/s1/books/b1",
      title: "Dune",
      author: "Herbert",
      genre: "GENRE_FICTION",
      tags: ["classic"],
      isbn: "9780441013593",
    });
    const b2 = await request(server, "GET", "/v1/shelves/s1/books/b2");
    assert.equal((b2.json() as { pageCount: number }).pageCount, 365);
  });

  test("additional_bindings route to the same method", async () => {
    const r = await request(server, "GET", "/v2/shelves/s1/books/b1");
    assert.equal(r.status, 200);
    assert.equal((r.json() as { title: string }).title, "Dune");
  });

  test("query parameters: repeated, nested, enum, wrapper, Timestamp, FieldMask, bool, repeated int64", async () => {
    const q =
      "tag=classic&tag=x&page.size=1&page.token=t0&genre=GENRE_SCIENCE&minPages=10&published_after=2024-01-01T00:00:00Z" +
      "&readMask=title,author&includeHidden=true&isbns=1&isbns=2";
    const r = await request(server, "GET", `/v1/shelves/s1/books?${q}`);
    assert.equal(r.status, 200, r.text);
    const body = r.json() as { books: { name: string }[]; nextPageToken?: string; echo: string };
    assert.deepEqual(JSON.parse(body.echo), {
      parent: "shelves/s1",
      page: { size: 1, token: "t0" },
      tag: ["classic", "x"],
      genre: "GENRE_SCIENCE",
      minPages: 10,
      publishedAfter: "2024-01-01T00:00:00Z",
      readMask: "title,author",
      includeHidden: true,
      isbns: ["1", "2"],
    });
    assert.deepEqual(
      body.books.map((b) => b.name),
      ["shelves/s1/books/b1"],
    );
  });

  test("POST with body: field, then PATCH with a nested path field and update_mask, PUT with body *", async () => {
    const created = await request(server, "POST", "/v1/shelves/s2/books", {
      headers: JSON_HEADERS,
      body: JSON.stringify({ name: "x/books/new1", title: "New", read_time: "90s", attributes: { a: [1, "b"] }, cover: "AQID" }),
    });
    assert.equal(created.status, 200, created.text);
    assert.deepEqual(created.json(), {
      name: "shelves/s2/books/new1",
      title: "New",
      createTime: "2024-01-02T03:04:05Z",
      readTime: "90s",
      attributes: { a: [1, "b"] },
      cover: "AQID",
    });
    const patched = await request(server, "PATCH", "/v1/shelves/s2/books/new1?updateMask=author", {
      headers: JSON_HEADERS,
      body: JSON.stringify({ title: "ignored", author: "Me" }),
    });
    assert.equal(patched.status, 200, patched.text);
    const p = patched.json() as { title: string; author: string; name: string };
    assert.equal(p.title, "New");
    assert.equal(p.author, "Me");
    assert.equal(p.name, "shelves/s2/books/new1");
    const put = await request(server, "PUT", "/v1/shelves/s2/books/new1", {
      headers: JSON_HEADERS,
      body: JSON.stringify({ book: { title: "Put" }, updateMask: "title" }),
    });
    assert.equal(put.status, 200, put.text);
    assert.equal((put.json() as { title: string }).title, "Put");
  });

  test("DELETE returns the Empty JSON", async () => {
    await request(server, "POST", "/v1/shelves/s3/books", { headers: JSON_HEADERS, body: JSON.stringify({ name: "d/books/gone" }) });
    const r = await request(server, "DELETE", "/v1/shelves/s3/books/gone");
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), {});
    const again = await request(server, "GET", "/v1/shelves/s3/books/gone");
    assert.equal(again.status, 404);
  });

  test("custom verb with body *, and 405 with Allow for the wrong method on it", async () => {
    await request(server, "POST", "/v1/shelves/s4/books", { headers: JSON_HEADERS, body: JSON.stringify({ name: "x/books/m1" }) });
    const r = await request(server, "POST", "/v1/shelves/s4/books/m1:move", {
      headers: JSON_HEADERS,
      body: JSON.stringify({ otherShelfName: "shelves/s5" }),
    });
    assert.equal(r.status, 200, r.text);
    assert.equal((r.json() as { name: string }).name, "shelves/s5/books/m1");
    const wrong = await request(server, "GET", "/v1/shelves/s5/books/m1:move");
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.allow, "POST");
    assert.equal((wrong.json() as { code: number }).code, 12);
  });

  test("** captures several segments, %2F stays encoded inside it; response_body picks one field", async () => {
    const r = await request(server, "GET", "/v1/files/a/b%2Fc/d%20e.txt");
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json(), { path: "a/b%2Fc/d e.txt", size: "15", content: "content of a/b%2Fc/d e.txt" });
    const empty = await request(server, "GET", "/v1/files");
    assert.equal(empty.status, 200, empty.text);
    assert.equal((empty.json() as { path?: string }).path, undefined);
  });

  test("a custom HTTP method (SEARCH) with body *", async () => {
    const r = await request(server, "SEARCH", "/v1/books", {
      headers: JSON_HEADERS,
      body: JSON.stringify({ query: "cos", page: { size: 2 } }),
    });
    assert.equal(r.status, 200, r.text);
    const body = r.json() as { books: { title: string }[]; echo: string };
    assert.deepEqual(
      body.books.map((b) => b.title),
      ["Cosmos"],
    );
    assert.deepEqual(JSON.parse(body.echo), { query: "cos", page: { size: 2 } });
  });

  test("server streaming as NDJSON, with a mid-stream error as the last line", async () => {
    const ok = await request(server, "GET", "/v1/shelves/s1/books:watch?count=2");
    assert.equal(ok.status, 200);
    assert.equal(ok.headers["content-type"], "application/x-ndjson");
    assert.equal(ok.headers["grpc-metadata-watch"], "shelves/s1");
    assert.deepEqual(
      ok.text
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l)),
      [
        { result: { seq: 1, book: { name: "shelves/s1/books/w1", title: "Book 1" } } },
        { result: { seq: 2, book: { name: "shelves/s1/books/w2", title: "Book 2" } } },
      ],
    );
    const failing = await request(server, "GET", "/v1/shelves/s1/books:watch?count=1&failCode=14");
    assert.equal(failing.status, 200);
    const lines = failing.text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, 2);
    assert.deepEqual(lines[1], { error: { code: 14, message: "watch failed on purpose", details: [] } });
    // Failing before the first message: a plain error response with the mapped status.
    const early = await request(server, "GET", "/v1/shelves/s1/books:watch?count=0&failCode=5");
    assert.equal(early.status, 404);
    assert.equal((early.json() as { code: number }).code, 5);
  });

  test("server streaming as Server-Sent Events", async () => {
    const r = await request(server, "GET", "/v1/shelves/s1/books:watch?count=2&failCode=10", { headers: { accept: "text/event-stream" } });
    assert.equal(r.status, 200);
    assert.equal(r.headers["content-type"], "text/event-stream");
    const events = r.text.split("\n\n").filter((e) => e !== "");
    assert.equal(events.length, 3);
    assert.deepEqual(JSON.parse((events[0] as string).slice("data: ".length)), {
      seq: 1,
      book: { name: "shelves/s1/books/w1", title: "Book 1" },
    });
    assert.match(events[2] as string, /^event: error\ndata: /);
    assert.equal(JSON.parse((events[2] as string).split("data: ")[1] as string).code, 10);
  });

  test("errors: google.rpc.Status JSON, details as Any with @type, internal errors hidden", async () => {
    const r = await request(server, "GET", "/v1/shelves/s1/books/nope");
    assert.equal(r.status, 404);
    assert.deepEqual(r.json(), {
      code: 5,
      message: "book shelves/s1/books/nope not found",
      details: [
        {
          "@type": "type.googleapis.com/petrel.gateway.testing.v1.MissingResource",
          resourceName: "shelves/s1/books/nope",
          hint: "list the shelf first",
        },
      ],
    });
    const boom = await request(server, "GET", "/v1/shelves/s1/books/boom");
    assert.equal(boom.status, 500);
    assert.deepEqual(boom.json(), { code: 13, message: "internal error", details: [] });
    assert.doesNotMatch(boom.text, /secret/);
    assert.ok(internalErrors.some((e) => (e as Error).message === "secret internal detail"));
    const exists = await request(server, "POST", "/v1/shelves/s1/books", {
      headers: JSON_HEADERS,
      body: JSON.stringify({ name: "x/books/b1" }),
    });
    assert.equal(exists.status, 409);
  });

  test("bad input: 400 for invalid JSON, wrong types, unknown fields and query parameters, bad escapes; 413; 415", async () => {
    const cases: [string, string, string | undefined, number, RegExp][] = [
      ["POST", "/v1/shelves/s1/books", "{not json", 400, /not valid JSON/],
      ["POST", "/v1/shelves/s1/books", JSON.stringify({ title: 42 }), 400, /title/],
      ["POST", "/v1/shelves/s1/books", JSON.stringify({ nope: 1 }), 400, /nope/],
      ["POST", "/v1/shelves/s1/books", JSON.stringify({ createTime: "yesterday" }), 400, /createTime|create_time|Timestamp/],
      ["SEARCH", "/v1/books", "[1,2]", 400, /JSON object/],
      ["GET", "/v1/shelves/s1/books?bogus=1", undefined, 400, /bogus/],
      ["GET", "/v1/shelves/s1/books?page.size=abc", undefined, 400, /size|int32/],
      ["GET", "/v1/shelves/s1/books?genre=GENRE_NOPE", undefined, 400, /GENRE_NOPE|enum/],
      ["GET", "/v1/shelves/s1/books?includeHidden=maybe", undefined, 400, /boolean/],
      ["GET", "/v1/shelves/s1/books?page.size=1&page.size=2", undefined, 400, /not repeated/],
      ["GET", "/v1/shelves/s1/books?page=1", undefined, 400, /message/],
      ["GET", "/v1/shelves/s1/books/%E0%A4%A", undefined, 400, /percent/],
    ];
    for (const [method, path, body, status, re] of cases) {
      const r = await request(server, method, path, { headers: JSON_HEADERS, body });
      assert.equal(r.status, status, `${method} ${path} ${body}: ${r.text}`);
      const s = r.json() as { code: number; message: string };
      assert.equal(s.code, 3, r.text);
      assert.match(s.message, re, `${method} ${path} ${body}`);
    }
    const big = await request(server, "POST", "/v1/shelves/s1/books", {
      headers: JSON_HEADERS,
      body: JSON.stringify({ title: "x".repeat(2000) }),
    });
    assert.equal(big.status, 413);
    assert.equal((big.json() as { code: number }).code, 8);
    const xml = await request(server, "POST", "/v1/shelves/s1/books", { headers: { "content-type": "text/xml" }, body: "<book/>" });
    assert.equal(xml.status, 415);
  });

  test("unknown routes fall through the chain (404 JSON at its end); wrong method on a known path is 405", async () => {
    assert.equal((await request(server, "GET", "/other")).text, "other");
    const missing = await request(server, "GET", "/v3/whatever");
    assert.equal(missing.status, 404);
    assert.equal((missing.json() as { code: number }).code, 5);
    const wrong = await request(server, "PUT", "/v1/shelves/s1/books");
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.allow, "GET, POST");
  });

  test("headers -> metadata: authorization and grpc-metadata-* only; response metadata as grpc-metadata-/grpc-trailer- headers", async () => {
    const r = await request(server, "GET", "/v1/shelves/s1/books/b1", {
      headers: { authorization: "Bearer t", "grpc-metadata-user": "ann", cookie: "c=1" },
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers["grpc-metadata-seen-authorization"], "Bearer t");
    assert.equal(r.headers["grpc-metadata-seen-user"], "ann");
    assert.equal(r.headers["grpc-metadata-seen-cookie"], undefined);
    assert.equal(r.headers["grpc-trailer-served-by"], "library");
  });

  test("grpc-timeout: a malformed value is a 400", async () => {
    const r = await request(server, "GET", "/v1/shelves/s1/books/b1", { headers: { "grpc-timeout": "soon" } });
    assert.equal(r.status, 400, r.text);
    assert.match((r.json() as { message: string }).message, /grpc-timeout|timeout/);
  });

  test("the OpenAPI 3.1 document is served and valid", async () => {
    const r = await request(server, "GET", "/openapi.json");
    assert.equal(r.status, 200);
    const doc = r.json() as {
      openapi: string;
      paths: Record<string, Record<string, { parameters: { name: string; in: string }[]; requestBody?: unknown }>>;
      components: { schemas: Record<string, { properties?: Record<string, unknown>; enum?: string[] }> };
    };
    assert.equal(doc.openapi, "3.1.0");
    const result = await new Validator().validate(doc as never);
    assert.equal(result.valid, true, JSON.stringify(result.errors));
    const list = doc.paths["/v1/{parent}/books"]?.get;
    assert.ok(list);
    const names = list.parameters.map((p) => `${p.in}:${p.name}`);
    for (const n of ["path:parent", "query:page.size", "query:tag", "query:minPages", "query:readMask"]) assert.ok(names.includes(n), n);
    assert.ok(doc.paths["/v1/{book.name}"]?.patch?.requestBody);
    assert.ok(doc.paths["/v1/{name}:move"]?.post);
    assert.ok(doc.paths["/v1/files/{path}"]?.get);
    const book = doc.components.schemas["petrel.gateway.testing.v1.Book"];
    assert.ok(book?.properties?.createTime && book.properties.pageCount);
    assert.deepEqual(doc.components.schemas["petrel.gateway.testing.v1.Genre"]?.enum, [
      "GENRE_UNSPECIFIED",
      "GENRE_FICTION",
      "GENRE_SCIENCE",
    ]);
    assert.ok(doc.components.schemas["google.rpc.Status"]);
  });
});

describe("REST gateway on node:http2 (compat API, h2c)", () => {
  test("unary and streaming over HTTP/2", async () => {
    const router = createRouter().service(LibraryService, createLibraryImpl());
    const server = http2.createServer(chainHttpHandlers([createRestGateway({ router })]));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const client = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const get = (path: string) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const s = client.request({ ":path": path });
        let status = 0;
        let text = "";
        s.on("response", (h) => {
          status = Number(h[":status"]);
        });
        s.setEncoding("utf8");
        s.on("data", (c: string) => {
          text += c;
        });
        s.on("end", () => resolve({ status, text }));
        s.on("error", reject);
      });
    try {
      const r = await get("/v1/shelves/s1/books/b2");
      assert.equal(r.status, 200);
      assert.equal(JSON.parse(r.text).title, "Cosmos");
      const s = await get("/v1/shelves/s1/books:watch?count=3");
      assert.equal(s.text.trim().split("\n").length, 3);
      assert.equal((await get("/v1/nothing")).status, 404);
    } finally {
      client.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
