// gRPC-Web text mode (`application/grpc-web-text`): the whole body is base64. A sender may encode
// each chunk on its own, so padded quanta can appear in the middle of the stream ("chunked
// base64 segments", PROTOCOL-WEB.md); decoding 4-character quanta one by one handles both.
import { Code, RpcError } from "@petrel/core";
import { decodeBase64 } from "@petrel/protocol-grpc";

/**
 * Decodes a base64 byte stream chunk by chunk. Whitespace (CR, LF, space, tab) between
 * characters is skipped; a quantum may straddle chunks; `=` padding may end any quantum.
 * @throws RpcError INTERNAL for characters outside the alphabet or a stream that ends mid-quantum.
 * @internal
 */
export async function* decodeBase64Stream(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  let carry = "";
  for await (const chunk of chunks) {
    let s = carry + Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString("latin1");
    if (/[\r\n\t ]/.test(s)) s = s.replace(/[\r\n\t ]+/g, "");
    const whole = s.length - (s.length % 4);
    carry = s.slice(whole);
    if (whole > 0) yield decodeQuanta(s.slice(0, whole));
  }
  if (carry.length > 0) throw new RpcError(Code.INTERNAL, "grpc-web-text: body ends inside a base64 quantum");
}

/** Decodes whole 4-character quanta, allowing padding at the end of any of them. */
function decodeQuanta(s: string): Uint8Array {
  try {
    // The common case: padding at most at the very end.
    const pad = s.indexOf("=");
    if (pad < 0 || pad >= s.length - 2) return decodeBase64(s);
    const parts: Uint8Array[] = [];
    let start = 0;
    for (let i = 0; i < s.length; i += 4) {
      if (s.charCodeAt(i + 3) === 0x3d) {
        // A padded quantum ends a segment.
        parts.push(decodeBase64(s.slice(start, i + 4)));
        start = i + 4;
      }
    }
    if (start < s.length) parts.push(decodeBase64(s.slice(start)));
    return Buffer.concat(parts);
  } catch (e) {
    throw new RpcError(Code.INTERNAL, `grpc-web-text: ${(e as Error).message}`);
  }
}

/** Encodes one response chunk as padded base64, so chunks can be concatenated as segments. @internal */
export function encodeBase64Chunk(bytes: Uint8Array): Buffer {
  // Node's encoder pads, and is native.
  return Buffer.from(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64"), "latin1");
}
