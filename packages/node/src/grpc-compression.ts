/**
 * gzip and deflate message compression for Petrel's gRPC server and client, on node:zlib.
 * `deflate` is the zlib format (RFC 1950), as gRPC and grpc-js use it; `gzip` is RFC 1952.
 * Decompression is asynchronous (zlib's thread pool) and bounded: zlib stops producing output at
 * `maxOutputLength`, so a small "bomb" costs at most the receive limit in memory.
 */
import { kMaxLength } from "node:buffer";
import { promisify } from "node:util";
import * as zlib from "node:zlib";
import { Code, RpcError } from "@petrel/core";
import { createCompressionRegistry, type Compression, type CompressionRegistry } from "@petrel/protocol-grpc";

type ZlibFn = (buf: zlib.InputType, options: zlib.ZlibOptions) => Promise<Buffer>;

const gzipAsync = promisify(zlib.gzip) as ZlibFn;
const gunzipAsync = promisify(zlib.gunzip) as ZlibFn;
const deflateAsync = promisify(zlib.deflate) as ZlibFn;
const inflateAsync = promisify(zlib.inflate) as ZlibFn;

function zlibCompression(name: string, compress: ZlibFn, decompress: ZlibFn): Compression {
  return {
    name,
    async compress(bytes) {
      const out = await compress(bytes, {});
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    },
    async decompress(bytes, maxOutput) {
      // maxOutputLength must be at least 1; an empty message still fits a limit of 0.
      const limit = Math.min(Math.max(1, Math.floor(maxOutput)), kMaxLength);
      let out: Buffer;
      try {
        out = await decompress(bytes, { maxOutputLength: limit });
      } catch (e) {
        if ((e as { code?: string }).code === "ERR_BUFFER_TOO_LARGE" || e instanceof RangeError) {
          throw new RpcError(
            Code.RESOURCE_EXHAUSTED,
            `grpc: ${name}-compressed message decompresses to more than the limit of ${maxOutput} bytes`,
          );
        }
        throw new RpcError(Code.INTERNAL, `grpc: cannot decompress ${name} message: ${(e as Error).message}`);
      }
      if (out.byteLength > maxOutput) {
        throw new RpcError(
          Code.RESOURCE_EXHAUSTED,
          `grpc: ${name}-compressed message decompresses to more than the limit of ${maxOutput} bytes`,
        );
      }
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    },
  };
}

/** gzip (RFC 1952) message compression. */
export const gzipCompression: Compression = zlibCompression("gzip", gzipAsync, gunzipAsync);
/** deflate (zlib format, RFC 1950) message compression. */
export const deflateCompression: Compression = zlibCompression("deflate", deflateAsync, inflateAsync);

/** A registry with `deflate` and `gzip` (so `grpc-accept-encoding: identity,deflate,gzip`). */
export function createDefaultGrpcCompressions(): CompressionRegistry {
  return createCompressionRegistry(deflateCompression, gzipCompression);
}
