import { createHmac, timingSafeEqual } from "node:crypto";

/** How long a form stays submittable. */
export const CSRF_MAX_AGE_SECONDS = 3600;
// Clock skew between replicas that issued and verify a token.
const FUTURE_SKEW_SECONDS = 60;
const MAC_BYTES = 32;

// Stateless tokens: "<issued-at, base 36 seconds>.<base64url HMAC-SHA256(secret, binding, time)>".
// The binding (an interaction uid or session id) ties a token to one browser's flow, so a token
// from the attacker's own flow is useless in the victim's; the time bounds a leaked token's life.

function mac(secret: Buffer, binding: string, issuedAt: string): Buffer {
  return createHmac("sha256", secret).update(`altalune-csrf\0${issuedAt}\0${binding}`, "utf8").digest();
}

export function issueCsrfToken(secret: Buffer, sessionBinding: string, now: number = Date.now()): string {
  if (sessionBinding === "") throw new Error("a CSRF token needs a non-empty binding (interaction uid or session id)");
  const issuedAt = Math.floor(now / 1000).toString(36);
  return `${issuedAt}.${mac(secret, sessionBinding, issuedAt).toString("base64url")}`;
}

export function verifyCsrfToken(
  secret: Buffer,
  sessionBinding: string,
  token: string | undefined | null,
  now: number = Date.now(),
  maxAgeSeconds: number = CSRF_MAX_AGE_SECONDS,
): boolean {
  if (!token || sessionBinding === "") return false;
  const match = /^([0-9a-z]{1,10})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!match) return false;
  const [, issuedAt = "", given = ""] = match;
  const age = Math.floor(now / 1000) - Number.parseInt(issuedAt, 36);
  if (age > maxAgeSeconds || age < -FUTURE_SKEW_SECONDS) return false;
  const givenMac = Buffer.from(given, "base64url");
  return givenMac.length === MAC_BYTES && timingSafeEqual(givenMac, mac(secret, sessionBinding, issuedAt));
}
