/**
 * ScalarType numbers (google.protobuf.FieldDescriptorProto.Type) shared by the fast encoder and
 * decoder: plain consts so the hot switch statements compare small integers.
 * @internal
 */
export const T_DOUBLE = 1;
export const T_FLOAT = 2;
export const T_INT64 = 3;
export const T_UINT64 = 4;
export const T_INT32 = 5;
export const T_FIXED64 = 6;
export const T_FIXED32 = 7;
export const T_BOOL = 8;
export const T_STRING = 9;
export const T_BYTES = 12;
export const T_UINT32 = 13;
export const T_SFIXED32 = 15;
export const T_SFIXED64 = 16;
export const T_SINT32 = 17;
export const T_SINT64 = 18;

/** Protobuf wire types (the low three bits of a tag). */
export const WT_VARINT = 0;
export const WT_BIT64 = 1;
export const WT_LEN = 2;
export const WT_START_GROUP = 3;
export const WT_END_GROUP = 4;
export const WT_BIT32 = 5;

/** The wire type a scalar of type `scalar` is written with (unpacked). */
export function wireTypeOf(scalar: number): number {
  switch (scalar) {
    case T_BYTES:
    case T_STRING:
      return WT_LEN;
    case T_DOUBLE:
    case T_FIXED64:
    case T_SFIXED64:
      return WT_BIT64;
    case T_FIXED32:
    case T_SFIXED32:
    case T_FLOAT:
      return WT_BIT32;
    default:
      return WT_VARINT;
  }
}
