export {
  EmailVerification,
  VERIFICATION_LIMIT,
  VERIFICATION_TTL_HOURS,
  VERIFY_EMAIL_PATH,
  type EmailVerificationDeps,
  type VerificationIssueResult,
  type VerificationResult,
} from "./email-verification.js";
export { verificationUserEvents, type UserCreatedListener } from "./user-events.js";
export {
  CONFIRM_EMAIL_CHANGE_PATH,
  EMAIL_CHANGE_LIMIT,
  EmailChanges,
  type EmailChangeFailure,
  type EmailChangeResult,
  type EmailChangeSendResult,
} from "./email-change.js";
export { LINK_TTL_HOURS, type LinkPurpose } from "./link-tokens.js";
export { emailChangeRoutes, type EmailChangeRouteDeps } from "./routes.js";
