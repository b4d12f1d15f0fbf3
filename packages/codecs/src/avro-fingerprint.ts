/**
 * CRC-64-AVRO, the Rabin fingerprint of the Avro spec ("Schema Fingerprints"), over a schema's
 * Parsing Canonical Form. avsc only offers crypto hashes (md5 by default), so Petrel computes the
 * spec's 64-bit fingerprint itself; Python's avro and Java's `SchemaNormalization` agree on it.
 */

const EMPTY = 0xc15d213aa4d7a795n;
const MASK = 0xffffffffffffffffn;

// 256-entry table, built once at load (the spec's `FP_TABLE`).
const TABLE: bigint[] = (() => {
  const t: bigint[] = new Array(256);
  for (let i = 0; i < 256; i++) {
    let fp = BigInt(i);
    for (let j = 0; j < 8; j++) fp = (fp >> 1n) ^ (EMPTY & -(fp & 1n));
    t[i] = fp & MASK;
  }
  return t;
})();

/** The 64-bit Rabin fingerprint of `canonical` (UTF-8 encoded), as an unsigned bigint. */
export function avroRabin(canonical: string): bigint {
  let fp = EMPTY;
  for (const b of new TextEncoder().encode(canonical)) fp = (fp >> 8n) ^ (TABLE[Number((fp ^ BigInt(b)) & 0xffn)] as bigint);
  return fp;
}

/**
 * The fingerprint as the 8 bytes Avro's single-object encoding carries (little-endian).
 * The hex form Petrel shows and sends in metadata is these bytes in this order.
 */
export function avroFingerprintBytes(canonical: string): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, avroRabin(canonical), true);
  return out;
}

/** Lower-case hex of `bytes`. @internal */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += (bytes[i] as number).toString(16).padStart(2, "0");
  return s;
}
