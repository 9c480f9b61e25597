import { AppError } from "@altalune/core";

/** The 6001x codes: a caller not authenticated, not allowed (the Resources API's authorizer), or not checkable now. */
export const AuthCodes = {
  Unauthenticated: "60010",
  PermissionDenied: "60011",
  KeysUnavailable: "60012",
} as const;

/** Missing, malformed, expired, revoked or untrusted credentials. `reason` is a short stable word. */
export function unauthenticated(message: string, reason: string): AppError {
  return new AppError({ code: AuthCodes.Unauthenticated, status: "unauthenticated", message, meta: { reason } });
}

/** The auth server's keys (or the user state) cannot be read right now: retry later. */
export function authUnavailable(message: string, cause?: unknown): AppError {
  return new AppError({ code: AuthCodes.KeysUnavailable, status: "unavailable", message, cause });
}
