export {
  CancellationSource,
  createJsonRpcDispatcher,
  type Cancellation,
  decodeParams,
  type JsonRpcCall,
  type JsonRpcDispatcher,
  type JsonRpcDispatcherOptions,
  type JsonRpcMode,
} from "./dispatcher.js";
export {
  errorObjectOf,
  INTERNAL_ERROR,
  INVALID_PARAMS,
  INVALID_REQUEST,
  jsonRpcCodeOf,
  METHOD_NOT_FOUND,
  PARSE_ERROR,
  petrelCodeOf,
  rpcErrorOf,
  rpcErrorOfString,
  SERVER_ERROR_BASE,
  type JsonRpcErrorData,
  type JsonRpcErrorObject,
} from "./error-codes.js";
export { JsonSplitError, JsonValueSplitter } from "./json-splitter.js";
export { MethodIndex } from "./method-index.js";
export {
  clientWire,
  decodeResponse,
  encodeRequest,
  methodName,
  responseId,
  type JsonRpcClientWire,
  type JsonRpcMethodNaming,
  type JsonRpcParamStyle,
} from "./client-codec.js";
