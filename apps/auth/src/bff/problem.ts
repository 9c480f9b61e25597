import type { Context } from "koa";

/**
 * RFC 9457 problem details. `type` is stable (clients branch on it); `detail` is for humans.
 */
export type ProblemType =
  | "invalid_request"
  | "unsupported_media_type"
  | "forbidden_origin"
  | "redirect_uri_not_allowed"
  | "token_exchange_failed"
  | "not_authenticated"
  | "refresh_failed"
  | "not_configured"
  | "temporarily_unavailable"
  | "upstream_error"
  | "rate_limited";

export function problem(ctx: Context, status: number, type: ProblemType, detail: string): void {
  ctx.status = status;
  ctx.set("content-type", "application/problem+json");
  ctx.set("cache-control", "no-store");
  ctx.body = problemBody(status, type, detail);
}

export function problemBody(status: number, type: ProblemType, detail: string): string {
  return JSON.stringify({ type: `urn:altalune:bff:${type}`, title: type.replaceAll("_", " "), status, detail });
}
