import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, createClient, createInMemoryTransport, createRouter, RpcError } from "@petrel/core";
import { createTestServiceImpl, TestService } from "@petrel/testing";
import { pino } from "pino";
import { createAccessLog, defaultAccessLogLevel } from "./logging.js";
import { createHeaderRedactor, DEFAULT_REDACTED_HEADERS, REDACTED } from "./logging-redact.js";

const TOKEN = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.SIGNATURE-abc123";
const COOKIE = "session=cookie-value-987";
const API_KEY = "ak_live_51234567890";
const CUSTOM = "custom-token-value-555";

/** A pino logger writing into an array (sync), plus the output as parsed lines. */
function bufferLogger() {
  const chunks: string[] = [];
  const logger = pino({ level: "info" }, { write: (s: string) => void chunks.push(s) });
  return {
    logger,
    raw: () => chunks.join(""),
    lines: () =>
      chunks
        .join("")
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

function setup(options: Parameters<typeof createAccessLog>[0] = {}) {
  const out = bufferLogger();
  const log = createAccessLog({ logger: out.logger, ...options });
  const router = createRouter({ interceptors: [log.serverInterceptor] }).service(TestService, createTestServiceImpl());
  const client = createClient(TestService, createInMemoryTransport(router), { interceptors: [log.clientInterceptor] });
  return { out, client };
}

const SECRET_HEADERS = {
  authorization: `Bearer ${TOKEN}`,
  cookie: COOKIE,
  "x-api-key": API_KEY,
  "x-custom-token": CUSTOM,
  "x-request-id": "req-42",
  "user-agent": "test-agent/1",
};

describe("createAccessLog", () => {
  it("one line per call on each side, with the call's fields", async () => {
    const { out, client } = setup();
    await client.echo({ text: "a" }, { headers: { "x-request-id": "req-1" } });
    const lines = out.lines();
    assert.equal(lines.length, 2);
    const [server, client_] = lines as [Record<string, unknown>, Record<string, unknown>];
    // The server's line is written first: its interceptor returns before the client's.
    assert.equal(server.kind, "server");
    assert.equal(client_.kind, "client");
    for (const l of lines) {
      assert.equal(l.msg, "rpc");
      assert.equal(l.level, 30);
      assert.equal(l.service, "petrel.testing.v1.TestService");
      assert.equal(l.method, "Echo");
      assert.equal(l.code, 0);
      assert.equal(l.status, "OK");
      assert.equal(l.requestId, "req-1");
      assert.equal(typeof l.durationMs, "number");
      assert.ok((l.durationMs as number) >= 0);
      assert.equal(l.error, undefined);
    }
    assert.equal(server.protocol, "in-memory");
    assert.equal(server.system, "in_memory");
    assert.equal(server.peer, "in-memory");
    assert.equal(client_.peer, undefined);
  });

  it("never writes credential header values, also not when an error message echoes them", async () => {
    const { out, client } = setup();
    await client.echo({ text: "a" }, { headers: SECRET_HEADERS });
    await assert.rejects(
      client.echo(
        { text: "b", failCode: Code.UNAUTHENTICATED, failMessage: `bad token ${TOKEN} / ${API_KEY}` },
        { headers: SECRET_HEADERS },
      ),
      RpcError,
    );
    const raw = out.raw();
    for (const secret of [TOKEN, COOKIE, "cookie-value-987", API_KEY, CUSTOM]) assert.ok(!raw.includes(secret), `log contains ${secret}`);
    const lines = out.lines();
    assert.equal(lines.length, 4);
    const server = lines[0] as { headers: Record<string, string>; requestId: string };
    assert.equal(server.headers.authorization, REDACTED);
    assert.equal(server.headers.cookie, REDACTED);
    assert.equal(server.headers["x-api-key"], REDACTED);
    assert.equal(server.headers["x-custom-token"], REDACTED);
    assert.equal(server.headers["user-agent"], "test-agent/1");
    assert.equal(server.requestId, "req-42");
    const failed = lines[2] as { status: string; code: number; error: string; level: number };
    assert.deepEqual([failed.status, failed.code, failed.level], ["UNAUTHENTICATED", 16, 30]);
    assert.equal(failed.error, `bad token ${REDACTED} / ${REDACTED}`);
  });

  it("a configurable redaction list replaces the default; headers: false leaves headers out", async () => {
    const custom = setup({ redact: ["x-tenant", /^x-internal-/] });
    await custom.client.echo(
      { text: "a" },
      { headers: { "x-tenant": "acme-secret", "x-internal-route": "r-77", authorization: "Basic visible" } },
    );
    const h = (custom.out.lines()[0] as { headers: Record<string, string> }).headers;
    assert.deepEqual([h["x-tenant"], h["x-internal-route"], h.authorization], [REDACTED, REDACTED, "Basic visible"]);
    assert.ok(!custom.out.raw().includes("acme-secret"));

    const bare = setup({ headers: false });
    await bare.client.echo({ text: "a" }, { headers: SECRET_HEADERS });
    assert.equal((bare.out.lines()[0] as { headers?: unknown }).headers, undefined);
    assert.ok(!bare.out.raw().includes(TOKEN));
  });

  it("streams log once, when the response stream ends; levels follow the status", async () => {
    const { out, client } = setup();
    let n = 0;
    for await (const _ of client.serverStream({ text: "s", count: 3 })) n++;
    assert.equal(n, 3);
    assert.equal(out.lines().length, 2);
    await assert.rejects(client.echo({ text: "x", failCode: Code.INTERNAL, failMessage: "boom" }));
    await assert.rejects(client.echo({ text: "x", failCode: Code.UNAVAILABLE, failMessage: "down" }));
    const lines = out.lines();
    assert.deepEqual(
      lines.map((l) => [l.kind, l.method, l.status, l.level]),
      [
        ["server", "ServerStream", "OK", 30],
        ["client", "ServerStream", "OK", 30],
        ["server", "Echo", "INTERNAL", 50],
        ["client", "Echo", "INTERNAL", 50],
        ["server", "Echo", "UNAVAILABLE", 40],
        ["client", "Echo", "UNAVAILABLE", 40],
      ],
    );
    assert.equal(defaultAccessLogLevel(Code.NOT_FOUND), "info");
  });

  it("the redactor matches names case-insensitively with * globs, and rejects bad entries", () => {
    const r = createHeaderRedactor(DEFAULT_REDACTED_HEADERS);
    for (const name of ["Authorization", "COOKIE", "x-api-key", "x-auth-token", "grpc-token", "db-password"])
      assert.ok(r.matches(name), name);
    for (const name of ["user-agent", "x-request-id", "tokenizer", "x-token-count"]) assert.ok(!r.matches(name), name);
    assert.equal(r.scrub("a SECRET b SECRET", ["SECRET", "ab"]), `a ${REDACTED} b ${REDACTED}`);
    assert.throws(() => createHeaderRedactor([42 as unknown as string]), /expected header names or RegExps, got number/);
  });
});
