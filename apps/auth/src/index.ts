export { startAuthServer, DEFAULT_KEY_POLL_MS, type AuthServer, type StartAuthServerOptions } from "./server.js";
export { ensureSigningKey, rotateSigningKey, loadKeySet, SIGNING_ALG, type KeySet, type SigningKey } from "./provider/signing-keys.js";
export { keyRetentionSeconds, ROUTES } from "./provider/configuration.js";
export { issueAccessToken, parseTtl, type IssuedToken } from "./provider/token-issuer.js";
export { EmailVerification, verificationUserEvents, type UserCreatedListener } from "./email-verification/index.js";
export { createMailer, type Mailer } from "./mail/index.js";
export { RateLimiter } from "./rate-limit/index.js";
export { auditIdentities, type AuditedIdentity } from "./social/index.js";
