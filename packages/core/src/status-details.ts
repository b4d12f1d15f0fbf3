import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import type { ErrorDetail } from "./rpc-error.js";

/**
 * Encodes `google.rpc.Status { int32 code = 1; string message = 2; repeated Any details = 3; }`
 * by hand: it is three fields, and it keeps the core free of a generated dependency on
 * googleapis. This is the blob gRPC sends as `grpc-status-details-bin` and petrel/1 in TRAILERS.
 */
export function encodeStatusDetails(code: number, message: string, details: readonly ErrorDetail[]): Uint8Array {
  const w = new BinaryWriter();
  if (code !== 0) w.tag(1, WireType.Varint).int32(code);
  if (message !== "") w.tag(2, WireType.LengthDelimited).string(message);
  for (const d of details) {
    w.tag(3, WireType.LengthDelimited).fork();
    w.tag(1, WireType.LengthDelimited).string(`type.googleapis.com/${d.typeName}`);
    w.tag(2, WireType.LengthDelimited).bytes(d.value);
    w.join();
  }
  return w.finish();
}

/** Decodes a `google.rpc.Status` blob. Throws on malformed input. */
export function decodeStatusDetails(bytes: Uint8Array): { code: number; message: string; details: ErrorDetail[] } {
  const r = new BinaryReader(bytes);
  let code = 0;
  let message = "";
  const details: ErrorDetail[] = [];
  while (r.pos < r.len) {
    const [field, wt] = r.tag();
    if (field === 1 && wt === WireType.Varint) code = r.int32();
    else if (field === 2 && wt === WireType.LengthDelimited) message = r.string();
    else if (field === 3 && wt === WireType.LengthDelimited) {
      const sub = new BinaryReader(r.bytes());
      let typeUrl = "";
      let value: Uint8Array = new Uint8Array(0);
      while (sub.pos < sub.len) {
        const [f, w] = sub.tag();
        if (f === 1 && w === WireType.LengthDelimited) typeUrl = sub.string();
        else if (f === 2 && w === WireType.LengthDelimited) value = sub.bytes();
        else sub.skip(w);
      }
      details.push({ typeName: typeUrl.slice(typeUrl.lastIndexOf("/") + 1), value });
    } else r.skip(wt);
  }
  return { code, message, details };
}
