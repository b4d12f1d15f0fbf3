// gRPC status -> HTTP status and the google.rpc.Status JSON error body, as grpc-gateway does.
import { create, toJson, type JsonValue, type Registry } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import type { RpcError } from "@petrel/core";

/** grpc-gateway's `HTTPStatusFromCode` table, indexed by code. */
const STATUS_BY_CODE: readonly number[] = [
  200, // OK
  499, // CANCELLED (client closed request)
  500, // UNKNOWN
  400, // INVALID_ARGUMENT
  504, // DEADLINE_EXCEEDED
  404, // NOT_FOUND
  409, // ALREADY_EXISTS
  403, // PERMISSION_DENIED
  429, // RESOURCE_EXHAUSTED
  400, // FAILED_PRECONDITION
  409, // ABORTED
  400, // OUT_OF_RANGE
  501, // UNIMPLEMENTED
  500, // INTERNAL
  503, // UNAVAILABLE
  500, // DATA_LOSS
  401, // UNAUTHENTICATED
];

/** The HTTP status for a gRPC code (500 for anything out of range). */
export function httpStatusFromCode(code: number): number {
  return STATUS_BY_CODE[code] ?? 500;
}

/**
 * The google.rpc.Status JSON of an error: `{code, message, details}`. Each detail is the
 * protobuf JSON of a `google.protobuf.Any` (`{"@type": "type.googleapis.com/T", ...fields}`) when
 * the registry knows T, else `{"@type", "value": base64}` so nothing is lost.
 */
export function statusJson(err: RpcError, registry: Registry | undefined): { code: number; message: string; details: JsonValue[] } {
  const details: JsonValue[] = [];
  for (const d of err.details) {
    const typeUrl = `type.googleapis.com/${d.typeName}`;
    let json: JsonValue | undefined;
    if (registry?.getMessage(d.typeName) !== undefined) {
      try {
        json = toJson(AnySchema, create(AnySchema, { typeUrl, value: d.value }), { registry });
      } catch {
        json = undefined;
      }
    }
    details.push(json ?? { "@type": typeUrl, value: Buffer.from(d.value).toString("base64") });
  }
  return { code: err.code, message: err.rawMessage, details };
}
