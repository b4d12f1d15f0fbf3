export { decodeGob, GobDecoder, type GobDecoderOptions, type GobMessage } from "./decoder.js";
export { GobEncoder } from "./encoder.js";
export { GobError, isGobError } from "./gob-error.js";
export { type GobBasicKind, type GobComplex, type GobField, type GobType, GobTypes } from "./gob-type.js";
export { goFieldName, gobTypeOf, messageFromGob, messageToGob } from "./proto-mapping.js";
export {
  INVALID_REQUEST_TYPE,
  looksLikeGobRpc,
  type NetRpcFrame,
  type NetRpcHeader,
  NetRpcReader,
  NetRpcWriter,
  REQUEST_TYPE,
  RESPONSE_TYPE,
} from "./netrpc.js";
export type { GobInt } from "./wire.js";
