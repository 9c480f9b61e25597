export { admission, type AdmissionOptions } from "./admission.js";
export { availability, type AvailabilityOptions } from "./middleware.js";
export {
  forOidcProvider,
  isDatabaseUnavailable,
  oidcCallback,
  OidcTemporarilyUnavailable,
  RETRY_AFTER_SECONDS,
  UNAVAILABLE_DESCRIPTIONS,
  type UnavailableCause,
} from "./unavailable.js";
