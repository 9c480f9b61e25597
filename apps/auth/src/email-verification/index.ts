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
