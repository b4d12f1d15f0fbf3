// Go net/rpc's default protocol (net/rpc client.go gobClientCodec, server.go gobServerCodec): on
// one gob stream per direction, each request is `rpc.Request{ServiceMethod, Seq}` followed by the
// args value, each response `rpc.Response{ServiceMethod, Seq, Error}` followed by the reply value;
// on error the reply is an empty struct (`invalidRequest = struct{}{}`), which the client discards.
import { GobDecoder, type GobDecoderOptions } from "./decoder.js";
import { GobEncoder } from "./encoder.js";
import { GobError } from "./gob-error.js";
import { type GobType, GobTypes } from "./gob-type.js";

/** `rpc.Request` as Go declares it (exported fields only; gob skips the rest). */
export const REQUEST_TYPE: GobType = {
  kind: "struct",
  name: "Request",
  fields: [
    { name: "ServiceMethod", type: GobTypes.string },
    { name: "Seq", type: GobTypes.uint },
  ],
};
/** `rpc.Response`. */
export const RESPONSE_TYPE: GobType = {
  kind: "struct",
  name: "Response",
  fields: [
    { name: "ServiceMethod", type: GobTypes.string },
    { name: "Seq", type: GobTypes.uint },
    { name: "Error", type: GobTypes.string },
  ],
};
/** The body Go's server sends with an error: `struct{}{}`. */
export const INVALID_REQUEST_TYPE: GobType = { kind: "struct", name: "struct {}", fields: [] };

/** A header as decoded: Seq is a number, or a bigint beyond 2^53. */
export interface NetRpcHeader {
  serviceMethod: string;
  seq: number | bigint;
  /** Responses only; "" = success. */
  error: string;
}

/** A header and the value that followed it. */
export interface NetRpcFrame {
  header: NetRpcHeader;
  body: unknown;
}

/**
 * Reads header/body pairs from a gob stream (either direction). Throws GobError for a malformed
 * stream or a header that is not a struct; after that the connection must close.
 */
export class NetRpcReader {
  private readonly decoder: GobDecoder;
  private header: NetRpcHeader | undefined;

  constructor(options?: GobDecoderOptions) {
    this.decoder = new GobDecoder(options);
  }

  get midMessage(): boolean {
    return this.decoder.midMessage || this.header !== undefined;
  }

  push(chunk: Uint8Array): NetRpcFrame[] {
    const out: NetRpcFrame[] = [];
    for (const m of this.decoder.push(chunk)) {
      if (this.header === undefined) {
        this.header = headerOf(m.value);
        continue;
      }
      out.push({ header: this.header, body: m.value });
      this.header = undefined;
    }
    return out;
  }
}

function headerOf(v: unknown): NetRpcHeader {
  if (v === null || typeof v !== "object" || Array.isArray(v) || v instanceof Map || v instanceof Uint8Array) {
    throw new GobError("net/rpc header is not a struct");
  }
  const o = v as Record<string, unknown>;
  const sm = o.ServiceMethod ?? "";
  const seq = o.Seq ?? 0;
  const error = o.Error ?? "";
  if (typeof sm !== "string" || typeof error !== "string" || (typeof seq !== "number" && typeof seq !== "bigint")) {
    throw new GobError("net/rpc header has fields of the wrong type");
  }
  return { serviceMethod: sm, seq, error };
}

/** Writes net/rpc requests or responses on one gob stream (types announced once). */
export class NetRpcWriter {
  private readonly encoder = new GobEncoder();

  /** Header plus args, as Go's client writes them. */
  request(serviceMethod: string, seq: number | bigint, bodyType: GobType, body: unknown): Uint8Array {
    return this.pair(REQUEST_TYPE, { ServiceMethod: serviceMethod, Seq: seq }, bodyType, body);
  }

  /** Header plus reply; with an error, the reply is Go's empty struct. */
  response(serviceMethod: string, seq: number | bigint, result: { error: string } | { type: GobType; value: unknown }): Uint8Array {
    if ("error" in result) {
      return this.pair(RESPONSE_TYPE, { ServiceMethod: serviceMethod, Seq: seq, Error: result.error }, INVALID_REQUEST_TYPE, {});
    }
    return this.pair(RESPONSE_TYPE, { ServiceMethod: serviceMethod, Seq: seq }, result.type, result.value);
  }

  private pair(headerType: GobType, header: unknown, bodyType: GobType, body: unknown): Uint8Array {
    // Body first: if it does not fit its type it throws before anything (the header's type
    // definitions included) counts as sent. The header's fixed shape cannot fail.
    const b = this.encoder.encode(bodyType, body);
    const h = this.encoder.encode(headerType, header);
    const out = new Uint8Array(h.length + b.length);
    out.set(h);
    out.set(b, h.length);
    return out;
  }
}

/**
 * Whether the first bytes of a connection look like a Go net/rpc gob client: a short message
 * length, then the definition of a user type (id >= 64, so `-id` is 0x7F or a one- or
 * two-byte unsigned, 0xFF/0xFE) — Go's client always begins by defining `rpc.Request`. JSON
 * (`{`, `[`), HTTP (a letter), TLS (0x16 0x03) and HTTP/2's preface never match. Needs 2 bytes;
 * with fewer, answers false.
 */
export function looksLikeGobRpc(head: Uint8Array): boolean {
  if (head.length < 2) return false;
  const len = head[0] as number;
  const id = head[1] as number;
  return len > 1 && len < 0x80 && (id === 0x7f || id === 0xff || id === 0xfe);
}
