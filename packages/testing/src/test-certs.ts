import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";

/** A key pair in PEM form. */
export interface TestKeyPair {
  key: Buffer;
  cert: Buffer;
}

/** Certificates made for one test run; nothing is left on disk. */
export interface TestCerts {
  /** The CA that signed `server` and `client`. */
  ca: Buffer;
  /** Server certificate with SANs `IP:127.0.0.1`, `IP:::1` and `DNS:localhost`. */
  server: TestKeyPair;
  /** Client certificate (CN `petrel-test-client`) for mutual TLS. */
  client: TestKeyPair;
  /** A second, unrelated CA. */
  otherCa: Buffer;
  /** A client certificate (CN `petrel-rogue-client`) signed by `otherCa`. */
  otherClient: TestKeyPair;
  /** A server certificate for 127.0.0.1 signed by `otherCa`. */
  otherServer: TestKeyPair;
}

/** The openssl binary: `$OPENSSL`, else /usr/bin/openssl, else the first `openssl` on PATH. */
export function opensslPath(): string | undefined {
  const candidates = [process.env.OPENSSL, "/usr/bin/openssl", "/usr/local/bin/openssl"];
  for (const c of candidates) if (c !== undefined && c !== "" && existsSync(c)) return c;
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return "openssl";
  } catch {
    return undefined;
  }
}

/**
 * Generates a throw-away PKI with the `openssl` CLI (EC P-256 keys, valid 2 days): a CA, a server
 * and a client certificate it signed, plus a second CA with its own client and server
 * certificates (for "wrong CA" cases). Files are made in a temp dir that is removed before
 * returning. Throws a clear error when openssl is missing.
 */
export function createTestCerts(): TestCerts {
  const openssl = opensslPath();
  if (openssl === undefined) {
    throw new Error("createTestCerts: the openssl CLI was not found (install Debian's `openssl` package or set $OPENSSL)");
  }
  const dir = mkdtempSync(join(tmpdir(), "petrel-certs-"));
  const run = (args: string[]) => {
    try {
      execFileSync(openssl, args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      const stderr = (e as { stderr?: Buffer }).stderr?.toString() ?? "";
      throw new Error(`createTestCerts: openssl ${args.join(" ")} failed: ${stderr || (e as Error).message}`);
    }
  };
  const read = (name: string) => readFileSync(join(dir, name));
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  const makeCa = (name: string, cn: string) => {
    run([
      "req",
      "-x509",
      ...ec,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      "-subj",
      `/CN=${cn}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ]);
  };
  const makeLeaf = (name: string, ca: string, cn: string, ext: string): TestKeyPair => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    run(["req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`]);
    run([
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      `${ca}.pem`,
      "-CAkey",
      `${ca}.key`,
      "-set_serial",
      `0x${randomBytes(8).toString("hex")}`,
      "-days",
      "2",
      "-out",
      `${name}.pem`,
      "-extfile",
      `${name}.ext`,
    ]);
    return { key: read(`${name}.key`), cert: read(`${name}.pem`) };
  };
  const serverExt =
    "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\n";
  const clientExt = "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n";
  try {
    makeCa("ca", "Petrel Test CA");
    makeCa("other-ca", "Petrel Other Test CA");
    return {
      ca: read("ca.pem"),
      server: makeLeaf("server", "ca", "localhost", serverExt),
      client: makeLeaf("client", "ca", "petrel-test-client", clientExt),
      otherCa: read("other-ca.pem"),
      otherClient: makeLeaf("other-client", "other-ca", "petrel-rogue-client", clientExt),
      otherServer: makeLeaf("other-server", "other-ca", "localhost", serverExt),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
