export {
  oauthProviderColumns,
  oauthProviderFromRow,
  oauthProviderSecretContext,
  PROVIDER_TYPES,
  type OAuthProvider,
  type OAuthProviderRow,
  type OAuthProviderSettings,
  type ProviderType,
} from "./provider-table.js";
export { callbackPath, type EndpointField, type ResolvedEndpoints } from "./provider-endpoints.js";
export { findProviderBySlug, listEnabledProviders, ProviderConfigError, type LoginProvider, type ProviderConfig } from "./provider-lookup.js";
export {
  oauthClientColumns,
  oauthClientFromRow,
  oauthClientSecretContext,
  oauthClientSettingsColumns,
  type OAuthClient,
  type OAuthClientRow,
  type OAuthClientSettings,
  type OAuthClientSettingsRow,
} from "./client-table.js";
