import type { Context } from "koa";
import { RETRY_AFTER_SECONDS } from "../availability/unavailable.js";
import { contentTypeOf, readBody } from "../security/index.js";
import type { BffDeps, BffTokenClient } from "./deps.js";
import { problem } from "./problem.js";

const JSON_MAX_BYTES = 8 * 1024;

export type RequestGuards = ReturnType<typeof requestGuards>;

/** The checks a BFF call passes before it may reach the token endpoint; each answers the problem itself. */
export function requestGuards(deps: Pick<BffDeps, "tokens" | "tokenLimit">, allowedOrigins: ReadonlySet<string>) {
  return {
    /**
     * State-changing calls come from an allowed origin (verified with the standard header, as OWASP
     * recommends; browsers send Origin on every POST) and, when they have a body, it is JSON (a
     * cross-site form can send neither). Refresh and logout need no body: a frontend written for
     * the original posts them empty, so `bodyless` accepts an empty request from an allowed origin.
     */
    stateChange(ctx: Context, opts: { bodyless?: boolean } = {}): boolean {
      const origin = ctx.get("origin");
      if (origin === "" || !allowedOrigins.has(origin)) {
        problem(ctx, 403, "forbidden_origin", origin === "" ? "an Origin header is required" : `origin ${origin} is not allowed`);
        return false;
      }
      const hasBody = (ctx.request.length ?? 0) > 0 || ctx.get("transfer-encoding") !== "";
      if (opts.bodyless === true && !hasBody) return true;
      if (contentTypeOf(ctx) !== "application/json") {
        problem(ctx, 415, "unsupported_media_type", "send application/json");
        return false;
      }
      return true;
    },

    async jsonObject(ctx: Context): Promise<Record<string, unknown> | undefined> {
      let parsed: unknown;
      try {
        parsed = JSON.parse((await readBody(ctx, JSON_MAX_BYTES)).toString("utf8"));
      } catch (e) {
        if (e instanceof SyntaxError) {
          problem(ctx, 400, "invalid_request", "the body is not valid JSON");
          return undefined;
        }
        throw e;
      }
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
        problem(ctx, 400, "invalid_request", "the body must be a JSON object");
        return undefined;
      }
      return parsed as Record<string, unknown>;
    },

    tokens(ctx: Context): BffTokenClient | undefined {
      if (deps.tokens === undefined) problem(ctx, 503, "not_configured", "the dashboard client is not configured on this server");
      return deps.tokens;
    },

    /** Counts this call against the end user's address; answers 429 + Retry-After when spent. */
    async withinTokenLimit(ctx: Context): Promise<boolean> {
      const result = await deps.tokenLimit(ctx.ip);
      if (result.allowed) return true;
      ctx.set("retry-after", String(result.retryAfterSeconds));
      problem(ctx, 429, "rate_limited", `too many sign-in requests; retry after ${result.retryAfterSeconds} seconds`);
      return false;
    },
  };
}

/** The token endpoint cannot answer for now (outage, overload): retry, nothing was decided. */
export function temporarilyUnavailable(ctx: Context): void {
  ctx.set("retry-after", String(RETRY_AFTER_SECONDS));
  problem(ctx, 503, "temporarily_unavailable", "the token endpoint is temporarily unavailable; retry shortly");
}
