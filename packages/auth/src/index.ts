export {
  getAuth,
  requireAuth,
  setAuth,
  type ApiKeyAuth,
  type AuthInfo,
  type CustomAuth,
  type JwtAuth,
  type MtlsAuth,
  type SubjectAltNames,
} from "./auth-info.js";
export type { AuthEvent, AuthFailure, AuthResult, AuthScheme, AuthSuccess, CredentialSummary } from "./auth-scheme.js";
export { createJwtScheme, DEFAULT_JWT_ALGORITHMS, type JwtOptions } from "./jwt-scheme.js";
export { createApiKeyScheme, type ApiKeyIdentity, type ApiKeyOptions, type StaticApiKey } from "./api-key-scheme.js";
export { createMtlsScheme, type MtlsOptions, type TlsPeerCertificateLike, type TlsPeerLike } from "./mtls-scheme.js";
export type { MethodPattern } from "./method-pattern.js";
export { authenticate, type AuthenticateOptions } from "./authenticate.js";
export { authorize, type AllowSpec, type AuthorizeOptions, type AuthRule } from "./authorize.js";
export { apiKey, bearerToken, type BearerTokenOptions, type TokenResult } from "./client-credentials.js";
