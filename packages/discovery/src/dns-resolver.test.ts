import assert from "node:assert/strict";
import { createSocket, type Socket } from "node:dgram";
import { describe, it } from "node:test";
import { FakeClock, Recorder, settle } from "./fake-clock-fixture.js";
import { createDnsResolverFactory, createNodeDnsResolverFactory, parseTarget, type DnsLookup, type SrvRecord } from "./index.js";

type Zone = { a?: Record<string, string[]>; aaaa?: Record<string, string[]>; srv?: Record<string, SrvRecord[]> };

function noData(name: string): Error {
  return Object.assign(new Error(`queryA ENODATA ${name}`), { code: "ENODATA" });
}

/** Injected lookups answering from a mutable zone; `fail` makes every query time out. */
function fakeLookup(zone: Zone) {
  const state = { zone, fail: false, queries: 0, servers: [] as (string | undefined)[] };
  const answer = <T>(table: Record<string, T[]> | undefined, name: string): Promise<T[]> => {
    state.queries++;
    if (state.fail) return Promise.reject(Object.assign(new Error("timeout"), { code: "ETIMEOUT" }));
    const v = table?.[name];
    return v === undefined ? Promise.reject(noData(name)) : Promise.resolve(v);
  };
  const lookup = (server: string | undefined): DnsLookup => {
    state.servers.push(server);
    return {
      resolve4: (n) => answer(state.zone.a, n),
      resolve6: (n) => answer(state.zone.aaaa, n),
      resolveSrv: (n) => answer(state.zone.srv, n),
    };
  };
  return { state, lookup };
}

describe("dns resolver (injected lookups, fake clock)", () => {
  it("resolves A and AAAA to host:port endpoints, and passes the authority as the DNS server", async () => {
    const { state, lookup } = fakeLookup({ a: { "svc.local": ["10.0.0.1", "10.0.0.2"] }, aaaa: { "svc.local": ["fd00::1"] } });
    const clock = new FakeClock();
    const rec = new Recorder();
    const r = createDnsResolverFactory({ lookup }).build(parseTarget("dns://127.0.0.1:5353/svc.local:8080"), rec, { clock });
    await settle();
    assert.deepEqual(rec.addresses, ["10.0.0.1:8080", "10.0.0.2:8080", "[fd00::1]:8080"]);
    assert.deepEqual(rec.ids, rec.addresses);
    assert.deepEqual(state.servers, ["127.0.0.1:5353"]);
    r.close();
    assert.equal(clock.pending, 0, "close clears the refresh timer");
  });

  it("SRV: lowest priority group, weights from SRV, targets resolved", async () => {
    const { lookup } = fakeLookup({
      srv: {
        "_grpc._tcp.svc": [
          { name: "a.svc", port: 7000, priority: 10, weight: 60 },
          { name: "b.svc", port: 7001, priority: 10, weight: 0 },
          { name: "backup.svc", port: 7002, priority: 20, weight: 100 },
        ],
      },
      a: { "a.svc": ["10.0.0.1"], "b.svc": ["10.0.0.2"], "backup.svc": ["10.0.0.3"] },
    });
    const rec = new Recorder();
    const r = createDnsResolverFactory({ lookup }).build(parseTarget("dns:///_grpc._tcp.svc"), rec, { clock: new FakeClock() });
    await settle();
    const byAddr = Object.fromEntries((rec.updates.at(-1) ?? []).map((e) => [e.address, e]));
    assert.deepEqual(Object.keys(byAddr).sort(), ["10.0.0.1:7000", "10.0.0.2:7001"]);
    assert.equal(byAddr["10.0.0.1:7000"]?.weight, 60);
    assert.equal(byAddr["10.0.0.2:7001"]?.weight, 1, "SRV weight 0 counts as 1");
    assert.equal(byAddr["10.0.0.1:7000"]?.metadata?.["srv.target"], "a.svc");
    r.close();
  });

  it("re-resolves every refreshMs and keeps the last good list on errors", async () => {
    const { state, lookup } = fakeLookup({ a: { "svc.local": ["10.0.0.1"] } });
    const clock = new FakeClock();
    const rec = new Recorder();
    const r = createDnsResolverFactory({ lookup, refreshMs: 30_000 }).build(parseTarget("dns:///svc.local:1"), rec, { clock });
    await settle();
    assert.deepEqual(rec.addresses, ["10.0.0.1:1"]);
    state.zone = { a: { "svc.local": ["10.0.0.1", "10.0.0.9"] } };
    await clock.advance(29_999);
    assert.equal(rec.updates.length, 1, "not before the interval");
    await clock.advance(1);
    assert.deepEqual(rec.addresses, ["10.0.0.1:1", "10.0.0.9:1"]);
    state.fail = true;
    await clock.advance(30_000);
    assert.equal(rec.errors.length, 1);
    assert.match(rec.errors[0]?.message ?? "", /cannot resolve "svc.local": ETIMEOUT/);
    state.fail = false;
    state.zone = {}; // the name vanished: an error too, never an empty list
    await clock.advance(30_000);
    assert.equal(rec.errors.length, 2);
    assert.equal(rec.updates.length, 2, "no update while failing");
    assert.ok(rec.updates.every((u) => u.length > 0));
    state.zone = { a: { "svc.local": ["10.0.0.2"] } };
    await clock.advance(30_000);
    assert.deepEqual(rec.addresses, ["10.0.0.2:1"]);
    r.close();
  });

  it("resolveNow re-resolves at most once per minResolveIntervalMs", async () => {
    const { state, lookup } = fakeLookup({ a: { "svc.local": ["10.0.0.1"] } });
    const clock = new FakeClock();
    const rec = new Recorder();
    const r = createDnsResolverFactory({ lookup, refreshMs: 60_000, minResolveIntervalMs: 5_000 }).build(
      parseTarget("dns:///svc.local:1"),
      rec,
      {
        clock,
      },
    );
    await settle();
    const after1 = state.queries;
    r.resolveNow?.();
    r.resolveNow?.();
    await settle();
    assert.equal(state.queries, after1, "too soon: deferred");
    await clock.advance(5_000);
    assert.equal(state.queries, after1 + 2, "one resolution (A + AAAA) once the interval passed");
    await clock.advance(6_000);
    r.resolveNow?.();
    await settle();
    assert.equal(state.queries, after1 + 4, "immediate when the interval has passed");
    r.close();
  });

  it("IP literals need no lookup; bad targets fail clearly", async () => {
    const { state, lookup } = fakeLookup({});
    const rec = new Recorder();
    const f = createDnsResolverFactory({ lookup });
    const r = f.build(parseTarget("dns:///[::1]:50051"), rec, { clock: new FakeClock() });
    await settle();
    assert.deepEqual(rec.addresses, ["[::1]:50051"]);
    assert.equal(state.queries, 0);
    r.close();
    assert.throws(() => f.build(parseTarget("dns:///svc.local"), rec), /expected "dns:\/\/\/name:port"/);
    assert.throws(() => f.build(parseTarget("dns:///_grpc._tcp.svc:80"), rec), /SRV name takes no port/);
    assert.throws(() => createDnsResolverFactory({ lookup, refreshMs: 0 }), TypeError);
  });
});

// ---- a tiny authoritative DNS server over UDP, enough for node:dns (c-ares) A, AAAA and SRV queries ----

function encodeName(name: string): Buffer {
  const parts = name
    .replace(/\.$/, "")
    .split(".")
    .filter((p) => p !== "");
  return Buffer.concat([...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, "ascii")])), Buffer.from([0])]);
}

/** Answers A and SRV from `zone` (a name-compression pointer to the question for owner names); anything else: no data. */
function dnsAnswer(query: Buffer, zone: Zone): Buffer {
  let off = 12;
  const labels: string[] = [];
  while (query[off] !== 0) {
    const len = query[off] as number;
    labels.push(query.subarray(off + 1, off + 1 + len).toString("ascii"));
    off += len + 1;
  }
  const qEnd = off + 5; // zero byte + qtype + qclass
  const name = labels.join(".").toLowerCase();
  const qtype = query.readUInt16BE(off + 1);
  const answers: Buffer[] = [];
  const rr = (type: number, rdata: Buffer) => {
    const head = Buffer.alloc(12);
    head.writeUInt16BE(0xc00c, 0); // pointer to the question name
    head.writeUInt16BE(type, 2);
    head.writeUInt16BE(1, 4); // IN
    head.writeUInt32BE(5, 6); // TTL 5 s
    head.writeUInt16BE(rdata.length, 10);
    answers.push(head, rdata);
  };
  if (qtype === 1) for (const ip of zone.a?.[name] ?? []) rr(1, Buffer.from(ip.split(".").map(Number)));
  if (qtype === 33) {
    for (const s of zone.srv?.[name] ?? []) {
      const fixed = Buffer.alloc(6);
      fixed.writeUInt16BE(s.priority, 0);
      fixed.writeUInt16BE(s.weight, 2);
      fixed.writeUInt16BE(s.port, 4);
      rr(33, Buffer.concat([fixed, encodeName(s.name)]));
    }
  }
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2); // id
  header.writeUInt16BE(0x8400 | (query.readUInt16BE(2) & 0x0100), 2); // QR, AA, RD echoed, NOERROR
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length / 2, 6);
  return Buffer.concat([header, query.subarray(12, qEnd), ...answers]);
}

async function startDnsServer(zone: Zone): Promise<{ socket: Socket; port: number; queries: string[] }> {
  const socket = createSocket("udp4");
  const queries: string[] = [];
  socket.on("message", (msg, rinfo) => {
    try {
      queries.push(msg.readUInt16BE(msg.length - 4).toString());
      socket.send(dnsAnswer(msg, zone), rinfo.port, rinfo.address);
    } catch {
      // a malformed query gets no answer; c-ares retries or times out
    }
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, "127.0.0.1", () => resolve());
  });
  return { socket, port: socket.address().port, queries };
}

describe("dns resolver over node:dns against a real DNS server on 127.0.0.1", () => {
  it("resolves A records and SRV records through dns.Resolver#setServers", async () => {
    const zone: Zone = {
      a: { "svc.petrel.test": ["127.0.0.11", "127.0.0.12"], "node1.petrel.test": ["127.0.0.21"] },
      srv: { "_grpc._tcp.petrel.test": [{ name: "node1.petrel.test", port: 7100, priority: 1, weight: 5 }] },
    };
    const dns = await startDnsServer(zone);
    const factory = createNodeDnsResolverFactory();
    const a = new Recorder();
    const srv = new Recorder();
    const r1 = factory.build(parseTarget(`dns://127.0.0.1:${dns.port}/svc.petrel.test:9000`), a);
    const r2 = factory.build(parseTarget(`dns://127.0.0.1:${dns.port}/_grpc._tcp.petrel.test`), srv);
    try {
      const deadline = Date.now() + 20_000;
      while ((a.updates.length === 0 || srv.updates.length === 0) && a.errors.length + srv.errors.length === 0 && Date.now() < deadline) {
        await new Promise((res) => setTimeout(res, 10));
      }
      assert.deepEqual([...a.errors, ...srv.errors], []);
      assert.deepEqual(a.addresses, ["127.0.0.11:9000", "127.0.0.12:9000"]);
      assert.deepEqual(srv.updates.at(-1), [
        {
          id: "127.0.0.21:7100",
          address: "127.0.0.21:7100",
          weight: 5,
          metadata: { "srv.target": "node1.petrel.test", "srv.priority": "1" },
        },
      ]);
      assert.ok(dns.queries.includes("33"), "an SRV query reached the server");
    } finally {
      r1.close();
      r2.close();
      await new Promise<void>((res) => dns.socket.close(() => res()));
    }
  });
});
