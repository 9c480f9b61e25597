export { socialLoginRoutes } from "./routes.js";
export type { SocialLoginDeps } from "./deps.js";
export { loginProviders, type LoginProviderButton } from "./login-providers.js";
export { purgeExpiredUpstreamLogins } from "./pending-logins.js";
export { UpstreamClient, type UpstreamClientOptions } from "./upstream.js";
export { auditIdentities, type AuditedIdentity } from "./identity-audit.js";
