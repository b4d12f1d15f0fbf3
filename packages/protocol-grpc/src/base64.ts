/**
 * Standard base64 (RFC 4648 §4) for `-bin` metadata and `grpc-status-details-bin`. Hand-rolled
 * rather than `btoa`/`atob`: those go through a binary string, accept whitespace, and differ in
 * what they reject, while gRPC wants exact rules — emit unpadded, accept padded and unpadded.
 */

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Char code -> 6-bit value, or -1 for a character outside the alphabet. */
const DECODE = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/**
 * Encodes bytes as standard base64.
 * @param pad append `=` padding (default false: the gRPC spec says to emit unpadded values).
 */
export function encodeBase64(bytes: Uint8Array, pad = false): string {
  const n = bytes.length;
  let s = "";
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
    s += ALPHABET[v >>> 18] + ALPHABET[(v >>> 12) & 63] + ALPHABET[(v >>> 6) & 63] + ALPHABET[v & 63];
  }
  const rest = n - i;
  if (rest === 1) {
    const v = (bytes[i] as number) << 16;
    s += ALPHABET[v >>> 18] + ALPHABET[(v >>> 12) & 63];
    if (pad) s += "==";
  } else if (rest === 2) {
    const v = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8);
    s += ALPHABET[v >>> 18] + ALPHABET[(v >>> 12) & 63] + ALPHABET[(v >>> 6) & 63];
    if (pad) s += "=";
  }
  return s;
}

/**
 * Decodes standard base64, padded or unpadded (the gRPC spec: implementations MUST accept both).
 * Like Go's decoder, it ignores non-zero bits in the last character's unused low bits.
 * @throws TypeError for a character outside the alphabet (whitespace and URL-safe `-_` included),
 * misplaced or partial padding, or a length that leaves a lone trailing character.
 */
export function decodeBase64(s: string): Uint8Array {
  let end = s.length;
  if (end % 4 === 0 && end > 0 && s.charCodeAt(end - 1) === 0x3d) {
    // Padding only counts on a complete final quantum: "ab==" or "abc=".
    end -= s.charCodeAt(end - 2) === 0x3d ? 2 : 1;
  }
  const rest = end % 4;
  if (rest === 1) throw new TypeError("invalid base64: truncated input");
  const out = new Uint8Array(((end - rest) / 4) * 3 + (rest === 0 ? 0 : rest - 1));
  let o = 0;
  let i = 0;
  for (; i + 4 <= end; i += 4) {
    const v = (sextet(s, i) << 18) | (sextet(s, i + 1) << 12) | (sextet(s, i + 2) << 6) | sextet(s, i + 3);
    out[o++] = v >>> 16;
    out[o++] = (v >>> 8) & 0xff;
    out[o++] = v & 0xff;
  }
  if (rest === 2) {
    const v = (sextet(s, i) << 18) | (sextet(s, i + 1) << 12);
    out[o] = v >>> 16;
  } else if (rest === 3) {
    const v = (sextet(s, i) << 18) | (sextet(s, i + 1) << 12) | (sextet(s, i + 2) << 6);
    out[o++] = v >>> 16;
    out[o] = (v >>> 8) & 0xff;
  }
  return out;
}

function sextet(s: string, i: number): number {
  const c = s.charCodeAt(i);
  const v = c < 128 ? (DECODE[c] as number) : -1;
  if (v < 0) throw new TypeError(`invalid base64: unexpected character at offset ${i}`);
  return v;
}
