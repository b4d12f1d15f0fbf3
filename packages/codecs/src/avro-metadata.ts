import type { DescMessage } from "@bufbuild/protobuf";
import { Code, RpcError, type Interceptor, type ServerInterceptor } from "@petrel/core";
import type { AvroCodec } from "./avro-codec.js";

/**
 * Call metadata key carrying the writer schema's CRC-64-AVRO fingerprint (16 hex digits, the
 * single-object encoding's little-endian bytes): on requests for the input message, on response
 * headers for the output message. The payloads carry the same fingerprint in their single-object
 * header, which is what decoding uses; the metadata lets a peer, proxy or log see and check the
 * writer schema before any payload is read.
 */
export const AVRO_FINGERPRINT_KEY = "x-petrel-avro-fingerprint";

/** Client interceptor: adds the request writer fingerprint to calls that use `codec`. */
export function createAvroFingerprintInterceptor(codec: AvroCodec): Interceptor {
  return (next) => (req) => {
    if (req.codec === codec.name) req.header.set(AVRO_FINGERPRINT_KEY, codec.schemaOf(req.method.input as DescMessage).fingerprint);
    return next(req);
  };
}

/**
 * Server interceptor: when a request names a writer fingerprint, refuses unknown ones with
 * FAILED_PRECONDITION (a clear message instead of a decode failure later in a stream), and
 * answers with the response writer fingerprint. Calls without the key pass untouched.
 */
export function createAvroServerFingerprintInterceptor(codec: AvroCodec): ServerInterceptor {
  return (next) => (req) => {
    const fp = req.ctx.requestHeader.getString(AVRO_FINGERPRINT_KEY);
    if (fp !== undefined) {
      codec.schemaOf(req.method.input as DescMessage); // registers the local schema
      if (codec.registry.get(fp) === undefined) {
        return Promise.reject(
          new RpcError(Code.FAILED_PRECONDITION, `avro: unknown writer schema fingerprint ${fp} for ${req.method.input.typeName}`),
        );
      }
      req.ctx.responseHeader.set(AVRO_FINGERPRINT_KEY, codec.schemaOf(req.method.output as DescMessage).fingerprint);
    }
    return next(req);
  };
}
