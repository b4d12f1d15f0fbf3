// Message framing into Node Buffers, shared by the gRPC server and client calls.
import { frameMessage } from "@petrel/protocol-grpc";

/**
 * One message framed into a pooled Buffer (`Buffer.allocUnsafe`): no zero-fill on the hot path.
 * @internal
 */
export function frame(bytes: Uint8Array, compressed: boolean): Buffer {
  return frameMessage(bytes, compressed, Buffer.allocUnsafe);
}
