export {
  LoginCodes,
  deriveLoginCodeKey,
  normalizeEmail,
  LOGIN_CODE_EMAIL_LIMIT,
  LOGIN_CODE_IP_LIMIT,
  LOGIN_CODE_MAX_ATTEMPTS,
  LOGIN_CODE_TTL_SECONDS,
  PURGE_GRACE_SECONDS,
  type LoginCodeRequestResult,
  type LoginCodeVerifyResult,
  type LoginCodesDeps,
} from "./login-codes.js";
export { maskEmail } from "./mask-email.js";
