export {
  LoginCodes,
  deriveLoginCodeKey,
  normalizeEmail,
  LOGIN_CODE_DIGITS,
  LOGIN_CODE_EMAIL_LIMIT,
  LOGIN_CODE_FAILURE_LIMIT,
  LOGIN_CODE_INTERACTION_LIMIT,
  LOGIN_CODE_IP_LIMIT,
  LOGIN_CODE_MAX_ATTEMPTS,
  LOGIN_CODE_TTL_SECONDS,
  PURGE_GRACE_SECONDS,
  type LoginCodeCaller,
  type LoginCodeRequestResult,
  type LoginCodeVerifyResult,
  type LoginCodesDeps,
} from "./login-codes.js";
export {
  KnownDevices,
  deriveKnownDeviceKey,
  KNOWN_DEVICE_COOKIE,
  KNOWN_DEVICE_MAX_ADDRESSES,
  KNOWN_DEVICE_MAX_AGE_SECONDS,
  KNOWN_DEVICE_PATH,
} from "./known-device.js";
export { maskEmail } from "./mask-email.js";
