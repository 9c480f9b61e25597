// What the pages say for each error or notice code. Handlers pass codes (often through a
// ?error= query parameter); the words live here, and an unknown code never reaches the page
// as is.

const ERRORS: Record<string, string> = {
  email_required: "Enter your email address.",
  invalid_email: "Enter a valid email address.",
  invalid_code: "That code is not correct. Check the email and try again.",
  expired: "That code has expired. Request a new one.",
  too_many_attempts: "Too many wrong attempts. Request a new code.",
  code_required: "Enter the 8-digit code from the email.",
  // The per-address budget of wrong guesses (same words whether or not the address has an account).
  guess_limit:
    "Too many wrong codes were entered for this address. Signing in with a code is paused in this browser for up to 24 hours; a browser you have signed in with before can still sign in.",
  rate_limited: "Too many requests. Please wait a few minutes and try again.",
  invalid_request: "Something was wrong with that request. Please start again.",
  session_expired: "This page has expired. Please try again.",
  invalid_csrf: "This page has expired. Please try again.",
  access_denied: "Access was denied.",
  account_not_activated: "Your account has not been activated yet.",
  invalid_provider: "That sign-in method is not available.",
  provider_disabled: "That sign-in method is currently disabled.",
  unsupported_provider: "That sign-in method is not supported.",
  invalid_state: "The sign-in attempt could not be verified. Please try again.",
  exchange_failed: "The sign-in provider did not complete the sign-in. Please try again.",
  server_error: "Something went wrong on our side. Please try again.",
};
// LoginCodes.verify's reasons, for handlers that pass them straight through.
ERRORS["invalid"] = ERRORS["invalid_code"]!;

const NOTICES: Record<string, string> = {
  code_sent: "We sent a new code.",
  verification_sent: "We sent you a new verification email.",
  already_verified: "Your email address is already verified.",
  verification_rate_limited: "Too many verification emails. Please wait a few minutes and try again.",
  verification_failed: "We could not send the verification email. Please try again later.",
};

const GENERIC_ERROR = "Something went wrong. Please try again.";

/** The message for an error code; undefined for no code; a generic message for an unknown one. */
export function errorMessage(code: string | undefined | null): string | undefined {
  if (code === undefined || code === null || code === "") return undefined;
  return Object.hasOwn(ERRORS, code) ? ERRORS[code] : GENERIC_ERROR;
}

/** The message for a notice code; undefined for no code or an unknown one. */
export function noticeMessage(code: string | undefined | null): string | undefined {
  if (code === undefined || code === null || code === "") return undefined;
  return Object.hasOwn(NOTICES, code) ? NOTICES[code] : undefined;
}

const SCOPES: Record<string, string> = {
  openid: "Verify your identity",
  profile: "Access your profile information (name)",
  email: "Access your email address",
  offline_access: "Access your data while you're offline",
};

/**
 * Every access token this server issues is a token for the Resources API carrying the user's
 * permissions and memberships, whatever the scopes: the consent page says so.
 */
export const API_ACCESS = { name: "api", description: "Use the API as you, with your permissions and project memberships" } as const;

/** What a scope lets the client do, in the consent page's words; unknown scopes show their name. */
export function describeScope(name: string): string {
  return Object.hasOwn(SCOPES, name) ? SCOPES[name]! : name;
}

export const VERIFY_EMAIL_REASONS: Record<"missing" | "invalid" | "expired_or_used", string> = {
  missing: "The verification link is incomplete. Open the link from the email again.",
  invalid: "This verification link is not valid.",
  expired_or_used: "This verification link has expired or has already been used. Sign in to request a new one.",
};
