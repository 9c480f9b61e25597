import { timingSafeEqual } from "node:crypto";
import type { Context, Next } from "koa";
import type { RateLimiter, RateLimitResult } from "./rate-limiter.js";

/** Header the BFF sends with its own token-endpoint calls (value: internalCallerSecret). */
export const INTERNAL_CALLER_HEADER = "x-altalune-internal-caller";
const WINDOW_SECONDS = 60;

export interface EndpointLimitsOptions {
  limiter: Pick<RateLimiter, "hit">;
  /** TOKEN_RATE_LIMIT_PER_MINUTE: hits per (client, address) per minute. */
  perMinute: number;
  /** POST paths counted (token, introspection, revocation). */
  paths: readonly string[];
  /** internalCallerSecret(ENCRYPTION_KEY): the BFF's calls, counted at the BFF instead. */
  internalSecret: string;
}

/** The client id of HTTP Basic client authentication, or undefined (public clients send it in the body). */
function basicClientId(authorization: string | undefined): string | undefined {
  const m = /^basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? "");
  if (!m) return undefined;
  const decoded = Buffer.from(m[1] as string, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon <= 0) return undefined;
  try {
    return decodeURIComponent(decoded.slice(0, colon)).toLowerCase();
  } catch {
    return undefined;
  }
}

function sameSecret(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function refuseRateLimited(ctx: Context, result: RateLimitResult): void {
  ctx.status = 429;
  ctx.set("retry-after", String(result.retryAfterSeconds));
  ctx.set("cache-control", "no-store");
  ctx.body = { error: "rate_limited", error_description: `too many requests; retry after ${result.retryAfterSeconds} seconds` };
}

/**
 * Rate limits of the token, introspection and revocation endpoints, per (client, address) per
 * minute, counted in PostgreSQL so every replica shares them (RateLimiter). The client is the one
 * named by HTTP Basic authentication (the body is oidc-provider's to read); a call without it (a
 * public client) is counted as "no client" on its address. A refused call answers 429 with
 * Retry-After before oidc-provider sees it. Counting happens before authentication, so a wrong
 * secret counts too: guessing is throttled like everything else.
 */
export function endpointLimits(opts: EndpointLimitsOptions) {
  const paths = new Set(opts.paths);
  return async (ctx: Context, next: Next): Promise<void> => {
    if (ctx.method !== "POST" || !paths.has(ctx.path)) return next();
    if (sameSecret(ctx.get(INTERNAL_CALLER_HEADER) || undefined, opts.internalSecret)) return next();
    const client = basicClientId(ctx.get("authorization") || undefined) ?? "(no client)";
    const result = await opts.limiter.hit(`oauth_endpoint:${ctx.path}`, `${client}|${ctx.ip}`, opts.perMinute, WINDOW_SECONDS);
    if (!result.allowed) return refuseRateLimited(ctx, result);
    return next();
  };
}

/** The BFF's token calls, counted by the end user's address at the BFF (same budget per minute). */
export function bffTokenLimit(limiter: Pick<RateLimiter, "hit">, perMinute: number) {
  return (ip: string): Promise<RateLimitResult> => limiter.hit("bff_token", ip, perMinute, WINDOW_SECONDS);
}
