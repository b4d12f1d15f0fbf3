// The Arith service from Go's net/rpc documentation, implemented once; every protocol of the
// example server (petrel/1, gRPC, Connect, gRPC-Web, REST, JSON-RPC, Go net/rpc) calls this.
//
// How Go's method rules map onto it: Go exposes `func (t *T) Name(args *A, reply *R) error` as
// "T.Name" when T, Name, A and R are exported. In Petrel the method is a protobuf rpc
// `Name(A) returns (R)` of a service whose short name is T (so Go's "Arith.Multiply" finds
// `arith.Arith/Multiply`); the reply pointer becomes the return value, and a non-nil error
// becomes a thrown RpcError, which Go's client sees as an `rpc.ServerError` string.
import { Code, RpcError, type ServiceImpl } from "@petrel/core";
import type { Arith } from "./gen/arith/arith_pb.js";

const INT32_MIN = -0x8000_0000;
const INT32_MAX = 0x7fff_ffff;

/**
 * Creates the Arith implementation. Results are proto `int32`s: a product outside that range, and
 * INT32_MIN / -1, fail with OUT_OF_RANGE rather than wrap silently (Go's `int` is 64-bit, so a Go
 * server would answer them; the example keeps the proto's 32 bits and says so).
 */
export function createArithService(): ServiceImpl<typeof Arith> {
  return {
    multiply({ A, B }) {
      const value = A * B;
      if (value < INT32_MIN || value > INT32_MAX) throw new RpcError(Code.OUT_OF_RANGE, `product ${A} * ${B} overflows int32`);
      return { value };
    },
    divide({ A, B }) {
      if (B === 0) throw new RpcError(Code.INVALID_ARGUMENT, "divide by zero");
      if (A === INT32_MIN && B === -1) throw new RpcError(Code.OUT_OF_RANGE, `quotient ${A} / ${B} overflows int32`);
      // `| 0` truncates toward zero like Go's integer division and turns JavaScript's -0 into 0;
      // `%` already takes the dividend's sign, as Go's remainder does.
      return { Quo: (A / B) | 0, Rem: (A % B) | 0 };
    },
  };
}
