import { create, createFileRegistry, type DescMessage, type MessageShape, toBinary } from "@bufbuild/protobuf";
import {
  type Duration,
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
  file_google_protobuf_duration,
} from "@bufbuild/protobuf/wkt";
import { Code, type ErrorDetail, RpcError } from "@petrel/core";
import { PUSHBACK_KEY } from "./retry-signals.js";

// google.rpc.RetryInfo { google.protobuf.Duration retry_delay = 1; } from
// google/rpc/error_details.proto, described in code: the repo has no generated googleapis code,
// and one message does not justify adding it. Wire-compatible with every gRPC implementation.
const retryInfoFile = create(FileDescriptorProtoSchema, {
  name: "petrel/resilience/google_rpc_retry_info.proto",
  package: "google.rpc",
  syntax: "proto3",
  dependency: ["google/protobuf/duration.proto"],
  messageType: [
    {
      name: "RetryInfo",
      field: [
        {
          name: "retry_delay",
          jsonName: "retryDelay",
          number: 1,
          label: FieldDescriptorProto_Label.OPTIONAL,
          type: FieldDescriptorProto_Type.MESSAGE,
          typeName: ".google.protobuf.Duration",
        },
      ],
    },
  ],
});

/** The shape of a decoded `google.rpc.RetryInfo`. */
export interface RetryInfo {
  retryDelay?: Duration;
}

/**
 * `google.rpc.RetryInfo`, the standard detail telling a client how long to wait before retrying.
 * Decode with `err.findDetails(retryInfoSchema)`.
 */
export const retryInfoSchema: DescMessage = createFileRegistry(retryInfoFile, (name) =>
  name === "google/protobuf/duration.proto" ? file_google_protobuf_duration : undefined,
).getMessage("google.rpc.RetryInfo") as DescMessage;

/** A RetryInfo detail for a delay in milliseconds (rounded up to whole ms, at least 0). */
export function retryInfoDetail(delayMs: number): ErrorDetail {
  const ms = Math.max(0, Math.ceil(delayMs));
  const msg = create(retryInfoSchema, {
    retryDelay: { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 },
  } as never);
  return { typeName: retryInfoSchema.typeName, value: toBinary(retryInfoSchema, msg) };
}

/**
 * The error of a rejected call that may be retried after `delayMs`: `code` (default
 * RESOURCE_EXHAUSTED) with a `google.rpc.RetryInfo` detail and the `grpc-retry-pushback-ms`
 * metadata, which Petrel's retry interceptor honours (A6) and other gRPC clients understand.
 */
export function retryableRejection(message: string, delayMs: number, code: Code = Code.RESOURCE_EXHAUSTED): RpcError {
  const ms = Math.max(0, Math.ceil(delayMs));
  return new RpcError(code, message, {
    details: [retryInfoDetail(ms)],
    metadata: { [PUSHBACK_KEY]: String(Math.min(ms, 0x7fff_ffff)) },
  });
}

/** The retry delay in ms an error carries as a RetryInfo detail, if any. */
export function retryDelayOf(err: RpcError): number | undefined {
  for (const d of err.findDetails(retryInfoSchema) as MessageShape<DescMessage>[]) {
    const delay = (d as unknown as RetryInfo).retryDelay;
    if (delay !== undefined) return Number(delay.seconds) * 1000 + Math.round(delay.nanos / 1_000_000);
  }
  return undefined;
}
