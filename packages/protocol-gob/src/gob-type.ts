// The type model shared by the encoder (what to announce) and the decoder (what was announced).

/** A basic gob type, predefined on every stream. */
export type GobBasicKind = "bool" | "int" | "uint" | "float" | "bytes" | "string" | "complex";

/** A gob type. Struct types may be recursive (a field's type may be the struct itself). */
export type GobType =
  | { readonly kind: GobBasicKind }
  | { readonly kind: "slice"; readonly name?: string; readonly elem: GobType }
  | { readonly kind: "array"; readonly name?: string; readonly len: number; readonly elem: GobType }
  | { readonly kind: "map"; readonly name?: string; readonly key: GobType; readonly elem: GobType }
  | { readonly kind: "struct"; readonly name: string; readonly fields: readonly GobField[] };

/** A struct field: the sender's (exported Go) name and its type. */
export interface GobField {
  readonly name: string;
  readonly type: GobType;
}

/** The predefined basic types (use these objects; the encoder knows their fixed ids). */
export const GobTypes = {
  bool: { kind: "bool" },
  int: { kind: "int" },
  uint: { kind: "uint" },
  float: { kind: "float" },
  bytes: { kind: "bytes" },
  string: { kind: "string" },
  complex: { kind: "complex" },
} as const satisfies Record<GobBasicKind, GobType>;

/** Predefined type ids (doc.go). @internal */
export const BASIC_IDS: Record<GobBasicKind, number> = { bool: 1, int: 2, uint: 3, float: 4, bytes: 5, string: 6, complex: 7 };
/** @internal */
export const INTERFACE_ID = 8;
/** Lowest id a Go encoder gives a user type (type.go firstUserId). @internal */
export const FIRST_USER_ID = 64;

/** A gob complex number. */
export interface GobComplex {
  real: number;
  imag: number;
}
