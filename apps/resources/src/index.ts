export { startResourcesServer, type ResourcesServer, type StartOptions } from "./server.js";
export { createContainer, type Container } from "./container.js";
export { operatorContext } from "./testing/operator-context.js";
export { seed } from "./seed.js";
export {
  AccessTokenVerifier,
  type AccessTokenClaims,
  type AccessTokenVerifierOptions,
  type ClientTokenClaims,
  type UserTokenClaims,
} from "./auth/access-token-verifier.js";
export { API_SCOPES, isApiScope } from "./auth/api-scopes.js";
export { USER_STATE_TTL_MS, UserStateCache } from "./auth/user-state.js";
export { findProviderBySlug, listEnabledProviders, ProviderConfigError, type LoginProvider, type ProviderConfig } from "./domains/oauth-provider/index.js";
export { secretContext as oauthClientSecretContext, type OAuthClientSettingsRow } from "./domains/oauth-client/index.js";
