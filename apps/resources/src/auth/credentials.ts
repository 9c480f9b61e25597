import { unauthenticated } from "@altalune/access-tokens";

/** What a request presents as proof of identity, before any of it is verified. */
export type PresentedCredential =
  | { kind: "none" }
  | { kind: "access_token"; token: string; via: "header" | "cookie" }
  | { kind: "api_key"; key: string };

const API_KEY_PREFIX = "sk-";

// Content types a cross-site HTML form (or a "simple" fetch) can send without a CORS preflight.
const SIMPLE_CONTENT_TYPES = new Set(["application/x-www-form-urlencoded", "multipart/form-data", "text/plain"]);

export interface CookiePolicy {
  /** Exact origins (scheme://host[:port]) whose pages may call with the cookie. */
  allowedOrigins: ReadonlySet<string>;
  /** The access-token cookie's name in this mode (`__Secure-` prefixed in production). */
  cookieName: string;
}

function cookieValue(cookieHeader: string, name: string): string | undefined {
  for (const part of cookieHeader.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      return value === "" ? undefined : value;
    }
  }
  return undefined;
}

/**
 * The cookie is sent by the browser on any request to our host, including ones a foreign page
 * triggers. It is accepted only when the request cannot be such a forgery: the content type is
 * not one an HTML form or a preflight-free fetch can produce (or the Connect protocol header is
 * present, which also forces a preflight), and the Origin, when the browser sends one, is allowed.
 */
function refuseForgeableCookieCall(headers: Headers, policy: CookiePolicy): void {
  const contentType = (headers.get("content-type") ?? "").split(";", 1)[0]?.trim().toLowerCase() ?? "";
  const forcedPreflight = headers.has("connect-protocol-version") || (contentType !== "" && !SIMPLE_CONTENT_TYPES.has(contentType));
  if (!forcedPreflight) {
    throw unauthenticated("cookie credentials need a Connect or gRPC content type", "cookie_content_type");
  }
  const origin = headers.get("origin");
  if (origin !== null && !policy.allowedOrigins.has(origin)) {
    throw unauthenticated(`cookie credentials are not accepted from origin ${origin}`, "cookie_origin");
  }
}

/**
 * Reads the credential from the request headers. An Authorization header wins over x-api-key,
 * which wins over the cookie. Throws Unauthenticated for a credential that is present but
 * unusable as sent (unknown scheme, forgeable cookie call).
 */
export function presentedCredential(headers: Headers, policy: CookiePolicy): PresentedCredential {
  const authorization = headers.get("authorization");
  if (authorization !== null) {
    const match = /^bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match === null) throw unauthenticated("Authorization must be 'Bearer <token>'", "unsupported_scheme");
    const token = match[1] as string;
    return token.startsWith(API_KEY_PREFIX) ? { kind: "api_key", key: token } : { kind: "access_token", token, via: "header" };
  }
  const apiKey = headers.get("x-api-key");
  if (apiKey !== null && apiKey.trim() !== "") return { kind: "api_key", key: apiKey.trim() };
  const cookie = headers.get("cookie");
  const token = cookie === null ? undefined : cookieValue(cookie, policy.cookieName);
  if (token !== undefined) {
    refuseForgeableCookieCall(headers, policy);
    return { kind: "access_token", token, via: "cookie" };
  }
  return { kind: "none" };
}
