import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { createRouter } from "@petrel/core";
import { TestService, createTestServiceImpl } from "@petrel/testing";
import { createGrpcServer, type GrpcServer } from "./index.js";

describe("gRPC client and process lifetime", () => {
  let server: GrpcServer;
  let port: number;
  before(async () => {
    server = createGrpcServer({ router: createRouter().service(TestService, createTestServiceImpl()) });
    ({ port } = await server.listen({ port: 0, host: "127.0.0.1" }));
  });
  after(async () => {
    await server.close({ graceMs: 1000 });
  });

  it("an in-flight call keeps the process alive; an idle transport does not", async () => {
    // The child makes one 300 ms call without keeping anything else alive, prints the answer and
    // never closes its transport: it must print, then exit by itself.
    const script = `
      import { createClient } from "@petrel/core";
      import { TestService } from "@petrel/testing";
      import { createGrpcTransport } from "@petrel/node";
      const c = createClient(TestService, createGrpcTransport({ baseUrl: "http://127.0.0.1:${port}" }));
      c.sleep({ sleepMs: 300 }).then((r) => console.log("answer cancelled=" + r.cancelled));
    `;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      out += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    clearTimeout(timer);
    assert.equal(code, 0, out);
    assert.match(out, /answer cancelled=false/);
  });
});
