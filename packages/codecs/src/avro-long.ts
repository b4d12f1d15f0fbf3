import avro from "avsc";

/**
 * avsc's `long` as a JS bigint (protobuf-es int64 shape), accepting numbers too so user-supplied
 * schemas may widen an int32 field to long. A fresh type per schema parse: avsc types keep a
 * registry per `forSchema` call.
 * @internal
 */
export function avroLongBigint(): avro.Type {
  return avro.types.LongType.__with({
    fromBuffer: (buf: Buffer) => buf.readBigInt64LE(),
    toBuffer: (n: bigint | number) => {
      const buf = Buffer.alloc(8);
      buf.writeBigInt64LE(typeof n === "bigint" ? BigInt.asIntN(64, n) : BigInt(n));
      return buf;
    },
    fromJSON: (v: unknown) => BigInt(v as number),
    toJSON: (n: bigint) => Number(n),
    isValid: (n: unknown) => typeof n === "bigint" || (typeof n === "number" && Number.isInteger(n)),
    compare: (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0),
  });
}
