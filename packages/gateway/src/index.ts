/**
 * @petrel/gateway: HTTP/JSON transcoding from `google.api.http` annotations (grpc-gateway and
 * Envoy gRPC-JSON transcoder behaviour), in-process or as a proxy, with an OpenAPI 3.1 document.
 */
export { createRestGateway, type RestGatewayOptions } from "./rest-gateway.js";
export { createRestProxy, type RestProxyOptions } from "./rest-proxy.js";
export type { TranscoderOptions } from "./transcoder.js";
export { createOpenApiDocument, type OpenApiInfo } from "./openapi.js";
export { collectRoutes, httpRules, HttpRuleError, type Route } from "./http-rules.js";
export { httpStatusFromCode, statusJson } from "./http-status.js";
export { DEFAULT_FORWARDED_HEADERS, METADATA_HEADER_PREFIX, TRAILER_HEADER_PREFIX } from "./metadata-headers.js";
export {
  matchPathTemplate,
  parsePathTemplate,
  TemplateError,
  type MatchResult,
  type PathBindings,
  type PathTemplate,
  type TemplateSegment,
  type TemplateVariable,
} from "./path-template.js";
